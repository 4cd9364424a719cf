//! The record codec (`mqtt_scram_stores::record`) on 10,000 users, JSON and CSV side by side
//! in one run: reading (parse + validate: base64, lengths, rules, duplicates), parsing alone
//! (the shape, no validation), writing, and the
//! file store loading the same file (read + codec + swap into the memory store). Half of the
//! users carry client attributes, an expiry and two ACL rules (compiled at load).
//!
//! `cargo bench -p mqtt-scram-stores --bench record_codec`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::UserRecord;
use mqtt_scram_stores::FileProvider;
use mqtt_scram_stores::record::{
    CredentialRecord, Format, csv, json, read_records, with_acl_rules,
};

const USERS: usize = 10_000;

fn records() -> Vec<CredentialRecord> {
    let rules: Vec<mqtt_scram_authz::AclRule> = serde_json::from_str(
        r##"[{"permission":"allow","action":"all","topic":"devices/${username}/#"},
            {"permission":"deny","action":"all","topic":"#"}]"##,
    )
    .unwrap();
    (0..USERS)
        .map(|i| {
            let n = u8::try_from(i % 251).unwrap();
            // Keys are not derived (no PBKDF2): the codec only checks lengths and base64.
            let credentials = StoredCredentials::from_parts(
                HashAlgorithm::Sha256,
                &[n; 16],
                4096,
                &[n; 32],
                &[n.wrapping_add(1); 32],
            )
            .unwrap();
            let mut record = UserRecord::new(credentials);
            if i % 2 == 0 {
                record = with_acl_rules(record, &rules)
                    .unwrap()
                    .client_attrs([("site".to_owned(), format!("s{}", i % 7))].into())
                    .expire_at(Some(1_900_000_000));
            }
            CredentialRecord::new(&format!("user{i:05}"), &record)
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let records = records();
    let texts = [
        ("json", Format::Json, json::write_lines(&records).unwrap()),
        (
            "csv",
            Format::Csv,
            mqtt_scram_stores::record::write_records(&records, Format::Csv).unwrap(),
        ),
    ];
    let dir = std::env::temp_dir().join(format!("record-codec-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut group = c.benchmark_group("record_codec_10k");
    group.throughput(Throughput::Elements(USERS as u64));
    group.sample_size(20);
    for (name, format, text) in &texts {
        println!("{name}: {} bytes for {USERS} users", text.len());
        group.bench_with_input(BenchmarkId::new("read", name), text, |b, text| {
            b.iter(|| read_records(black_box(text), *format).unwrap());
        });
        group.bench_with_input(BenchmarkId::new("parse_only", name), text, |b, text| {
            b.iter(|| match format {
                Format::Csv => csv::read_raw(black_box(text)).unwrap().len(),
                _ => json::read_raw(black_box(text)).unwrap().len(),
            });
        });
        group.bench_with_input(BenchmarkId::new("write", name), &records, |b, records| {
            b.iter(|| {
                mqtt_scram_stores::record::write_records(black_box(records), *format).unwrap()
            });
        });
        let path = dir.join(format!("users.{name}"));
        std::fs::write(&path, text).unwrap();
        let store = FileProvider::open(&path).unwrap();
        group.bench_function(BenchmarkId::new("file_store_reload", name), |b| {
            b.iter(|| store.reload().unwrap());
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, codec);
criterion_main!(benches);
