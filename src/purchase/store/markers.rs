//! Markers and readings, as a store definition writes them: a bare string
//! or a table, so simple definitions stay one line per key while the table
//! form stays strict.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::model::Pick;

/// One way to recognise a state of a page. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub selector: Option<String>,
    pub text: Option<String>,
}

/// Several markers; the state is recognised when any one matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markers(pub Vec<Marker>);

impl Markers {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A marker list of one CSS selector.
    pub fn selector(selector: &str) -> Markers {
        Markers(vec![Marker {
            selector: Some(selector.to_string()),
            text: None,
        }])
    }
}

/// Where a value (price, total, order number) is read: the element's visible
/// text, or one of its attributes (`data-price`, `content`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub selector: String,
    pub attribute: Option<String>,
    /// For amounts: which one to take when the element shows several
    /// (see [`crate::model::Money::read`]).
    pub pick: Pick,
}

impl Reading {
    pub fn selector(selector: &str) -> Reading {
        Reading {
            selector: selector.to_string(),
            attribute: None,
            pick: Pick::Only,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkerTable {
    selector: Option<String>,
    text: Option<String>,
}

impl MarkerTable {
    fn into_marker<E: de::Error>(self) -> Result<Marker, E> {
        let blank = |s: &Option<String>| s.as_deref().is_some_and(|s| s.trim().is_empty());
        if (self.selector.is_none() && self.text.is_none())
            || blank(&self.selector)
            || blank(&self.text)
        {
            return Err(E::custom(
                "a marker needs a non-empty `selector`, `text`, or both",
            ));
        }
        Ok(Marker {
            selector: self.selector,
            text: self.text,
        })
    }
}

struct MarkerVisitor;

impl<'de> Visitor<'de> for MarkerVisitor {
    type Value = Marker;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CSS selector string or a table with `selector` and/or `text`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Marker, E> {
        if v.trim().is_empty() {
            return Err(E::custom("a marker selector must not be empty"));
        }
        Ok(Marker {
            selector: Some(v.to_string()),
            text: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Marker, A::Error> {
        MarkerTable::deserialize(de::value::MapAccessDeserializer::new(map))?.into_marker()
    }
}

impl<'de> Deserialize<'de> for Marker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MarkerVisitor)
    }
}

struct MarkersVisitor;

impl<'de> Visitor<'de> for MarkersVisitor {
    type Value = Markers;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a marker (selector string or `{ selector, text }` table) or a list of markers")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Markers, E> {
        MarkerVisitor.visit_str(v).map(|m| Markers(vec![m]))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Markers, A::Error> {
        MarkerVisitor.visit_map(map).map(|m| Markers(vec![m]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Markers, A::Error> {
        let mut all = Vec::new();
        while let Some(m) = seq.next_element::<Marker>()? {
            all.push(m);
        }
        Ok(Markers(all))
    }
}

impl<'de> Deserialize<'de> for Markers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MarkersVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingTable {
    selector: String,
    attribute: Option<String>,
    #[serde(default)]
    pick: Pick,
}

struct ReadingVisitor;

impl<'de> Visitor<'de> for ReadingVisitor {
    type Value = Reading;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a CSS selector string or a table with `selector` and optional `attribute` and `pick`",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Reading, E> {
        Ok(Reading::selector(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Reading, A::Error> {
        let t = ReadingTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Reading {
            selector: t.selector,
            attribute: t.attribute,
            pick: t.pick,
        })
    }
}

impl<'de> Deserialize<'de> for Reading {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ReadingVisitor)
    }
}
