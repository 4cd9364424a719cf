//! Test peers (servers and clients installed from Debian, npm or PyPI) and what happens
//! when one is missing.

/// The variable that turns a missing peer from a failure into a loud skip.
pub const SKIP_VARIABLE: &str = "MQTT_SCRAM_SKIP_MISSING_PEERS";

/// `true` if the peer is there; otherwise fails the test, or (with
/// `MQTT_SCRAM_SKIP_MISSING_PEERS=1`) prints SKIPPED and returns `false`.
pub fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var(SKIP_VARIABLE).as_deref() == Ok("1") {
        eprintln!("\n********** SKIPPED: {what} is not installed ({SKIP_VARIABLE}=1) **********\n");
        return false;
    }
    panic!("{what} is not installed: run scripts/test (or set {SKIP_VARIABLE}=1 to skip)");
}

/// Whether `program` runs (`program --version` exits 0).
pub fn runs(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
