//! Which peers count as one "address" for the per-address cap and for fair queueing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A peer's address as the admission policy groups it: an IPv4 address, an IPv6
/// prefix (by default a /64, the smallest block a site is usually given, so one host
/// cannot dodge the cap by rotating through its own /64), or "unknown" (no peer
/// address, e.g. a Unix socket — all such connections share one key).
///
/// ```
/// use std::net::IpAddr;
/// use mqtt_scram_authenticator::admission::AddressKey;
/// let a: IpAddr = "2001:db8::1".parse()?;
/// let b: IpAddr = "2001:db8::2".parse()?;
/// assert_eq!(AddressKey::new(Some(a), 64), AddressKey::new(Some(b), 64));
/// assert_ne!(AddressKey::new(Some(a), 128), AddressKey::new(Some(b), 128));
/// // An IPv4-mapped IPv6 address is the IPv4 address.
/// let mapped: IpAddr = "::ffff:127.0.0.1".parse()?;
/// assert_eq!(AddressKey::new(Some(mapped), 64).to_string(), "127.0.0.1");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressKey(Key);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Unknown,
    V4(u32),
    /// The prefix's octets (not a `u128`: its 16-byte alignment would double the size of
    /// every ticket, which each waiting handshake holds).
    V6 {
        prefix: [u8; 16],
        len: u8,
    },
}

impl AddressKey {
    /// The key for `peer`, grouping IPv6 addresses by their first `ipv6_prefix_len` bits
    /// (clamped to 0..=128).
    pub fn new(peer: Option<IpAddr>, ipv6_prefix_len: u8) -> Self {
        let key = match peer {
            None => Key::Unknown,
            Some(IpAddr::V4(v4)) => Key::V4(u32::from(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Key::V4(u32::from(v4)),
                None => {
                    let len = ipv6_prefix_len.min(128);
                    let mask = u128::MAX.checked_shl(u32::from(128 - len)).unwrap_or(0);
                    Key::V6 {
                        prefix: (u128::from(v6) & mask).to_be_bytes(),
                        len,
                    }
                }
            },
        };
        Self(key)
    }

    /// The key shared by every connection without a peer address.
    pub const UNKNOWN: Self = Self(Key::Unknown);
}

impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Key::Unknown => f.write_str("(no address)"),
            Key::V4(v4) => write!(f, "{}", Ipv4Addr::from(v4)),
            Key::V6 { prefix, len: 128 } => write!(f, "{}", Ipv6Addr::from(prefix)),
            Key::V6 { prefix, len } => write!(f, "{}/{len}", Ipv6Addr::from(prefix)),
        }
    }
}
