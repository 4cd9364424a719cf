//! SCRAM mechanism names and the hash function behind each (RFC 5802 §4, RFC 7677).

use core::fmt;
use core::str::FromStr;

/// The hash function a SCRAM mechanism is built on.
///
/// Stored credentials belong to a hash, not to a mechanism name: the same
/// credentials serve `SCRAM-SHA-256` and `SCRAM-SHA-256-PLUS`.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, Mechanism};
/// assert_eq!(HashAlgorithm::Sha512.output_len(), 64);
/// assert_eq!("sha-256".parse(), Ok(HashAlgorithm::Sha256));
/// assert_eq!(HashAlgorithm::Sha256.mechanism(), Mechanism::ScramSha256);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum HashAlgorithm {
    /// SHA-256 (32-byte output, 64-byte block).
    Sha256,
    /// SHA-512 (64-byte output, 128-byte block).
    Sha512,
}

impl HashAlgorithm {
    /// Length in bytes of the hash output, and so of every SCRAM key, proof and signature.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The mechanism without channel binding that uses this hash.
    pub const fn mechanism(self) -> Mechanism {
        match self {
            Self::Sha256 => Mechanism::ScramSha256,
            Self::Sha512 => Mechanism::ScramSha512,
        }
    }

    /// Short lowercase name: `sha256` or `sha512`.
    pub const fn short_name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// A SCRAM mechanism as named in the MQTT 5 Authentication Method property.
///
/// Names are the IANA SASL registrations; matching is exact (case-sensitive), as
/// MQTT 5 compares Authentication Method as a UTF-8 string.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, Mechanism};
/// let m: Mechanism = "SCRAM-SHA-512-PLUS".parse()?;
/// assert!(m.is_plus());
/// assert_eq!(m.hash(), HashAlgorithm::Sha512);
/// assert_eq!(m.without_plus().name(), "SCRAM-SHA-512");
/// # Ok::<(), mqtt_scram::mechanism::UnknownMechanism>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-256-PLUS`: SCRAM-SHA-256 with channel binding.
    ScramSha256Plus,
    /// `SCRAM-SHA-512` (draft-melnikov-scram-sha-512).
    ScramSha512,
    /// `SCRAM-SHA-512-PLUS`: SCRAM-SHA-512 with channel binding.
    ScramSha512Plus,
}

impl Mechanism {
    /// Every mechanism this crate implements, strongest first.
    pub const ALL: [Mechanism; 4] = [
        Self::ScramSha512Plus,
        Self::ScramSha256Plus,
        Self::ScramSha512,
        Self::ScramSha256,
    ];

    /// The registered name, e.g. `SCRAM-SHA-256`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::ScramSha512Plus => "SCRAM-SHA-512-PLUS",
        }
    }

    /// Looks up a mechanism by its exact registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The hash function the mechanism uses.
    pub const fn hash(self) -> HashAlgorithm {
        match self {
            Self::ScramSha256 | Self::ScramSha256Plus => HashAlgorithm::Sha256,
            Self::ScramSha512 | Self::ScramSha512Plus => HashAlgorithm::Sha512,
        }
    }

    /// Whether this is a `-PLUS` (channel-binding) variant.
    pub const fn is_plus(self) -> bool {
        matches!(self, Self::ScramSha256Plus | Self::ScramSha512Plus)
    }

    /// The same hash without channel binding.
    pub const fn without_plus(self) -> Self {
        self.hash().mechanism()
    }

    /// The same hash with channel binding.
    pub const fn with_plus(self) -> Self {
        match self.hash() {
            HashAlgorithm::Sha256 => Self::ScramSha256Plus,
            HashAlgorithm::Sha512 => Self::ScramSha512Plus,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when a string is not a supported mechanism name.
///
/// ```
/// use mqtt_scram::{Mechanism, mechanism::UnknownMechanism};
/// assert_eq!("SCRAM-SHA-1".parse::<Mechanism>(), Err(UnknownMechanism));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported authentication method (expected SCRAM-SHA-256, SCRAM-SHA-512 or a -PLUS variant)"
)]
pub struct UnknownMechanism;

impl FromStr for Mechanism {
    type Err = UnknownMechanism;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or(UnknownMechanism)
    }
}

impl FromStr for HashAlgorithm {
    type Err = UnknownMechanism;
    /// Accepts `sha256`/`sha512` (any case, optional dash) and the mechanism names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sha256" | "sha-256" => Ok(Self::Sha256),
            "sha512" | "sha-512" => Ok(Self::Sha512),
            _ => Mechanism::from_name(s)
                .map(Mechanism::hash)
                .ok_or(UnknownMechanism),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            assert_eq!(m.with_plus().without_plus(), m.without_plus());
        }
        assert_eq!(Mechanism::from_name("scram-sha-256"), None);
        assert_eq!("SHA512".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Sha512));
    }
}
