//! The "alt" layout, mounted at `/alt/`: the same store (sessions, carts,
//! ledger, faults) behind different URLs and markup — classes and `name`
//! attributes instead of ids, and prices written `EUR 6,49`. It exists so a
//! test can prove that a second store definition drives a store the code
//! has never seen, without code changes.
//!
//! Alt and classic are deliberately alike: the same pages, flow and faults
//! (one `flow.rs`), only URLs, field names and markup differ.
//!
//! Stable classes and names, by page:
//! - header: `.brand`, `.basket-link`, `.login-link` (signed out), `.who`
//!   (signed in)
//! - log-in (`/alt/login`): `.login-form`, `input[name=user]`,
//!   `input[name=pass]`, `.login-btn`, `.login-error`
//! - account: `.account-home`, `.orders-link`
//! - item (`/alt/item/{sku}`): `.item-name`, `b.cost` (`EUR 6,49`),
//!   JSON-LD, `.stock-ok` / `.stock-none`, `.buy-form`,
//!   `select[name=size]` (pack size, items with sizes only; reloads with
//!   `?size=`), `input.qty-input`, `button.buy-btn`
//! - basket: `table.basket` of `tr.basket-row` (`data-sku`, `data-qty`),
//!   `.basket-empty`, `button.clear-basket`, `a.go-checkout`
//! - delivery (`/alt/pay`): `.pay-form`, `input[name=fullname]`,
//!   `input[name=street]`, `input[name=zip]`, `select[name=land]`
//!   (default Germany), `.pay-error`, `button.to-summary`
//! - billing (`payment_step` option, `/alt/billing`): `.billing-form`,
//!   `.card-choice`, `button.to-review`
//! - summary: `table.summary`, `.deliver-to`, `.grand-total`,
//!   `button.confirm-purchase`
//! - done: `.thanks`, `.order-ref`; under the `hide_confirmation` fault
//!   instead `.order-problem` and `a.orders-link`
//! - orders (`/alt/orders`): `div.orders` of `div.order-row`
//!   (`data-order`) with `.order-id`, `.order-date` (`2 Dec 2026, 11:42`,
//!   UTC), `.order-total` (`EUR 12,98`), `ul.order-items` of
//!   `li.order-item` (`data-sku`, `data-qty`, text `NAME × QTY`);
//!   `.orders-empty`
//! - 404: `.not-found`

use super::catalog::Cents;
use super::checkout::human_date;
use super::layout::{
    country_options, esc, json_ld, pack_options, reload_with, Fields, Layout, Line, Paths,
    ProductView, ShipTo,
};
use super::state::Order;

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
        payment: "/alt/billing",
        review: "/alt/summary",
        place: "/alt/order",
        confirmation: "/alt/done/{order}",
        orders: "/alt/orders",
    };
    const FIELDS: Fields = Fields {
        email: "user",
        password: "pass",
        name: "fullname",
        address: "street",
        postal_code: "zip",
        country: "land",
        pack: "size",
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
            "<h2 class=\"account-home\">My account</h2>\n<p>{}</p>\n\
             <p><a class=\"orders-link\" href=\"/alt/orders\">My orders</a></p>",
            esc(email)
        )
    }

    fn product(view: &ProductView) -> String {
        let p = view.product;
        let sizes = match view.packs.is_empty() {
            true => String::new(),
            false => format!(
                "Size <select name=\"size\" onchange=\"{}\">{}</select>\n",
                reload_with("size"),
                pack_options(view, Cents::eur_comma)
            ),
        };
        let buy = if view.in_stock {
            format!(
                "<p class=\"stock-ok\">Available</p>\n\
                 <form class=\"buy-form\" method=\"post\" action=\"/alt/basket/add\">\n\
                 <input type=\"hidden\" name=\"sku\" value=\"{}\">\n{sizes}\
                 <input class=\"qty-input\" name=\"qty\" type=\"number\" value=\"1\">\n\
                 <button class=\"buy-btn\" type=\"submit\">Buy</button>\n</form>",
                p.sku
            )
        } else {
            "<p class=\"stock-none\">Sold out</p>".into()
        };
        format!(
            "<h2 class=\"item-name\">{}</h2>\n{}\n<p>Price: <b class=\"cost\">{}</b></p>\n{buy}",
            esc(view.name()),
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
             ZIP <input name=\"zip\">\nCountry <select name=\"land\">{}</select>\n\
             <button class=\"to-summary\" type=\"submit\">Continue</button>\n</form>",
            country_options(super::checkout::DEFAULT_COUNTRY.code)
        )
    }

    fn payment() -> String {
        "<h2>Billing</h2>\n\
         <form class=\"billing-form\" method=\"post\" action=\"/alt/billing\">\n\
         <p class=\"card-choice\">Pay with saved card •••• 4242</p>\n\
         <button class=\"to-review\" type=\"submit\">Continue</button>\n</form>"
            .into()
    }

    fn review(lines: &[Line], ship_to: &ShipTo<'_>, total: Cents) -> String {
        format!(
            "<h2>Summary</h2>\n<table class=\"summary\">\n{}</table>\n\
             <p class=\"deliver-to\">{}, {}, {}, {}</p>\n\
             <p>Total <span class=\"grand-total\">{}</span></p>\n\
             <form method=\"post\" action=\"/alt/order\">\
             <button class=\"confirm-purchase\" type=\"submit\">Buy now</button></form>",
            rows(lines),
            esc(ship_to.name),
            esc(ship_to.address),
            esc(ship_to.postal_code),
            esc(ship_to.country.name),
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

    fn confirmation_lost() -> String {
        "<h2 class=\"order-problem\">Something went wrong, please check your orders</h2>\n\
         <p><a class=\"orders-link\" href=\"/alt/orders\">My orders</a></p>"
            .into()
    }

    fn orders(orders: &[Order]) -> String {
        if orders.is_empty() {
            return "<h2>My orders</h2>\n<p class=\"orders-empty\">No orders yet</p>".into();
        }
        let rows: String = orders
            .iter()
            .map(|o| {
                let items: String = o
                    .bill
                    .lines
                    .iter()
                    .map(|l| {
                        format!(
                            "<li class=\"order-item\" data-sku=\"{}\" data-qty=\"{}\">{} × {}</li>",
                            l.product.sku,
                            l.qty,
                            esc(l.name()),
                            l.qty
                        )
                    })
                    .collect();
                format!(
                    "<div class=\"order-row\" data-order=\"{n}\">\
                     <span class=\"order-id\">{n}</span> \
                     <span class=\"order-date\">{}</span> \
                     <span class=\"order-total\">{}</span>\
                     <ul class=\"order-items\">{items}</ul></div>\n",
                    human_date(&o.placed_at),
                    o.bill.total.eur_comma(),
                    n = esc(&o.number),
                )
            })
            .collect();
        format!("<h2>My orders</h2>\n<div class=\"orders\">\n{rows}</div>")
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
                esc(l.name()),
                l.qty,
                l.price.eur_comma()
            )
        })
        .collect()
}
