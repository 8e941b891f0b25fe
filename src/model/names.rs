//! Enum <-> stored name, for every enum whose name is written to the
//! database, the command line or JSON. The names themselves come from
//! `strum` derives on each enum (`serialize_all = "snake_case"`), so the
//! table of names is the enum itself and cannot drift from it.

use strum::IntoEnumIterator;

/// A name that is not one of an enum's; says which ones are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct ParseNameError {
    kind: &'static str,
    value: String,
    expected: String,
}

/// The variant of `T` named `text`, or an error listing every name.
/// `kind` says what is being named ("status", "phase") in the error.
pub(crate) fn parse<T>(kind: &'static str, text: &str) -> Result<T, ParseNameError>
where
    T: IntoEnumIterator + Into<&'static str> + Copy,
{
    T::iter()
        .find(|v| (*v).into() == text)
        .ok_or_else(|| ParseNameError {
            kind,
            value: text.to_string(),
            expected: T::iter()
                .map(|v| v.into())
                .collect::<Vec<&str>>()
                .join(", "),
        })
}

/// Declares a vocabulary enum whose names are stored: the derives every one
/// of them has (serde and strum with one naming case, so the stored name,
/// the JSON name and `Display` agree), `as_str`, `all()` and a `FromStr`
/// whose error lists every name. `$kind` names the enum in that error
/// ("status", "phase").
macro_rules! named_enum {
    (
        $kind:literal, $case:literal,
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident,)* }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
            strum::IntoStaticStr, strum::EnumIter, strum::Display,
        )]
        #[serde(rename_all = $case)]
        #[strum(serialize_all = $case)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// The stored name.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// Every variant, in declaration order.
            pub fn all() -> impl Iterator<Item = $name> {
                <$name as strum::IntoEnumIterator>::iter()
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::ParseNameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::model::names::parse($kind, s)
            }
        }
    };
}
pub(crate) use named_enum;
