//! The demo catalog and money.
//!
//! Products are a data table, not code: adding a product is adding a row.
//! Money is integer euro cents so totals never pick up floating-point
//! rounding; it is only turned into text at the edges (HTML, JSON, ledger).

/// One product the demo store sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    pub price: Cents,
}

/// Everything the store sells, in the order the home page lists it.
pub const PRODUCTS: &[Product] = &[
    Product {
        sku: "paper-towels",
        name: "Paper towels, 8 rolls",
        price: Cents(649),
    },
    Product {
        sku: "dish-soap",
        name: "Dish soap, 750 ml",
        price: Cents(329),
    },
    Product {
        sku: "coffee-beans",
        name: "Coffee beans, 1 kg",
        price: Cents(1190),
    },
    Product {
        sku: "toilet-paper",
        name: "Toilet paper, 24 rolls",
        price: Cents(899),
    },
    Product {
        sku: "laundry-pods",
        name: "Laundry pods, 40",
        price: Cents(1450),
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
