//! Random and truncated authentication data through the real broker: whatever arrives,
//! Mosquitto stays up and keeps serving a legitimate client.

use std::time::Duration;

use mqtt_scram::Mechanism;
use mqtt_scram::client::{self, ClientConfig};
use rand::rngs::StdRng;
use rand::{Rng, RngExt as _, SeedableRng};

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, AUTH, Conn};

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let len = rng.random_range(0..=max);
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// One hostile exchange; returns nothing useful: only the broker's survival matters.
fn hostile(addr: std::net::SocketAddr, rng: &mut StdRng, round: usize) {
    let Ok(mut conn) = Conn::tcp(addr) else {
        return;
    };
    let mechanism = if rng.random() {
        Mechanism::ScramSha256
    } else {
        Mechanism::ScramSha512
    };
    let method = mechanism.name();
    let id = format!("fuzz-{round}");
    match round % 4 {
        // Random client-first.
        0 => {
            let data = random_bytes(rng, 600);
            let _ = conn.send_connect(&id, Some(method), Some(&data), None);
        }
        // A truncated client-first.
        1 => {
            let (_, first) = client::start(
                &ClientConfig::new(),
                mechanism,
                "alice",
                PASSWORD,
                &mut rand::rng(),
            )
            .unwrap();
            let cut = rng.random_range(0..first.len());
            let _ = conn.send_connect(&id, Some(method), Some(&first[..cut]), None);
        }
        // A valid client-first, then random, truncated or bit-flipped client-final data.
        _ => {
            let (state, first) = client::start(
                &ClientConfig::new(),
                mechanism,
                "alice",
                "wrong",
                &mut rand::rng(),
            )
            .unwrap();
            if conn
                .send_connect(&id, Some(method), Some(&first), None)
                .is_err()
            {
                return;
            }
            let Ok(challenge) = conn.read() else { return };
            if challenge.kind != AUTH {
                return;
            }
            let data = match state.on_server_first(challenge.data.as_deref().unwrap_or_default()) {
                Ok((_, mut last)) => match rng.random_range(0..4) {
                    0 => random_bytes(rng, 400),
                    1 => {
                        let cut = rng.random_range(0..last.len());
                        last.truncate(cut);
                        last
                    }
                    2 => {
                        let i = rng.random_range(0..last.len());
                        last[i] ^= 1 << rng.random_range(0..8);
                        last
                    }
                    _ => Vec::new(),
                },
                Err(_) => random_bytes(rng, 400),
            };
            let data = (!data.is_empty() || rng.random()).then_some(data);
            let _ = conn.send_auth(0x18, method, data.as_deref());
        }
    }
    // Whatever the broker answers (CONNACK 0x87, AUTH, a closed socket), read it briefly.
    let _ = conn.read();
}

fn legitimate_login(f: &Fixture) {
    let mut conn = Conn::tcp(f.broker.addr()).unwrap();
    let login = wire::scram_login(
        &mut conn,
        "legit",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(login.last.reason, 0, "{login:?}");
}

#[test]
fn random_and_truncated_auth_data_never_stop_the_broker() {
    let Some(mut f) = Fixture::start(|c, _| c) else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(0x5C2A_4D5E);
    for round in 0..400 {
        hostile(f.broker.addr(), &mut rng, round);
        if round % 100 == 99 {
            assert!(
                f.broker.is_running(),
                "broker died at round {round}:\n{}",
                f.broker.log()
            );
            legitimate_login(&f);
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(f.broker.is_running(), "{}", f.broker.log());
    legitimate_login(&f);
    assert!(
        !f.broker.log().contains("internal error"),
        "a callback panicked"
    );
}
