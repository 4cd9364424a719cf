//! Every example command in cli/README.md runs as written: each `sh` block line that calls
//! `mqtt-scram` (except the prompted one, tested on a pseudo-terminal in cli_gen.rs, and
//! `probe`, which needs a broker: cli_probe.rs) is run by `sh` in a scratch directory holding
//! `passwords.csv`, in README order, and must exit 0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::Path;
use std::process::Command;

use mqtt_scram_testkit::TempDir;

fn examples() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && l.contains("mqtt-scram ") && !l.starts_with('#') => {
                out.push(l.to_owned())
            }
            _ => {}
        }
    }
    out
}

#[test]
fn readme_examples_run() {
    let dir = TempDir::new("cli-readme");
    dir.write(
        "passwords.csv",
        "username,password,is_superuser\nalice,apw,false\nbob,bpw,true\n",
    );
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_mqtt-scram"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = Vec::new();
    for example in examples() {
        let skip = example.starts_with("cargo ")
            || example.contains("mqtt-scram probe")
            || example == "mqtt-scram gen --user alice";
        if skip {
            continue;
        }
        let o = Command::new("sh")
            .args(["-c", &example])
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "README example failed: {example}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        ran.push(example);
    }
    for sub in ["gen", "verify", "convert"] {
        assert!(
            ran.iter()
                .any(|e| e.contains(&format!("mqtt-scram {sub} "))),
            "no {sub} example ran: {ran:#?}"
        );
    }
    assert_eq!(ran.len(), 7, "{ran:#?}");
    assert!(dir.join("users.csv").exists());
}
