//! `[checkout]`: what stands between the cart's checkout button and the
//! review page, as data.
//!
//! Real stores differ here, and one store varies from one buy to the next:
//! a saved address skips the form, a shipping-method page shows only when
//! there is a choice, a "protection plan?" interstitial comes and goes. So a
//! definition lists the pages its checkout *may* show, each recognised by a
//! marker and with the actions to take there (`[[checkout.page]]`), and the
//! flow looks at where it is, acts, waits for the page to change, and
//! repeats until the review page. The review page is not one of them: it is
//! `[review]`, and Place Order is clicked there only, after the guards; no
//! page's actions may name it (checked at load).
//!
//! The older one-form shape (`fields` + `continue`) still works: it is read
//! as one page, recognised by its first field, that fills the fields and
//! clicks `continue`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::markers::{Marker, Markers};

/// `[checkout]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutPages {
    /// The one-form shape: owner checkout key -> input selector.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The one-form shape: clicked after filling `fields`.
    #[serde(rename = "continue")]
    pub continue_button: Option<String>,
    /// Shown when the store refuses a submitted form ("postcode not
    /// valid"): the buy stops with what it says, not with a timeout.
    #[serde(default)]
    pub errors: Markers,
    /// The pages the checkout may show, in no particular order.
    #[serde(default, rename = "page")]
    pub pages: Vec<Page>,
}

/// One page a checkout may show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// For logs and explanations (`address`, `shipping`, `payment`).
    pub name: String,
    /// What recognises the page.
    pub marker: Markers,
    /// Done in order once the page is recognised.
    pub actions: Vec<Action>,
}

/// One thing to do on a checkout page (or, for `select`, on the product
/// page: a variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Type into a text input (real text input, then the value is checked).
    Fill { selector: String, value: Value },
    /// Choose an option of a `<select>` by its value or its visible text.
    Select { selector: String, value: Value },
    /// Tick a checkbox (left alone when ticked already).
    Check { selector: String },
    /// Pick a radio button.
    Choose { selector: String },
    /// Click a button or link; the page is expected to change.
    Click { selector: String },
}

/// Where an action's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A key of the owner's checkout config (`name`, `postal_code`): the
    /// owner's data never sits in a store file.
    Owner(String),
    /// Written in the definition (a shipping option, a country code).
    Literal(String),
}

impl Action {
    pub fn selector(&self) -> &str {
        match self {
            Action::Fill { selector, .. }
            | Action::Select { selector, .. }
            | Action::Check { selector }
            | Action::Choose { selector }
            | Action::Click { selector } => selector,
        }
    }

    /// The owner's checkout key this action types or chooses, if any.
    pub fn owner_key(&self) -> Option<&str> {
        match self {
            Action::Fill {
                value: Value::Owner(k),
                ..
            }
            | Action::Select {
                value: Value::Owner(k),
                ..
            } => Some(k),
            _ => None,
        }
    }
}

/// `{ click = "#next" }`, `{ fill = "#zip", value = "postal_code" }`,
/// `{ select = "#country", text = "DE" }`, `{ check = "#terms" }`,
/// `{ choose = "#ship-standard" }`: one verb, its selector, and for `fill`
/// and `select` either `value` (an owner checkout key) or `text` (a
/// literal).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    click: Option<String>,
    fill: Option<String>,
    select: Option<String>,
    check: Option<String>,
    choose: Option<String>,
    value: Option<String>,
    text: Option<String>,
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawAction::deserialize(d)?;
        let verbs = [
            ("click", &raw.click),
            ("fill", &raw.fill),
            ("select", &raw.select),
            ("check", &raw.check),
            ("choose", &raw.choose),
        ];
        let given: Vec<(&str, &String)> = verbs
            .iter()
            .filter_map(|(verb, sel)| sel.as_ref().map(|s| (*verb, s)))
            .collect();
        let [(verb, selector)] = given[..] else {
            return Err(D::Error::custom(
                "an action has exactly one of `click`, `fill`, `select`, `check`, `choose`",
            ));
        };
        if selector.trim().is_empty() {
            return Err(D::Error::custom(format!("`{verb}` needs a selector")));
        }
        let selector = selector.clone();
        let value = match (&raw.value, &raw.text) {
            (Some(k), None) => Some(Value::Owner(k.clone())),
            (None, Some(t)) => Some(Value::Literal(t.clone())),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(D::Error::custom(
                    "give `value` (an owner checkout key) or `text` (a literal), not both",
                ))
            }
        };
        match (verb, value) {
            ("fill", Some(value)) => Ok(Action::Fill { selector, value }),
            ("select", Some(value)) => Ok(Action::Select { selector, value }),
            ("fill" | "select", None) => Err(D::Error::custom(format!(
                "`{verb}` needs `value` (an owner checkout key) or `text` (a literal)"
            ))),
            (_, Some(_)) => Err(D::Error::custom(format!(
                "`{verb}` takes no `value` or `text`"
            ))),
            ("click", None) => Ok(Action::Click { selector }),
            ("check", None) => Ok(Action::Check { selector }),
            (_, None) => Ok(Action::Choose { selector }),
        }
    }
}

impl CheckoutPages {
    /// The pages the flow recognises: the one-form shape first (when
    /// given), then `[[checkout.page]]` in the order written.
    pub fn effective(&self) -> Vec<Page> {
        let mut out = Vec::new();
        if let Some(first) = self.fields.values().next() {
            let mut actions: Vec<Action> = self
                .fields
                .iter()
                .map(|(key, selector)| Action::Fill {
                    selector: selector.clone(),
                    value: Value::Owner(key.clone()),
                })
                .collect();
            if let Some(button) = &self.continue_button {
                actions.push(Action::Click {
                    selector: button.clone(),
                });
            }
            out.push(Page {
                name: "form".into(),
                marker: Markers(vec![Marker {
                    selector: Some(first.clone()),
                    text: None,
                }]),
                actions,
            });
        }
        out.extend(self.pages.iter().cloned());
        out
    }

    /// The owner checkout keys these pages use.
    pub fn owner_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .effective()
            .iter()
            .flat_map(|p| p.actions.iter().filter_map(Action::owner_key))
            .map(str::to_string)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// What is wrong with these pages, as `(key, problem)`.
    pub(super) fn validate(&self, place_order: &str) -> Result<(), (&'static str, String)> {
        let mut names = Vec::new();
        for page in &self.pages {
            if page.name.trim().is_empty() {
                return Err(("checkout.page.name", "a page needs a name".into()));
            }
            if names.contains(&page.name.as_str()) {
                return Err((
                    "checkout.page.name",
                    format!("two pages are named `{}`", page.name),
                ));
            }
            names.push(&page.name);
            if page.marker.is_empty() {
                return Err((
                    "checkout.page.marker",
                    format!("page `{}` needs at least one marker", page.name),
                ));
            }
            if page.actions.is_empty() {
                return Err((
                    "checkout.page.actions",
                    format!("page `{}` needs at least one action", page.name),
                ));
            }
        }
        let effective = self.effective();
        for (i, page) in effective.iter().enumerate() {
            if effective[..i].iter().any(|p| p.name == page.name) {
                return Err((
                    "checkout.page.name",
                    format!(
                        "two pages are named `{}` (the `fields` form is named `form`)",
                        page.name
                    ),
                ));
            }
            if let Some(a) = page
                .actions
                .iter()
                .find(|a| a.selector().trim() == place_order.trim())
            {
                return Err((
                    "checkout.page.actions",
                    format!(
                        "page `{}` would click `{}`, the Place Order button: Place Order is only \
                         ever clicked on the review page, after the guards",
                        page.name,
                        a.selector()
                    ),
                ));
            }
        }
        Ok(())
    }
}
