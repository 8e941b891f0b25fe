//! `RESTOCK_PUBLIC_URL`: the address people reach restock's HTTP server at
//! (`https://restock.home.example`, or behind a path prefix), read once
//! when the config loads. Sign-in links and the household page are made
//! from it; without it they use the listen address.

use std::fmt;

use url::Url;

const EXPECTED: &str =
    "the http(s) address people reach restock at, like `https://restock.home.example`";

/// Why `RESTOCK_PUBLIC_URL` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPublicUrl(String);

/// An http(s) base address without query or fragment; always ends in `/`
/// so paths join below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(Url);

impl PublicUrl {
    pub fn parse(text: &str) -> Result<PublicUrl, BadPublicUrl> {
        let mut url =
            Url::parse(text.trim()).map_err(|e| BadPublicUrl(format!("{EXPECTED} ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(BadPublicUrl(EXPECTED.into()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BadPublicUrl(format!(
                "{EXPECTED}, without a query or fragment"
            )));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(PublicUrl(url))
    }

    /// The base, ending in `/`.
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = BadPublicUrl;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicUrl::parse(s)
    }
}

impl serde::Serialize for PublicUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for PublicUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PublicUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked() {
        assert_eq!(
            PublicUrl::parse("https://restock.home.example")
                .unwrap()
                .to_string(),
            "https://restock.home.example/"
        );
        assert_eq!(
            PublicUrl::parse("http://10.0.0.2:8723/restock")
                .unwrap()
                .to_string(),
            "http://10.0.0.2:8723/restock/"
        );
        assert!(PublicUrl::parse("not a url").is_err());
        assert!(PublicUrl::parse("ftp://x").is_err());
        assert!(PublicUrl::parse("https://x/?a=1").is_err());
    }
}
