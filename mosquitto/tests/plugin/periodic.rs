//! The periodic work without `MOSQ_EVT_TICK`: Mosquitto 2.0.11 sends no TICK with
//! `per_listener_settings true`, so the plugin does it on the next callback once it is due,
//! and flushes every pending summary at cleanup (broker shutdown).

use std::time::Duration;

use mqtt_scram::Mechanism;

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, AUTH, Conn};

/// The sum of `(stalled: N)` over the summary lines of `log`.
fn stalled_in(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("mqtt-scram:") && l.contains("refused or stalled"))
        .filter_map(|l| {
            let at = l.find("stalled: ")? + "stalled: ".len();
            let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        })
        .sum()
}

fn login(f: &Fixture, id: &str) {
    let mut conn = Conn::tcp(f.broker.addr()).unwrap();
    let ok = wire::scram_login(
        &mut conn,
        id,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(ok.last.reason, 0, "{ok:?}");
}

#[test]
fn per_listener_settings_get_stats_reports_and_every_stall_is_logged_by_shutdown() {
    const STALLS: usize = 40;
    let Some(f) = Fixture::start(|c, _| {
        c.per_listener_settings()
            .option("stats_interval", "1s")
            .option("first_step_timeout", "1s")
            .option("max_handshakes_per_address", 64)
    }) else {
        return;
    };
    // The stats report: due one interval after start, written on the next callback.
    login(&f, "first");
    std::thread::sleep(Duration::from_millis(1_200));
    login(&f, "second");
    assert!(
        f.broker
            .wait_for_log("mqtt-scram: callback time:", 0, Duration::from_secs(5)),
        "no stats_interval report without TICK\n{}",
        f.broker.log()
    );

    // A stall flood: clients that never answer the challenge, and no client after them.
    let mut stalled = Vec::new();
    for i in 0..STALLS {
        let mut conn = Conn::tcp(f.broker.addr()).unwrap();
        conn.send_connect(
            &format!("stall-{i}"),
            Some("SCRAM-SHA-256"),
            Some(format!("n,,n=alice,r=stallnonce{i:08}").as_bytes()),
            None,
        )
        .unwrap();
        assert_eq!(conn.read().unwrap().kind, AUTH);
        stalled.push(conn);
    }
    // Every deadline passes; nothing else happens until the broker stops.
    std::thread::sleep(Duration::from_millis(1_500));
    let (status, log) = f.broker.stop_with_status();
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{log}");
    assert_eq!(
        stalled_in(&log),
        STALLS as u64,
        "every stall counted and logged by shutdown\n{log}"
    );
    assert!(log.contains("mqtt-scram: shutting down"), "{log}");
    drop(stalled);
}
