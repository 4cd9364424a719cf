//! `mqtt-scram probe --json` (the `mqtt-scram-cli` package's binary) as a test client of a
//! broker, shared by the broker's interop tests and the Mosquitto plugin's tests.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::{process, workspace_bin};

/// How long one probe run may take (its own `--timeout` is 20 s a step).
pub const LIMIT: Duration = Duration::from_secs(60);

/// Runs `mqtt-scram probe <target> --json` with the password on stdin and `extra` arguments
/// (`-u alice --reauth`, `--tls --ca ...`); returns the exit code and the JSON report.
/// Blocking (see [`process::output_within`]).
pub fn run(target: &str, password: &str, extra: &[&str]) -> (i32, Value) {
    let out = process::output_within(
        Command::new(workspace_bin("mqtt-scram-cli", "mqtt-scram"))
            .args([
                "probe",
                target,
                "--password-stdin",
                "--json",
                "--timeout",
                "20",
            ])
            .args(extra),
        Some(format!("{password}\n").as_bytes()),
        LIMIT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "probe printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// A probe report without what may differ between two runs (timings, names, peers), so
/// that a wrong password and an unknown user can be compared step by step.
pub fn comparable(mut report: Value) -> Value {
    let object = report.as_object_mut().unwrap();
    for key in ["timings_ms", "username", "target"] {
        object.remove(key);
    }
    for step in report["steps"].as_array_mut().unwrap() {
        step.as_object_mut()
            .unwrap()
            .retain(|k, _| !k.ends_with("_ms") && k != "peer" && k != "client_id");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparable_drops_timings_names_and_peers() {
        let report = serde_json::json!({
            "result": "rejected", "username": "alice", "target": "127.0.0.1:1",
            "timings_ms": {"total": 3},
            "steps": [{"step": "connect", "elapsed_ms": 2, "peer": "x", "client_id": "c"}],
        });
        assert_eq!(
            comparable(report),
            serde_json::json!({"result": "rejected", "steps": [{"step": "connect"}]})
        );
    }
}
