//! The demo catalog and money.
//!
//! Products are a data table, not code: adding a product is adding a row.
//! Money is integer euro cents so totals never pick up floating-point
//! rounding; it is only turned into text at the edges (HTML, JSON, ledger).
//!
//! A product may come in pack sizes ([`Pack`]), as paper towels do on real
//! shops: one product page, a size `<select>`, a different price per size.
//! The first pack is the default and carries the product's own name and
//! price, so a client that never picks a size buys exactly what it bought
//! before packs existed.

/// One product the demo store sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    pub price: Cents,
    /// Pack sizes, default first; empty for a product sold one way only.
    pub packs: &'static [Pack],
}

/// One pack size of a product: its own id (the form value and the ledger's
/// `variant`), the label the size `<select>` shows, the full name cart and
/// order lines show, and its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pack {
    pub id: &'static str,
    pub label: &'static str,
    pub name: &'static str,
    pub price: Cents,
}

/// Why a pack size named in a request is not one the product has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{sku} has no pack size {pack:?}")]
pub struct UnknownPack {
    pub sku: &'static str,
    pub pack: String,
}

impl Product {
    /// The default pack (the first), if the product has pack sizes.
    pub fn default_pack(&self) -> Option<&'static Pack> {
        self.packs.first()
    }

    /// The pack a request names: blank or missing means the default; a
    /// product without packs only accepts blank.
    pub fn pack(&self, id: Option<&str>) -> Result<Option<&'static Pack>, UnknownPack> {
        match id.map(str::trim).filter(|id| !id.is_empty()) {
            None => Ok(self.default_pack()),
            Some(id) => match self.packs.iter().find(|p| p.id == id) {
                Some(pack) => Ok(Some(pack)),
                None => Err(UnknownPack {
                    sku: self.sku,
                    pack: id.to_owned(),
                }),
            },
        }
    }

    /// True when `pack` is the product's default (or it has none).
    pub fn is_default(&self, pack: Option<&Pack>) -> bool {
        match (pack, self.default_pack()) {
            (Some(p), Some(d)) => p.id == d.id,
            _ => true,
        }
    }
}

/// The pack sizes of paper towels: the default is the catalog row.
const PAPER_TOWEL_PACKS: &[Pack] = &[
    Pack {
        id: "8-rolls",
        label: "8 rolls",
        name: "Paper towels, 8 rolls",
        price: Cents(649),
    },
    Pack {
        id: "16-rolls",
        label: "16 rolls",
        name: "Paper towels, 16 rolls",
        price: Cents(1199),
    },
    Pack {
        id: "24-rolls",
        label: "24 rolls",
        name: "Paper towels, 24 rolls",
        price: Cents(1649),
    },
];

/// The protection plan the spa layout's interstitial offers. It is not in
/// [`PRODUCTS`] (nobody can add it by sku); it only reaches an order when
/// someone presses "accept" on the offer, which a purchaser never should.
pub const PROTECTION_PLAN: Product = Product {
    sku: "protection-plan",
    name: "Protection plan, 2 years",
    price: Cents(499),
    packs: &[],
};

/// Everything the store sells, in the order the home page lists it.
pub const PRODUCTS: &[Product] = &[
    Product {
        sku: "paper-towels",
        name: "Paper towels, 8 rolls",
        price: Cents(649),
        packs: PAPER_TOWEL_PACKS,
    },
    Product {
        sku: "dish-soap",
        name: "Dish soap, 750 ml",
        price: Cents(329),
        packs: &[],
    },
    Product {
        sku: "coffee-beans",
        name: "Coffee beans, 1 kg",
        price: Cents(1190),
        packs: &[],
    },
    Product {
        sku: "toilet-paper",
        name: "Toilet paper, 24 rolls",
        price: Cents(899),
        packs: &[],
    },
    Product {
        sku: "laundry-pods",
        name: "Laundry pods, 40",
        price: Cents(1450),
        packs: &[],
    },
];

/// Looks a product up by its sku.
pub fn product(sku: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.sku == sku)
}

/// An amount of money in euro cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cents(pub u64);

impl Cents {
    /// Parses a plain decimal amount such as `"9.99"`, `"9.9"` or `"9"`.
    ///
    /// Used for the admin API's price fault; rejects anything with more than
    /// two decimals rather than silently rounding a test's intent away.
    pub fn parse(text: &str) -> Option<Cents> {
        let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || frac.len() > 2 || !(frac.is_empty() || digits(frac)) {
            return None;
        }
        let frac_cents: u64 = format!("{frac:0<2}").parse().ok()?;
        whole
            .parse::<u64>()
            .ok()?
            .checked_mul(100)?
            .checked_add(frac_cents)
            .map(Cents)
    }

    /// `"6.49"`: the machine form used in `data-price`, JSON-LD and the ledger.
    pub fn plain(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }

    /// `"€6.49"`: how the classic layout shows money.
    pub fn euro(self) -> String {
        format!("€{}", self.plain())
    }

    /// `"EUR 6,49"`: how the alt layout shows money (comma decimal), so a
    /// store definition has to cope with a second price format.
    pub fn eur_comma(self) -> String {
        format!("EUR {},{:02}", self.0 / 100, self.0 % 100)
    }

    /// Price times quantity.
    pub fn times(self, qty: u32) -> Cents {
        Cents(self.0 * u64::from(qty))
    }
}

/// Serialized as the plain string (`"6.49"`), never as a float, so JSON
/// readers see exactly what the pages show.
impl serde::Serialize for Cents {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.plain())
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        Cents(iter.map(|c| c.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_money() {
        assert_eq!(Cents::parse("9.99"), Some(Cents(999)));
        assert_eq!(Cents::parse("9.9"), Some(Cents(990)));
        assert_eq!(Cents::parse("9"), Some(Cents(900)));
        assert_eq!(Cents::parse("9.999"), None);
        assert_eq!(Cents::parse("-1"), None);
        assert_eq!(Cents::parse("abc"), None);
        assert_eq!(Cents::parse(".5"), None);
        assert_eq!(Cents(649).euro(), "€6.49");
        assert_eq!(Cents(1298).plain(), "12.98");
        assert_eq!(Cents(649).eur_comma(), "EUR 6,49");
        assert_eq!(Cents(5).plain(), "0.05");
    }

    #[test]
    fn the_default_pack_is_the_catalog_row() {
        for p in PRODUCTS {
            if let Some(pack) = p.default_pack() {
                assert_eq!((pack.name, pack.price), (p.name, p.price), "{}", p.sku);
            }
            for (i, pack) in p.packs.iter().enumerate() {
                assert!(p.packs[i + 1..].iter().all(|q| q.id != pack.id));
            }
        }
        let towels = product("paper-towels").unwrap();
        assert_eq!(towels.pack(None).unwrap().unwrap().id, "8-rolls");
        assert_eq!(towels.pack(Some(" ")).unwrap().unwrap().id, "8-rolls");
        assert_eq!(
            towels.pack(Some("16-rolls")).unwrap().unwrap().price,
            Cents(1199)
        );
        assert!(towels.pack(Some("99-rolls")).is_err());
        let soap = product("dish-soap").unwrap();
        assert_eq!(soap.pack(None), Ok(None));
        assert!(soap.pack(Some("8-rolls")).is_err());
    }

    #[test]
    fn every_sku_is_unique() {
        for (i, p) in PRODUCTS.iter().enumerate() {
            assert!(
                PRODUCTS[i + 1..].iter().all(|q| q.sku != p.sku),
                "{}",
                p.sku
            );
        }
    }
}
