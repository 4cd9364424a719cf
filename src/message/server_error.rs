//! The `e=` values of `server-error` (RFC 5802 §7).

use alloc::string::String;
use core::fmt;

/// A server error sent in `server-final-message` as `e=<value>`.
///
/// ```
/// use mqtt_scram::message::ServerErrorValue;
/// assert_eq!(ServerErrorValue::parse("invalid-proof"), ServerErrorValue::InvalidProof);
/// assert_eq!(ServerErrorValue::InvalidProof.to_message(), "e=invalid-proof");
/// assert_eq!(ServerErrorValue::parse("x-custom").as_str(), "x-custom");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerErrorValue {
    /// `invalid-encoding`
    InvalidEncoding,
    /// `extensions-not-supported`
    ExtensionsNotSupported,
    /// `invalid-proof`
    InvalidProof,
    /// `channel-bindings-dont-match`
    ChannelBindingsDontMatch,
    /// `server-does-support-channel-binding`
    ServerDoesSupportChannelBinding,
    /// `channel-binding-not-supported`
    ChannelBindingNotSupported,
    /// `unsupported-channel-binding-type`
    UnsupportedChannelBindingType,
    /// `unknown-user` (this crate never sends it: it would let clients enumerate users)
    UnknownUser,
    /// `invalid-username-encoding`
    InvalidUsernameEncoding,
    /// `no-resources`
    NoResources,
    /// `other-error`
    OtherError,
    /// A value not defined by RFC 5802 (`server-error-value-ext`); clients treat it as `other-error`.
    Extension(String),
}

impl ServerErrorValue {
    /// The value as written after `e=`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Extension(value) => value,
            other => other.as_static(),
        }
    }

    /// The value of a variant RFC 5802 defines; `""` for [`ServerErrorValue::Extension`].
    pub(crate) const fn as_static(&self) -> &'static str {
        match self {
            Self::InvalidEncoding => "invalid-encoding",
            Self::ExtensionsNotSupported => "extensions-not-supported",
            Self::InvalidProof => "invalid-proof",
            Self::ChannelBindingsDontMatch => "channel-bindings-dont-match",
            Self::ServerDoesSupportChannelBinding => "server-does-support-channel-binding",
            Self::ChannelBindingNotSupported => "channel-binding-not-supported",
            Self::UnsupportedChannelBindingType => "unsupported-channel-binding-type",
            Self::UnknownUser => "unknown-user",
            Self::InvalidUsernameEncoding => "invalid-username-encoding",
            Self::NoResources => "no-resources",
            Self::OtherError => "other-error",
            Self::Extension(_) => "",
        }
    }

    /// Parses a value; unknown values become [`ServerErrorValue::Extension`].
    pub fn parse(value: &str) -> Self {
        match value {
            "invalid-encoding" => Self::InvalidEncoding,
            "extensions-not-supported" => Self::ExtensionsNotSupported,
            "invalid-proof" => Self::InvalidProof,
            "channel-bindings-dont-match" => Self::ChannelBindingsDontMatch,
            "server-does-support-channel-binding" => Self::ServerDoesSupportChannelBinding,
            "channel-binding-not-supported" => Self::ChannelBindingNotSupported,
            "unsupported-channel-binding-type" => Self::UnsupportedChannelBindingType,
            "unknown-user" => Self::UnknownUser,
            "invalid-username-encoding" => Self::InvalidUsernameEncoding,
            "no-resources" => Self::NoResources,
            "other-error" => Self::OtherError,
            other => Self::Extension(other.into()),
        }
    }

    /// The server-final-message carrying this error: `e=<value>`.
    pub fn to_message(&self) -> String {
        let mut out = String::from("e=");
        out.push_str(self.as_str());
        out
    }
}

impl fmt::Display for ServerErrorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
