//! The catalog: which items exist and, in order of preference, where to buy
//! them.
//!
//! ```toml
//! [[item]]
//! id = "paper-towels"
//! name = "Paper towels, 8 rolls"
//! quantity = 1
//! cooldown = "7d"          # optional; RESTOCK_COOLDOWN otherwise
//! max_price = "12.00"      # optional item-wide ceiling
//!
//! [[item.source]]
//! store = "demo"
//! url = "http://127.0.0.1:8724/product/paper-towels"
//! max_price = "9.99"       # optional per-source ceiling
//! choose = { "#pack" = "16 rolls" }   # optional: variants to pick on the page
//! ```
//!
//! Errors name the file and line, because a catalog is edited by hand.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use url::Url;

use crate::model::Money;

/// The catalog in use, swapped whole on reload (`POST /reload`, SIGHUP).
pub type SharedCatalog = std::sync::Arc<std::sync::RwLock<std::sync::Arc<Catalog>>>;

/// The catalog in use now. A reload swaps the whole `Arc`, so a holder
/// keeps one consistent catalog for as long as it needs it (a buy, a page)
/// without holding the lock; a poisoned lock still holds a whole catalog.
pub fn current(shared: &SharedCatalog) -> std::sync::Arc<Catalog> {
    shared.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Loads `path` and swaps it in; a bad file keeps the old catalog and says
/// why. Returns the number of items now in use.
pub fn reload(
    shared: &SharedCatalog,
    path: &Path,
    known_stores: Option<&[String]>,
) -> Result<usize, CatalogError> {
    let fresh = Catalog::load(path)?;
    if let Some(known) = known_stores {
        fresh.check_stores(known, path)?;
    }
    let n = fresh.items.len();
    *shared.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(fresh);
    tracing::info!(items = n, path = %path.display(), "catalog loaded");
    Ok(n)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalog {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub quantity: u32,
    #[serde(with = "opt_duration")]
    pub cooldown: Option<Duration>,
    pub max_price: Option<Money>,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub store: String,
    pub url: Url,
    pub max_price: Option<Money>,
    /// Variants to choose on the product page (pack size, count): the
    /// `<select>`'s selector -> the option's value or visible text. The
    /// price read after the choice is the one the ceiling checks.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub choose: std::collections::BTreeMap<String, String>,
}

impl Item {
    /// The tighter of the item's and the source's ceilings.
    pub fn ceiling(&self, source: &Source) -> Option<Money> {
        match (self.max_price, source.max_price) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog {path}: cannot read it: {source}; set RESTOCK_CATALOG to your catalog file")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalog {path}, line {line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("catalog {path}: item `{item}` buys from store `{store}`, which is not defined (known: {known}); add a store definition file or fix the name")]
    UnknownStore {
        path: PathBuf,
        item: String,
        store: String,
        known: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    item: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    name: Option<String>,
    #[serde(default = "one")]
    quantity: Spanned<u32>,
    cooldown: Option<Spanned<String>>,
    max_price: Option<Money>,
    #[serde(default = "no_sources")]
    source: Spanned<Vec<RawSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    store: Spanned<String>,
    url: Spanned<String>,
    max_price: Option<Money>,
    #[serde(default)]
    choose: std::collections::BTreeMap<String, String>,
}

fn no_sources() -> Spanned<Vec<RawSource>> {
    Spanned::new(0..0, Vec::new())
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

impl Catalog {
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Catalog::parse(&text, path)
    }

    /// Parses and validates; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Catalog, CatalogError> {
        let fail = |span: std::ops::Range<usize>, message: String| CatalogError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, span.start),
            message,
        };
        let raw: RawCatalog = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            fail(e.span().unwrap_or(0..0), message)
        })?;
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(raw.item.len());
        for item in raw.item {
            let id_span = item.id.span();
            let id = item.id.into_inner();
            if !valid_id(&id) {
                return Err(fail(
                    id_span,
                    format!("item id `{id}` must be non-empty letters, digits, `-`, `_` or `.`"),
                ));
            }
            if !seen.insert(id.clone()) {
                return Err(fail(
                    id_span,
                    format!("duplicate item id `{id}`; ids must be unique"),
                ));
            }
            if *item.quantity.get_ref() == 0 {
                return Err(fail(
                    item.quantity.span(),
                    format!("item `{id}`: quantity must be at least 1"),
                ));
            }
            let cooldown = match item.cooldown {
                Some(c) => Some(
                    crate::config::human_duration::parse(c.get_ref())
                        .map_err(|m| fail(c.span(), format!("item `{id}`: cooldown {m}")))?,
                ),
                None => None,
            };
            let sources_span = item.source.span();
            let raw_sources = item.source.into_inner();
            if raw_sources.is_empty() {
                return Err(fail(
                    if sources_span.is_empty() { id_span } else { sources_span },
                    format!("item `{id}` has no sources; add at least one [[item.source]] with store and url"),
                ));
            }
            let sources = raw_sources
                .into_iter()
                .map(|s| source(s, &id).map_err(|(span, m)| fail(span, m)))
                .collect::<Result<Vec<_>, _>>()?;
            items.push(Item {
                name: item.name.unwrap_or_else(|| id.clone()),
                id,
                quantity: item.quantity.into_inner(),
                cooldown,
                max_price: item.max_price,
                sources,
            });
        }
        Ok(Catalog { items })
    }

    pub fn get(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Every store some item buys from, in first-seen order.
    pub fn stores(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.items.iter().flat_map(|i| &i.sources) {
            if !out.contains(&s.store) {
                out.push(s.store.clone());
            }
        }
        out
    }

    /// Fails with the line of the first source naming a store not in
    /// `known`, so a typo in a store name is caught at startup.
    pub fn check_stores(&self, known: &[String], text_path: &Path) -> Result<(), CatalogError> {
        for item in &self.items {
            for s in &item.sources {
                if !known.contains(&s.store) {
                    return Err(CatalogError::UnknownStore {
                        path: text_path.to_path_buf(),
                        item: item.id.clone(),
                        store: s.store.clone(),
                        known: known.join(", "),
                    });
                }
            }
        }
        Ok(())
    }
}

fn source(raw: RawSource, id: &str) -> Result<Source, (std::ops::Range<usize>, String)> {
    let url_span = raw.url.span();
    let url = Url::parse(raw.url.get_ref())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            (
                url_span,
                format!("item `{id}`: `{}` is not an http(s) URL", raw.url.get_ref()),
            )
        })?;
    let store_span = raw.store.span();
    let store = raw.store.into_inner();
    if !valid_id(&store) {
        return Err((
            store_span,
            format!("item `{id}`: store name `{store}` is not valid"),
        ));
    }
    Ok(Source {
        store,
        url,
        max_price: raw.max_price,
        choose: raw.choose,
    })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

mod opt_duration {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse(text, Path::new("catalog.toml"))
    }

    const GOOD: &str = r#"
[[item]]
id = "soap"
name = "Dish soap"
max_price = "5.00"
[[item.source]]
store = "demo"
url = "http://127.0.0.1:1/product/dish-soap"
max_price = 4
[[item.source]]
store = "other"
url = "https://example.org/soap"
"#;

    #[test]
    fn reads_a_good_catalog() {
        let c = parse(GOOD).unwrap();
        let item = c.get("soap").unwrap();
        assert_eq!(item.quantity, 1);
        assert_eq!(item.sources.len(), 2);
        assert_eq!(item.ceiling(&item.sources[0]), Some(Money(400)));
        assert_eq!(item.ceiling(&item.sources[1]), Some(Money(500)));
        assert_eq!(c.stores(), vec!["demo".to_string(), "other".to_string()]);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (GOOD.replace("name = \"Dish soap\"", "colour = \"red\""), 4, "unknown field"),
            (format!("{GOOD}\n[[item]]\nid = \"soap\"\n[[item.source]]\nstore=\"demo\"\nurl=\"http://x.org/\"\n"), 15, "duplicate item id"),
            ("[[item]]\nid = \"bare\"\n".to_string(), 2, "no sources"),
            (GOOD.replace("https://example.org/soap", "not a url"), 12, "not an http(s) URL"),
            (GOOD.replace("max_price = 4", "max_price = \"4.999\""), 9, "not an amount"),
            ("[[item]]\nid = \"x\"\ncooldown = \"soon\"\n".to_string(), 3, "cooldown"),
        ];
        for (text, line, needle) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}:")), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }
}
