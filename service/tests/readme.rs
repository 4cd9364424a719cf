//! The root README's "Auth service" section: its `service.toml` blocks load as written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::Path;

use mqtt_scram_service::ServiceConfig;

fn toml_blocks() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("\n## Auth service\n")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (line.trim(), current.as_mut()) {
            ("```toml", None) => current = Some(String::new()),
            ("```", Some(_)) => blocks.extend(current.take()),
            (_, Some(block)) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn the_readme_service_toml_loads() {
    let blocks = toml_blocks();
    assert_eq!(blocks.len(), 2, "{blocks:#?}");
    let complete = ServiceConfig::from_toml(&blocks[0]).unwrap();
    assert!(complete.emqx5.is_some() && complete.emqx4.is_some());
    assert!(complete.amqtt.is_some() && complete.vernemq.is_some());
    assert!(complete.tls.is_some() && complete.auth.is_some());
    ServiceConfig::from_toml(&format!("{}\n[emqx5]\n", blocks[1])).unwrap();
}
