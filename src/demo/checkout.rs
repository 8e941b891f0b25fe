//! What checkout adds up: priced lines, countries, shipping methods, the
//! bill (items, shipping, tax included, total) and how dates read in the
//! order history. Data tables rather than branches, shared by every layout.

use chrono::{DateTime, Utc};

use super::catalog::{Cents, Pack, Product};
use super::faults::Faults;
use super::state::CartLine;

/// A cart or order line at the price it is (or was) charged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub product: &'static Product,
    /// The chosen pack size, for products that have them.
    pub pack: Option<&'static Pack>,
    pub qty: u32,
    /// Unit price.
    pub price: Cents,
}

impl Line {
    /// The name a cart or order shows: the pack's full name if there is one.
    pub fn name(&self) -> &'static str {
        self.pack.map_or(self.product.name, |p| p.name)
    }

    /// Price times quantity.
    pub fn amount(&self) -> Cents {
        self.price.times(self.qty)
    }
}

/// Cart lines at the prices the store charges now (faults applied).
pub fn priced(cart: &[CartLine], faults: &Faults) -> Vec<Line> {
    cart.iter()
        .map(|l| Line {
            product: l.product,
            pack: l.pack,
            qty: l.qty,
            price: faults.price_for(l.product, l.pack),
        })
        .collect()
}

/// [`priced`], plus the protection plan when the buyer took it (the spa's
/// interstitial; a purchaser never should).
pub fn priced_with_protection(cart: &[CartLine], faults: &Faults, protection: bool) -> Vec<Line> {
    let mut lines = priced(cart, faults);
    if protection {
        lines.push(Line {
            product: &super::catalog::PROTECTION_PLAN,
            pack: None,
            qty: 1,
            price: super::catalog::PROTECTION_PLAN.price,
        });
    }
    lines
}

/// A country the address forms offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2: the form value and the ledger's `country`.
    pub code: &'static str,
    pub name: &'static str,
}

/// Countries the store ships to, in the order the `<select>` lists them.
pub const COUNTRIES: &[Country] = &[
    Country {
        code: "DE",
        name: "Germany",
    },
    Country {
        code: "AT",
        name: "Austria",
    },
    Country {
        code: "FR",
        name: "France",
    },
    Country {
        code: "NL",
        name: "Netherlands",
    },
    Country {
        code: "GB",
        name: "United Kingdom",
    },
    Country {
        code: "US",
        name: "United States",
    },
];

/// The country a server-rendered form assumes when none is sent (forms
/// from before the country select existed).
pub const DEFAULT_COUNTRY: &Country = &COUNTRIES[0];

/// Looks a country up by its code.
pub fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code == code)
}

/// A way to ship an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippingMethod {
    pub id: &'static str,
    pub label: &'static str,
    pub fee: Cents,
}

/// Shipping methods, the default (and the only one when the store offers
/// no choice) first.
pub const SHIPPING_METHODS: &[ShippingMethod] = &[
    ShippingMethod {
        id: "standard",
        label: "Standard delivery, 3-5 days",
        fee: Cents(0),
    },
    ShippingMethod {
        id: "express",
        label: "Express delivery, next day",
        fee: Cents(499),
    },
];

/// The method used when the store offers no choice.
pub const FIXED_SHIPPING: &ShippingMethod = &SHIPPING_METHODS[0];

/// Looks a shipping method up by its id.
pub fn shipping_method(id: &str) -> Option<&'static ShippingMethod> {
    SHIPPING_METHODS.iter().find(|m| m.id == id)
}

/// VAT included in every price, in percent (as on European receipts).
pub const VAT_PERCENT: u64 = 19;

/// What an order costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub lines: Vec<Line>,
    /// `None` for layouts whose checkout has no shipping method.
    pub shipping: Option<&'static ShippingMethod>,
    /// Lines plus the shipping fee: what is charged.
    pub total: Cents,
}

impl Bill {
    pub fn new(lines: Vec<Line>, shipping: Option<&'static ShippingMethod>) -> Bill {
        let goods: Cents = lines.iter().map(Line::amount).sum();
        let fee = shipping.map_or(Cents(0), |m| m.fee);
        Bill {
            lines,
            shipping,
            total: Cents(goods.0 + fee.0),
        }
    }

    /// How many items: the quantities of catalog lines summed (a protection
    /// plan is a service, not an item).
    pub fn items(&self) -> u32 {
        self.lines
            .iter()
            .filter(|l| l.product.sku != super::catalog::PROTECTION_PLAN.sku)
            .map(|l| l.qty)
            .sum()
    }

    /// The VAT share included in the total, rounded to the nearest cent.
    pub fn tax(&self) -> Cents {
        Cents((self.total.0 * VAT_PERCENT + (100 + VAT_PERCENT) / 2) / (100 + VAT_PERCENT))
    }

    /// `Total (2 items): €32.39, incl. €5.17 tax` — the total a review page
    /// shows among other numbers, so a reader must find the right one.
    pub fn total_text(&self) -> String {
        let items = self.items();
        let noun = if items == 1 { "item" } else { "items" };
        format!(
            "Total ({items} {noun}): {}, incl. {} tax",
            self.total.euro(),
            self.tax().euro()
        )
    }
}

/// `2 Dec 2026, 11:42`: an order date as a person reads it (UTC).
pub fn human_date(at: &DateTime<Utc>) -> String {
    at.format("%-d %b %Y, %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::catalog;

    fn line(sku: &str, qty: u32) -> Line {
        let product = catalog::product(sku).unwrap();
        Line {
            product,
            pack: product.default_pack(),
            qty,
            price: product.price,
        }
    }

    #[test]
    fn the_bill_counts_items_and_includes_tax_and_shipping() {
        let bill = Bill::new(
            vec![line("paper-towels", 2), line("dish-soap", 1)],
            shipping_method("express"),
        );
        assert_eq!(bill.total, Cents(649 * 2 + 329 + 499));
        assert_eq!(bill.items(), 3);
        // 21.26 incl. 19 % VAT: 21.26 * 19 / 119 = 3.394...
        assert_eq!(bill.tax(), Cents(339));
        assert_eq!(
            bill.total_text(),
            "Total (3 items): €21.26, incl. €3.39 tax"
        );
        let one = Bill::new(vec![line("dish-soap", 1)], None);
        assert_eq!(one.total_text(), "Total (1 item): €3.29, incl. €0.53 tax");
        assert_eq!(line("paper-towels", 1).name(), "Paper towels, 8 rolls");
    }

    #[test]
    fn dates_read_like_a_person_writes_them() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T11:42:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(human_date(&at), "2 Dec 2026, 11:42");
    }

    #[test]
    fn defaults_come_first() {
        assert_eq!(DEFAULT_COUNTRY.code, "DE");
        assert_eq!(FIXED_SHIPPING.fee, Cents(0));
        assert_eq!(country("FR").map(|c| c.name), Some("France"));
        assert_eq!(shipping_method("teleport"), None);
    }
}
