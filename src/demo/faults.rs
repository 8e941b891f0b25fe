//! Faults the demo store can be told to show, so tests can rehearse every
//! way a real store misbehaves without waiting for one to do it.
//!
//! Faults live in scopes: one global set, and one set per sku. A request
//! about a product sees the global set merged with that product's set; a
//! request about a cart or an order sees the global set merged with the sets
//! of every sku in it.
//!
//! Faults reach every layout (classic, alt and the spa's JSON API) the same
//! way; see `flow.rs` and `spa/api.rs` for where each one bites.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::catalog::{self, Cents};

/// A step of the checkout flow that can be told to hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// `GET` of a product page.
    Product,
    /// `POST` add-to-cart.
    Add,
    /// `GET` of the checkout (shipping) page.
    Checkout,
    /// `POST` place-order: the order is recorded, then the answer never comes.
    Place,
    /// `GET` of the confirmation page.
    Confirmation,
}

/// The faults active in one scope (or, merged, for one request).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaultSet {
    pub out_of_stock: bool,
    pub not_found: bool,
    pub price: Option<Cents>,
    pub challenge: bool,
    pub blocked: bool,
    pub hang: Option<Step>,
    pub no_order_number: bool,
    /// Place Order records the order as usual, but the confirmation page
    /// shows a generic "something went wrong" page instead: the order
    /// history is then the only proof it went through.
    pub hide_confirmation: bool,
}

impl FaultSet {
    /// Combines two scopes: a flag set in either holds, and the narrower
    /// scope's (`other`'s) price and hang win.
    fn merged(&self, other: &FaultSet) -> FaultSet {
        FaultSet {
            out_of_stock: self.out_of_stock || other.out_of_stock,
            not_found: self.not_found || other.not_found,
            price: other.price.or(self.price),
            challenge: self.challenge || other.challenge,
            blocked: self.blocked || other.blocked,
            hang: other.hang.or(self.hang),
            no_order_number: self.no_order_number || other.no_order_number,
            hide_confirmation: self.hide_confirmation || other.hide_confirmation,
        }
    }

    /// True when this set says the given step must hang.
    pub fn hangs_at(&self, step: Step) -> bool {
        self.hang == Some(step)
    }
}

/// Body of `POST /admin/faults`: every field optional, merged into the
/// current set of its scope. Unknown fields are refused so a typo in a test
/// fails loudly instead of silently injecting nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPatch {
    pub sku: Option<String>,
    pub out_of_stock: Option<bool>,
    pub not_found: Option<bool>,
    /// `"9.99"` sets the price; `null` restores the catalog price.
    #[serde(default, deserialize_with = "present")]
    pub price: Option<Option<String>>,
    pub challenge: Option<bool>,
    pub blocked: Option<bool>,
    /// A step sets the hang; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub hang: Option<Option<Step>>,
    pub no_order_number: Option<bool>,
    pub hide_confirmation: Option<bool>,
}

/// Tells "field absent" (outer `None`) from "field is `null`" (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Why a fault patch was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultError {
    #[error("unknown sku {0:?}")]
    UnknownSku(String),
    #[error("invalid price {0:?}: expected a decimal such as \"9.99\"")]
    BadPrice(String),
}

/// All faults: the global scope and the per-sku scopes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Faults {
    pub global: FaultSet,
    pub skus: BTreeMap<String, FaultSet>,
}

impl Faults {
    /// Merges a patch into its scope; validates before changing anything.
    pub fn apply(&mut self, patch: FaultPatch) -> Result<(), FaultError> {
        let price = match &patch.price {
            Some(Some(text)) => Some(Some(
                Cents::parse(text).ok_or_else(|| FaultError::BadPrice(text.clone()))?,
            )),
            Some(None) => Some(None),
            None => None,
        };
        let set = match &patch.sku {
            None => &mut self.global,
            Some(sku) if catalog::product(sku).is_some() => {
                self.skus.entry(sku.clone()).or_default()
            }
            Some(sku) => return Err(FaultError::UnknownSku(sku.clone())),
        };
        set.out_of_stock = patch.out_of_stock.unwrap_or(set.out_of_stock);
        set.not_found = patch.not_found.unwrap_or(set.not_found);
        set.price = price.unwrap_or(set.price);
        set.challenge = patch.challenge.unwrap_or(set.challenge);
        set.blocked = patch.blocked.unwrap_or(set.blocked);
        set.hang = patch.hang.unwrap_or(set.hang);
        set.no_order_number = patch.no_order_number.unwrap_or(set.no_order_number);
        set.hide_confirmation = patch.hide_confirmation.unwrap_or(set.hide_confirmation);
        Ok(())
    }

    /// The faults a request about one product sees.
    pub fn for_sku(&self, sku: &str) -> FaultSet {
        self.for_skus([sku])
    }

    /// The faults a request about a cart or order holding `skus` sees.
    pub fn for_skus<'a>(&self, skus: impl IntoIterator<Item = &'a str>) -> FaultSet {
        skus.into_iter()
            .filter_map(|sku| self.skus.get(sku))
            .fold(self.global.clone(), |acc, set| acc.merged(set))
    }

    /// The price the store currently charges for `product` (its default
    /// pack, if it has packs).
    pub fn price_of(&self, product: &catalog::Product) -> Cents {
        self.for_sku(product.sku).price.unwrap_or(product.price)
    }

    /// The price of one pack of `product`. A price fault moves the default
    /// pack only (the price the product page first shows); other sizes keep
    /// their catalog prices.
    pub fn price_for(&self, product: &catalog::Product, pack: Option<&catalog::Pack>) -> Cents {
        match pack {
            Some(pack) if !product.is_default(Some(pack)) => pack.price,
            _ => self.price_of(product),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> FaultPatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn patches_merge_into_their_scope() {
        let mut f = Faults::default();
        f.apply(patch(r#"{"sku":"dish-soap","price":"9.99","hang":"add"}"#))
            .unwrap();
        f.apply(patch(r#"{"sku":"dish-soap","out_of_stock":true}"#))
            .unwrap();
        let soap = f.for_sku("dish-soap");
        assert_eq!(
            (soap.price, soap.hang, soap.out_of_stock),
            (Some(Cents(999)), Some(Step::Add), true)
        );
        assert_eq!(f.for_sku("coffee-beans"), FaultSet::default());
        f.apply(patch(r#"{"sku":"dish-soap","price":null,"hang":null}"#))
            .unwrap();
        assert_eq!(
            (f.for_sku("dish-soap").price, f.for_sku("dish-soap").hang),
            (None, None)
        );
    }

    #[test]
    fn global_scope_reaches_every_sku() {
        let mut f = Faults::default();
        f.apply(patch(r#"{"no_order_number":true}"#)).unwrap();
        assert!(f.for_skus(["dish-soap", "coffee-beans"]).no_order_number);
        assert!(f.for_skus([]).no_order_number);
    }

    #[test]
    fn a_price_fault_moves_the_default_pack_only() {
        let mut f = Faults::default();
        f.apply(patch(r#"{"sku":"paper-towels","price":"5.00"}"#))
            .unwrap();
        let towels = catalog::product("paper-towels").unwrap();
        let [eight, sixteen, _] = towels.packs else {
            panic!("paper towels have three packs")
        };
        assert_eq!(f.price_for(towels, Some(eight)), Cents(500));
        assert_eq!(f.price_for(towels, Some(sixteen)), Cents(1199));
        assert_eq!(f.price_for(towels, None), Cents(500));
    }

    #[test]
    fn bad_patches_change_nothing() {
        let mut f = Faults::default();
        let err = f
            .apply(patch(r#"{"sku":"caviar","blocked":true}"#))
            .unwrap_err();
        assert_eq!(err, FaultError::UnknownSku("caviar".into()));
        let err = f
            .apply(patch(r#"{"blocked":true,"price":"cheap"}"#))
            .unwrap_err();
        assert_eq!(err, FaultError::BadPrice("cheap".into()));
        assert_eq!(f, Faults::default());
        assert!(serde_json::from_str::<FaultPatch>(r#"{"blockd":true}"#).is_err());
    }
}
