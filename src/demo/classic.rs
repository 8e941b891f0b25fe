//! The "classic" layout, mounted at `/`: every element the purchaser needs
//! has a stable `id`. The built-in `demo` store definition relies on these
//! exact ids, so treat them as a published contract.
//!
//! Classic and alt (`alt.rs`) are deliberately alike: the same pages, flow
//! and faults (one `flow.rs`), different URLs, field names and markup.
//!
//! Stable ids and classes, by page:
//! - header: `#home-link`, `#cart-link`, `#signin-link` (signed out),
//!   `#account-name` (signed in)
//! - sign-in: `#signin-form`, `#email`, `#password`, `#signin-submit`,
//!   `#signin-error`
//! - account: `#account`, `#orders-link`
//! - product: `#product-title`, `#price` (`data-price`), JSON-LD,
//!   `#in-stock` / `#out-of-stock`, `#add-form`, `#pack` (pack-size select,
//!   products with sizes only; reloads with `?pack=`), `#qty`,
//!   `#add-to-cart`
//! - cart: `#cart-items` of `li.cart-item` (`data-sku`, `data-qty`),
//!   `#cart-empty`, `#empty-cart`, `#checkout`
//! - address: `#shipping-form`, `#ship-name`, `#ship-address`,
//!   `#ship-postal`, `#ship-country` (select, default Germany),
//!   `#form-error`, `#continue`
//! - payment (`payment_step` option): `#payment-form`, `#saved-card`,
//!   `#payment-continue`
//! - review: `#review-items` of `li.review-item`, `#ship-to`,
//!   `#order-total` (`data-total`), `#place-order`
//! - confirmation: `#confirmation`, `#order-number`; under the
//!   `hide_confirmation` fault instead `#order-problem` and `#orders-link`
//! - orders (`/orders`): `#orders` table of `tr.order-row` (`data-order`)
//!   with `td.order-id`, `td.order-date` (`2 Dec 2026, 11:42`, UTC),
//!   `td.order-total` (`€12.98`), `td.order-items` holding `li.order-item`
//!   (`data-sku`, `data-qty`, text `NAME × QTY`); `#orders-empty`
//! - 404: `#not-found`

use super::catalog::Cents;
use super::checkout::human_date;
use super::layout::{
    country_options, esc, json_ld, pack_options, reload_with, Fields, Layout, Line, Paths,
    ProductView, ShipTo,
};
use super::state::Order;

/// The classic layout (see the module docs).
pub struct Classic;

impl Layout for Classic {
    const PATHS: Paths = Paths {
        home: "/",
        signin: "/signin",
        account: "/account",
        product: "/product/{sku}",
        cart_add: "/cart/add",
        cart: "/cart",
        cart_empty: "/cart/empty",
        checkout: "/checkout",
        payment: "/payment",
        review: "/review",
        place: "/place",
        confirmation: "/confirmation/{order}",
        orders: "/orders",
    };
    const FIELDS: Fields = Fields {
        email: "email",
        password: "password",
        name: "name",
        address: "address",
        postal_code: "postal_code",
        country: "country",
        pack: "pack",
    };

    fn page(title: &str, who: Option<&str>, body: &str) -> String {
        let who = match who {
            Some(email) => format!(
                "<span id=\"account-name\">Signed in as {}</span>",
                esc(email)
            ),
            None => "<a id=\"signin-link\" href=\"/signin\">Sign in</a>".into(),
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{} - Demo Store</title></head>\n<body>\n\
             <header><a id=\"home-link\" href=\"/\">Demo Store</a> {who} \
             <a id=\"cart-link\" href=\"/cart\">Cart</a></header>\n\
             <main>\n{body}\n</main>\n</body></html>\n",
            esc(title)
        )
    }

    fn home(products: &[ProductView]) -> String {
        let items: String = products
            .iter()
            .map(|v| {
                format!(
                    "<li><a class=\"product-link\" href=\"/product/{}\">{}</a> {}</li>\n",
                    v.product.sku,
                    esc(v.product.name),
                    v.price.euro()
                )
            })
            .collect();
        format!("<h1>Household staples</h1>\n<ul id=\"products\">\n{items}</ul>")
    }

    fn signin(next: &str, failed: bool) -> String {
        let error = if failed {
            "<p id=\"signin-error\">Wrong email or password</p>\n"
        } else {
            ""
        };
        format!(
            "<h1>Sign in</h1>\n{error}\
             <form id=\"signin-form\" method=\"post\" action=\"/signin\">\n\
             <input type=\"hidden\" name=\"next\" value=\"{}\">\n\
             <label>Email <input id=\"email\" name=\"email\"></label>\n\
             <label>Password <input id=\"password\" name=\"password\" type=\"password\"></label>\n\
             <button id=\"signin-submit\" type=\"submit\">Sign in</button>\n</form>",
            esc(next)
        )
    }

    fn account(email: &str) -> String {
        format!(
            "<h1 id=\"account\">Your account</h1>\n<p>Email: {}</p>\n\
             <p><a id=\"orders-link\" href=\"/orders\">Your orders</a></p>",
            esc(email)
        )
    }

    fn product(view: &ProductView) -> String {
        let p = view.product;
        let packs = match view.packs.is_empty() {
            true => String::new(),
            false => format!(
                "<label>Pack size <select id=\"pack\" name=\"pack\" onchange=\"{}\">{}</select></label>\n",
                reload_with("pack"),
                pack_options(view, Cents::euro)
            ),
        };
        let buy = if view.in_stock {
            format!(
                "<div id=\"in-stock\">In stock</div>\n\
                 <form id=\"add-form\" method=\"post\" action=\"/cart/add\">\n\
                 <input type=\"hidden\" name=\"sku\" value=\"{}\">\n{packs}\
                 <label>Quantity <input id=\"qty\" name=\"qty\" type=\"number\" value=\"1\"></label>\n\
                 <button id=\"add-to-cart\" type=\"submit\">Add to cart</button>\n</form>",
                p.sku
            )
        } else {
            "<div id=\"out-of-stock\">Currently unavailable</div>".into()
        };
        format!(
            "<h1 id=\"product-title\">{}</h1>\n{}\n\
             <p><span id=\"price\" data-price=\"{}\">{}</span></p>\n{buy}",
            esc(view.name()),
            json_ld(view),
            view.price.plain(),
            view.price.euro()
        )
    }

    fn cart(lines: &[Line]) -> String {
        if lines.is_empty() {
            return "<h1>Your cart</h1>\n<p id=\"cart-empty\">Your cart is empty</p>".into();
        }
        format!(
            "<h1>Your cart</h1>\n<ul id=\"cart-items\">\n{}</ul>\n\
             <form method=\"post\" action=\"/cart/empty\">\
             <button id=\"empty-cart\" type=\"submit\">Empty cart</button></form>\n\
             <a id=\"checkout\" href=\"/checkout\">Checkout</a>",
            item_list("cart-item", lines, false)
        )
    }

    fn checkout(error: Option<&str>) -> String {
        let error = error
            .map(|e| format!("<p id=\"form-error\">{}</p>\n", esc(e)))
            .unwrap_or_default();
        format!(
            "<h1>Shipping</h1>\n{error}\
             <form id=\"shipping-form\" method=\"post\" action=\"/checkout\">\n\
             <label>Name <input id=\"ship-name\" name=\"name\"></label>\n\
             <label>Address <input id=\"ship-address\" name=\"address\"></label>\n\
             <label>Postal code <input id=\"ship-postal\" name=\"postal_code\"></label>\n\
             <label>Country <select id=\"ship-country\" name=\"country\">{}</select></label>\n\
             <button id=\"continue\" type=\"submit\">Continue to review</button>\n</form>",
            country_options(super::checkout::DEFAULT_COUNTRY.code)
        )
    }

    fn payment() -> String {
        "<h1>Payment</h1>\n\
         <form id=\"payment-form\" method=\"post\" action=\"/payment\">\n\
         <label><input type=\"radio\" name=\"card\" value=\"saved\" checked> \
         <span id=\"saved-card\">Pay with saved card •••• 4242</span></label>\n\
         <button id=\"payment-continue\" type=\"submit\">Continue</button>\n</form>"
            .into()
    }

    fn review(lines: &[Line], ship_to: &ShipTo<'_>, total: Cents) -> String {
        format!(
            "<h1>Review your order</h1>\n<ul id=\"review-items\">\n{}</ul>\n\
             <p id=\"ship-to\">Ship to: {}, {}, {}, {}</p>\n\
             <p>Total: <span id=\"order-total\" data-total=\"{}\">{}</span></p>\n\
             <form method=\"post\" action=\"/place\">\
             <button id=\"place-order\" type=\"submit\">Place order</button></form>",
            item_list("review-item", lines, true),
            esc(ship_to.name),
            esc(ship_to.address),
            esc(ship_to.postal_code),
            esc(ship_to.country.name),
            total.plain(),
            total.euro()
        )
    }

    fn confirmation(order_number: Option<&str>) -> String {
        let number = match order_number {
            Some(n) => format!(
                "<p>Order number: <span id=\"order-number\">{}</span></p>",
                esc(n)
            ),
            None => "<p>We have received your order.</p>".into(),
        };
        format!("<h1 id=\"confirmation\">Thank you for your order</h1>\n{number}")
    }

    fn confirmation_lost() -> String {
        "<h1 id=\"order-problem\">Something went wrong, please check your orders</h1>\n\
         <p>We could not show your confirmation. \
         <a id=\"orders-link\" href=\"/orders\">Your orders</a></p>"
            .into()
    }

    fn orders(orders: &[Order]) -> String {
        if orders.is_empty() {
            return "<h1>Your orders</h1>\n<p id=\"orders-empty\">You have not placed any orders yet</p>"
                .into();
        }
        let rows: String = orders
            .iter()
            .map(|o| {
                format!(
                    "<tr class=\"order-row\" data-order=\"{n}\"><td class=\"order-id\">{n}</td>\
                     <td class=\"order-date\">{}</td><td class=\"order-total\">{}</td>\
                     <td class=\"order-items\"><ul>{}</ul></td></tr>\n",
                    human_date(&o.placed_at),
                    o.bill.total.euro(),
                    item_list("order-item", &o.bill.lines, false).trim_end(),
                    n = esc(&o.number),
                )
            })
            .collect();
        format!(
            "<h1>Your orders</h1>\n<table id=\"orders\">\n\
             <tr><th>Order</th><th>Date</th><th>Total</th><th>Items</th></tr>\n{rows}</table>"
        )
    }

    fn not_found() -> String {
        "<h1 id=\"not-found\">Page not found</h1>\n<p>We could not find that page.</p>".into()
    }
}

/// `<li>` lines for the cart (`NAME × N`) and, with prices, the review.
fn item_list(class: &str, lines: &[Line], with_price: bool) -> String {
    lines
        .iter()
        .map(|l| {
            let price = if with_price {
                format!(" - {}", l.price.euro())
            } else {
                String::new()
            };
            format!(
                "<li class=\"{class}\" data-sku=\"{}\" data-qty=\"{}\">{} × {}{price}</li>\n",
                l.product.sku,
                l.qty,
                esc(l.name()),
                l.qty
            )
        })
        .collect()
}
