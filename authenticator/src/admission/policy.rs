//! The admission settings: [`AdmissionPolicy`].

use std::time::Duration;

/// What the admission policy allows. The defaults suit a broker on a small machine;
/// every field can be set in a configuration file (feature `serde`, durations as
/// `"10s"`/`"500ms"`, unknown keys are refused).
///
/// Two resources are bounded separately because they cost different things:
/// - **handshakes in progress** ([`max_handshakes`](Self::max_handshakes)): a handshake
///   waiting for the client's answer costs about 500 bytes and no CPU, so the bound is a
///   memory bound and can be large;
/// - **work in progress** ([`max_concurrent_work`](Self::max_concurrent_work)): credential
///   lookups and proof checks, which cost CPU (and a store connection). Steps wait for a work
///   slot in a fair queue (round robin over addresses), at most
///   [`max_work_wait`](Self::max_work_wait).
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram_authenticator::admission::AdmissionPolicy;
/// let mut policy = AdmissionPolicy::default();
/// assert_eq!(policy.max_handshakes, 100_000);
/// policy.max_handshakes_per_address = 16;
/// policy.first_step_timeout = Duration::from_secs(5);
/// assert!(policy.validate().is_ok());
/// policy.max_concurrent_work = 0;
/// assert!(policy.validate().unwrap_err().contains("max_concurrent_work"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct AdmissionPolicy {
    /// Handshakes in progress at once, from CONNECT (or AUTH 0x19) to the last packet
    /// (default 100,000). Beyond it a new handshake is refused with 0x89 Server busy.
    pub max_handshakes: usize,
    /// Handshakes in progress at once from one address (see
    /// [`ipv6_prefix_len`](Self::ipv6_prefix_len)); default 64, `0` for no per-address cap.
    /// Raise it when many clients share one address (a NAT, or a proxy that does not pass the
    /// client's address on).
    pub max_handshakes_per_address: usize,
    /// Credential lookups and proof checks running at once (default 32).
    pub max_concurrent_work: usize,
    /// How long a step waits in the fair queue for a work slot before the handshake is
    /// refused with 0x89 (default 5 s).
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde"))]
    pub max_work_wait: Duration,
    /// How long the client has to answer the server's first message (AUTH 0x18 with the
    /// server-first-message), default 10 s. The engine's
    /// [`handshake_timeout`](mqtt_scram::ServerConfig::handshake_timeout) (default 30 s)
    /// still bounds the whole exchange; the earlier of the two applies. A client that
    /// computes its proof answers in milliseconds (seconds for a very high iteration count
    /// on a small device), so a shorter first-step deadline frees the places of clients that
    /// never answer sooner.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde"))]
    pub first_step_timeout: Duration,
    /// IPv6 peers are grouped by this prefix length for the per-address cap and the fair
    /// queue (default 64; 128 for single addresses).
    pub ipv6_prefix_len: u8,
    /// Refusals and stalled handshakes are logged as one summary per interval (default 10 s)
    /// instead of one line each.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::serde"))]
    pub notice_interval: Duration,
}

impl Default for AdmissionPolicy {
    fn default() -> Self {
        Self {
            max_handshakes: 100_000,
            max_handshakes_per_address: 64,
            max_concurrent_work: 32,
            max_work_wait: Duration::from_secs(5),
            first_step_timeout: Duration::from_secs(10),
            ipv6_prefix_len: 64,
            notice_interval: Duration::from_secs(10),
        }
    }
}

impl AdmissionPolicy {
    /// Checks the settings; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_handshakes == 0 {
            return Err("max_handshakes: must be at least 1".into());
        }
        if self.max_concurrent_work == 0 {
            return Err("max_concurrent_work: must be at least 1".into());
        }
        if self.first_step_timeout.is_zero() {
            return Err("first_step_timeout: must be longer than zero".into());
        }
        if self.ipv6_prefix_len > 128 {
            return Err(format!(
                "ipv6_prefix_len: {} is over 128",
                self.ipv6_prefix_len
            ));
        }
        if self.notice_interval.is_zero() {
            return Err("notice_interval: must be longer than zero".into());
        }
        Ok(())
    }

    /// The deadline for the client's answer to a challenge sent at `sent_at`: the earlier of
    /// `sent_at + first_step_timeout` and the exchange's own deadline (both on the same
    /// monotonic clock).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mqtt_scram_authenticator::admission::AdmissionPolicy;
    /// let policy = AdmissionPolicy::default();
    /// let secs = Duration::from_secs;
    /// assert_eq!(policy.first_step_deadline(secs(100), secs(130)), secs(110));
    /// assert_eq!(policy.first_step_deadline(secs(125), secs(130)), secs(130));
    /// ```
    pub fn first_step_deadline(&self, sent_at: Duration, exchange_deadline: Duration) -> Duration {
        sent_at
            .saturating_add(self.first_step_timeout)
            .min(exchange_deadline)
    }
}
