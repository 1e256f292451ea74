//! Domain types: one per entity of the data model.

mod auth;
mod channel;
mod file;
mod integration;
mod message;
mod user;
mod workspace;

pub use auth::*;
pub use channel::*;
pub use file::*;
pub use integration::*;
pub use message::*;
pub use user::*;
pub use workspace::*;

/// Defines a closed set of values stored as lowercase text, with conversions
/// both ways. Parsing unknown text is an error, never a silent default.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text of this value.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        // By hand rather than derived: the derive does not see renames
        // passed through this macro.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::Error::invalid(
                        stringify!($name),
                        format!("unknown value {other:?}"),
                    )),
                }
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_enums_round_trip() {
        for role in WorkspaceRole::ALL {
            assert_eq!(role.as_str().parse::<WorkspaceRole>().unwrap(), *role);
        }
        assert!("superuser".parse::<WorkspaceRole>().is_err());
        assert_eq!(
            serde_json::to_string(&ChannelType::Direct).unwrap(),
            "\"direct\""
        );
    }
}
