//! What a server-rendered storefront layout is: its URLs, its form field
//! names and its markup. The checkout flow (`flow.rs`) is written once
//! against this trait; each layout (`classic.rs`, `alt.rs`) only says how
//! pages look. That is the point of having two that are deliberately alike:
//! the same store behaviour behind different HTML proves a store
//! definition, not code, is what adapts the purchaser. (The spa layout is
//! the other kind of shop, rendered in the browser; it shares the state and
//! the checkout arithmetic, not this trait.)

use serde::Serialize;

pub use crate::html::esc;

use super::catalog::{Cents, Pack, Product};
use super::checkout::Country;
pub use super::checkout::Line;
use super::state::Order;

/// Route patterns of one layout; `{sku}` and `{order}` are path parameters.
pub struct Paths {
    pub home: &'static str,
    pub signin: &'static str,
    pub account: &'static str,
    pub product: &'static str,
    pub cart_add: &'static str,
    pub cart: &'static str,
    pub cart_empty: &'static str,
    pub checkout: &'static str,
    /// The payment page (GET shows it, POST continues to the review); only
    /// in the flow when the `payment_step` option is on.
    pub payment: &'static str,
    pub review: &'static str,
    pub place: &'static str,
    pub confirmation: &'static str,
    /// The signed-in user's order history.
    pub orders: &'static str,
}

impl Paths {
    pub fn product_of(&self, sku: &str) -> String {
        self.product.replace("{sku}", sku)
    }

    pub fn confirmation_of(&self, order_number: &str) -> String {
        self.confirmation.replace("{order}", order_number)
    }

    /// The sign-in page that sends the browser back to `next` afterwards.
    /// `next` is always one of our own paths, which need no escaping.
    pub fn signin_then(&self, next: &str) -> String {
        format!("{}?next={next}", self.signin)
    }
}

/// Form field names of one layout.
pub struct Fields {
    pub email: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub address: &'static str,
    pub postal_code: &'static str,
    /// The country `<select>`; optional in a post (the default country).
    pub country: &'static str,
    /// The pack-size `<select>` of the add form, and the product page's
    /// query parameter that picks a size (`?pack=16-rolls`).
    pub pack: &'static str,
}

/// A product as a page shows it: current price and stock, faults applied.
pub struct ProductView {
    pub product: &'static Product,
    /// The pack size shown, for products that have them.
    pub pack: Option<&'static Pack>,
    /// The price of what is shown (the chosen pack's, if any).
    pub price: Cents,
    pub in_stock: bool,
    /// Every pack size with its current price, default first (empty for a
    /// product without sizes).
    pub packs: Vec<(&'static Pack, Cents)>,
}

impl ProductView {
    /// The name of what is shown: the chosen pack's full name, if any.
    pub fn name(&self) -> &'static str {
        self.pack.map_or(self.product.name, |p| p.name)
    }
}

/// Shipping details as the review page repeats them.
pub struct ShipTo<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub postal_code: &'a str,
    pub country: &'static Country,
}

/// One storefront look. Methods return the `<main>` body of a page except
/// [`Layout::page`], which wraps a body with the layout's header.
pub trait Layout: Send + Sync + 'static {
    const PATHS: Paths;
    const FIELDS: Fields;

    /// A whole document: `who` is the signed-in email, if any.
    fn page(title: &str, who: Option<&str>, body: &str) -> String;
    fn home(products: &[ProductView]) -> String;
    fn signin(next: &str, failed: bool) -> String;
    fn account(email: &str) -> String;
    fn product(view: &ProductView) -> String;
    fn cart(lines: &[Line]) -> String;
    fn checkout(error: Option<&str>) -> String;
    /// The payment page: a saved card and a Continue.
    fn payment() -> String;
    fn review(lines: &[Line], ship_to: &ShipTo<'_>, total: Cents) -> String;
    fn confirmation(order_number: Option<&str>) -> String;
    /// What the confirmation URL shows under the `hide_confirmation` fault:
    /// a generic error, no confirmation marker, a pointer to the orders.
    fn confirmation_lost() -> String;
    /// The order history, newest first.
    fn orders(orders: &[Order]) -> String;
    /// The body of the 404 page.
    fn not_found() -> String;
}

/// The schema.org Product JSON-LD every layout embeds, as real stores do
/// (the spa gets this text from its API and puts it into the page by
/// script); struct field order keeps the output's key order stable.
pub fn json_ld_text(view: &ProductView) -> String {
    #[derive(Serialize)]
    struct Offer {
        #[serde(rename = "@type")]
        kind: &'static str,
        price: String,
        #[serde(rename = "priceCurrency")]
        currency: &'static str,
        availability: &'static str,
    }
    #[derive(Serialize)]
    struct ProductLd {
        #[serde(rename = "@context")]
        context: &'static str,
        #[serde(rename = "@type")]
        kind: &'static str,
        name: &'static str,
        sku: &'static str,
        offers: Offer,
    }
    let availability = match view.in_stock {
        true => "https://schema.org/InStock",
        false => "https://schema.org/OutOfStock",
    };
    let ld = ProductLd {
        context: "https://schema.org",
        kind: "Product",
        name: view.name(),
        sku: view.product.sku,
        offers: Offer {
            kind: "Offer",
            price: view.price.plain(),
            currency: "EUR",
            availability,
        },
    };
    serde_json::to_string(&ld).unwrap_or_default()
}

/// The JSON-LD block as the server-rendered layouts embed it.
pub fn json_ld(view: &ProductView) -> String {
    // Names are our own; still, never let `</script>` end the block early.
    let json = json_ld_text(view).replace("</", "<\\/");
    format!("<script type=\"application/ld+json\">{json}</script>")
}

/// The `<option>`s of a country select, `selected` the given code.
pub fn country_options(selected: &str) -> String {
    super::checkout::COUNTRIES
        .iter()
        .map(|c| {
            let mark = if c.code == selected { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{mark}>{}</option>",
                c.code,
                esc(c.name)
            )
        })
        .collect()
}

/// The `<option>`s of a pack-size select: each names its size and price
/// (in the layout's money format) and carries `data-price`.
pub fn pack_options(view: &ProductView, money: fn(Cents) -> String) -> String {
    view.packs
        .iter()
        .map(|(pack, price)| {
            let mark = match view.pack {
                Some(chosen) if chosen.id == pack.id => " selected",
                _ => "",
            };
            format!(
                "<option value=\"{}\" data-price=\"{}\"{mark}>{} - {}</option>",
                pack.id,
                price.plain(),
                esc(pack.label),
                money(*price)
            )
        })
        .collect()
}

/// The inline handler that reloads the product page with the chosen size
/// (`?pack=16-rolls`), as shops without client-side rendering do.
pub fn reload_with(param: &str) -> String {
    format!("location.search='{param}='+encodeURIComponent(this.value)")
}

/// A bot-check interstitial. It has no store header on purpose: on real
/// sites it comes from the CDN in front of the store, whatever the layout.
pub fn challenge_page() -> String {
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
     <title>Just a moment...</title></head>\n<body>\n\
     <div id=\"challenge\">Please verify you are a human</div>\n\
     </body></html>\n"
        .into()
}

/// An access-denied block page, likewise served by the "CDN".
pub fn blocked_page() -> String {
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
     <title>Access denied</title></head>\n<body>\n\
     <h1 id=\"access-denied\">Access denied</h1>\n\
     <p>You don't have permission to access this page.</p>\n\
     </body></html>\n"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::catalog;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn json_ld_has_the_offer_in_contract_order() {
        let product = catalog::product("paper-towels").unwrap();
        let view = ProductView {
            product,
            pack: product.default_pack(),
            price: product.price,
            in_stock: true,
            packs: Vec::new(),
        };
        assert!(json_ld(&view).contains(
            r#""offers":{"@type":"Offer","price":"6.49","priceCurrency":"EUR","availability":"https://schema.org/InStock"}"#
        ));
    }
}
