//! The "alt" layout, mounted at `/alt/`: the same store (sessions, carts,
//! ledger, faults) behind different URLs and markup — classes and `name`
//! attributes instead of ids, and prices written `EUR 6,49`. It exists so a
//! test can prove that a second store definition drives a store the code
//! has never seen, without code changes.

use super::catalog::Cents;
use super::layout::{esc, json_ld, Fields, Layout, Line, Paths, ProductView, ShipTo};

/// The alt layout (see the module docs).
pub struct Alt;

impl Layout for Alt {
    const PATHS: Paths = Paths {
        home: "/alt/",
        signin: "/alt/login",
        account: "/alt/account",
        product: "/alt/item/{sku}",
        cart_add: "/alt/basket/add",
        cart: "/alt/basket",
        cart_empty: "/alt/basket/clear",
        checkout: "/alt/pay",
        review: "/alt/summary",
        place: "/alt/order",
        confirmation: "/alt/done/{order}",
    };
    const FIELDS: Fields = Fields {
        email: "user",
        password: "pass",
        name: "fullname",
        address: "street",
        postal_code: "zip",
    };

    fn page(title: &str, who: Option<&str>, body: &str) -> String {
        let who = match who {
            Some(email) => format!("<span class=\"who\">Logged in: {}</span>", esc(email)),
            None => "<a class=\"login-link\" href=\"/alt/login\">Log in</a>".into(),
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{} | Alt Shop</title></head>\n<body>\n\
             <div class=\"topbar\"><a class=\"brand\" href=\"/alt/\">Alt Shop</a> {who} \
             <a class=\"basket-link\" href=\"/alt/basket\">Basket</a></div>\n\
             <div class=\"content\">\n{body}\n</div>\n</body></html>\n",
            esc(title)
        )
    }

    fn home(products: &[ProductView]) -> String {
        let items: String = products
            .iter()
            .map(|v| {
                format!(
                    "<div class=\"tile\"><a class=\"tile-link\" href=\"/alt/item/{}\">{}</a> {}</div>\n",
                    v.product.sku,
                    esc(v.product.name),
                    v.price.eur_comma()
                )
            })
            .collect();
        format!("<h2>Our range</h2>\n{items}")
    }

    fn signin(next: &str, failed: bool) -> String {
        let error = if failed {
            "<div class=\"login-error\">Login failed</div>\n"
        } else {
            ""
        };
        format!(
            "<h2>Log in</h2>\n{error}\
             <form class=\"login-form\" method=\"post\" action=\"/alt/login\">\n\
             <input type=\"hidden\" name=\"next\" value=\"{}\">\n\
             User <input name=\"user\">\nPassword <input name=\"pass\" type=\"password\">\n\
             <button class=\"login-btn\" type=\"submit\">Log in</button>\n</form>",
            esc(next)
        )
    }

    fn account(email: &str) -> String {
        format!(
            "<h2 class=\"account-home\">My account</h2>\n<p>{}</p>",
            esc(email)
        )
    }

    fn product(view: &ProductView) -> String {
        let p = view.product;
        let buy = if view.in_stock {
            format!(
                "<p class=\"stock-ok\">Available</p>\n\
                 <form class=\"buy-form\" method=\"post\" action=\"/alt/basket/add\">\n\
                 <input type=\"hidden\" name=\"sku\" value=\"{}\">\n\
                 <input class=\"qty-input\" name=\"qty\" type=\"number\" value=\"1\">\n\
                 <button class=\"buy-btn\" type=\"submit\">Buy</button>\n</form>",
                p.sku
            )
        } else {
            "<p class=\"stock-none\">Sold out</p>".into()
        };
        format!(
            "<h2 class=\"item-name\">{}</h2>\n{}\n<p>Price: <b class=\"cost\">{}</b></p>\n{buy}",
            esc(p.name),
            json_ld(view),
            view.price.eur_comma()
        )
    }

    fn cart(lines: &[Line]) -> String {
        if lines.is_empty() {
            return "<h2>Basket</h2>\n<p class=\"basket-empty\">Your basket is empty</p>".into();
        }
        format!(
            "<h2>Basket</h2>\n<table class=\"basket\">\n{}</table>\n\
             <form method=\"post\" action=\"/alt/basket/clear\">\
             <button class=\"clear-basket\" type=\"submit\">Clear basket</button></form>\n\
             <a class=\"go-checkout\" href=\"/alt/pay\">Go to checkout</a>",
            rows(lines)
        )
    }

    fn checkout(error: Option<&str>) -> String {
        let error = error
            .map(|e| format!("<div class=\"pay-error\">{}</div>\n", esc(e)))
            .unwrap_or_default();
        format!(
            "<h2>Delivery</h2>\n{error}\
             <form class=\"pay-form\" method=\"post\" action=\"/alt/pay\">\n\
             Full name <input name=\"fullname\">\nStreet <input name=\"street\">\n\
             ZIP <input name=\"zip\">\n\
             <button class=\"to-summary\" type=\"submit\">Continue</button>\n</form>"
        )
    }

    fn review(lines: &[Line], ship_to: &ShipTo<'_>, total: Cents) -> String {
        format!(
            "<h2>Summary</h2>\n<table class=\"summary\">\n{}</table>\n\
             <p class=\"deliver-to\">{}, {}, {}</p>\n\
             <p>Total <span class=\"grand-total\">{}</span></p>\n\
             <form method=\"post\" action=\"/alt/order\">\
             <button class=\"confirm-purchase\" type=\"submit\">Buy now</button></form>",
            rows(lines),
            esc(ship_to.name),
            esc(ship_to.address),
            esc(ship_to.postal_code),
            total.eur_comma()
        )
    }

    fn confirmation(order_number: Option<&str>) -> String {
        let number = match order_number {
            Some(n) => format!(
                "<p>Reference: <span class=\"order-ref\">{}</span></p>",
                esc(n)
            ),
            None => "<p>Your purchase is being processed.</p>".into(),
        };
        format!("<h2 class=\"thanks\">Thanks for shopping with us</h2>\n{number}")
    }

    fn not_found() -> String {
        "<h2 class=\"not-found\">Page not found</h2>\n<p>This page does not exist.</p>".into()
    }
}

/// `<tr>` rows for the basket and the summary.
fn rows(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| {
            format!(
                "<tr class=\"basket-row\" data-sku=\"{}\" data-qty=\"{}\">\
                 <td>{}</td><td>{}</td><td>{}</td></tr>\n",
                l.product.sku,
                l.qty,
                esc(l.product.name),
                l.qty,
                l.price.eur_comma()
            )
        })
        .collect()
}
