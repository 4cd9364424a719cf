//! Shared pieces of `benches/auth_service.rs`: the servers, the users, the load generator,
//! and the side-by-side report (short alternating rounds, so that load from other processes
//! on the machine hits both sides of a ratio alike).

pub mod client;
pub mod data;
pub mod servers;

use std::time::{Duration, Instant};

use client::{Load, Stop, Worker};

/// `name=value` from the environment, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One side of a comparison: a name, how it is driven, and the rate it reached.
pub enum Side<'a> {
    /// Requests over HTTP by `workers`.
    Http {
        name: &'a str,
        workers: &'a mut [Worker],
        load: &'a Load,
    },
    /// A function run in a loop on the bench thread (e.g. the PBKDF2 floor).
    Local { name: &'a str, one: &'a dyn Fn() },
}

impl Side<'_> {
    fn name(&self) -> &str {
        match self {
            Side::Http { name, .. } | Side::Local { name, .. } => name,
        }
    }

    fn round(&mut self, runtime: &tokio::runtime::Runtime, round: Duration) -> (u64, Duration) {
        match self {
            Side::Http { workers, load, .. } => {
                client::run(runtime, workers, load, Stop::Time(round))
            }
            Side::Local { one, .. } => {
                let start = Instant::now();
                let mut n = 0;
                while start.elapsed() < round {
                    one();
                    n += 1;
                }
                (n, start.elapsed())
            }
        }
    }
}

/// The printed summary: markdown table rows, printed after the criterion groups.
#[derive(Default)]
pub struct Report {
    lines: Vec<String>,
}

impl Report {
    /// A free line.
    pub fn note(&mut self, line: String) {
        eprintln!("{line}");
        self.lines.push(line);
    }

    /// Runs `rounds` alternating rounds of `round` per side; records each side's rate
    /// (operations/s) and its ratio to the first side; returns the rates.
    pub fn compare(
        &mut self,
        title: &str,
        runtime: &tokio::runtime::Runtime,
        sides: &mut [Side<'_>],
    ) -> Vec<f64> {
        let rounds: u32 = env_or("AUTH_BENCH_ROUNDS", 8);
        let round = Duration::from_millis(env_or("AUTH_BENCH_ROUND_MS", 500));
        let mut totals = vec![(0u64, Duration::ZERO); sides.len()];
        for _ in 0..rounds.max(1) {
            for (side, total) in sides.iter_mut().zip(totals.iter_mut()) {
                let (n, took) = side.round(runtime, round);
                total.0 += n;
                total.1 += took;
            }
        }
        let rates: Vec<f64> = totals
            .iter()
            .map(|(n, took)| *n as f64 / took.as_secs_f64())
            .collect();
        self.note(format!(
            "\n{title} ({rounds} alternating rounds of {} ms per side)",
            round.as_millis()
        ));
        self.note("| side | ops/s | ratio to the first |".into());
        self.note("|---|---|---|".into());
        for (side, rate) in sides.iter().zip(&rates) {
            self.note(format!(
                "| {} | {rate:.0} | {:.3} |",
                side.name(),
                rate / rates[0]
            ));
        }
        rates
    }

    /// Prints every line again, together, at the end of the run.
    pub fn print(&self) {
        println!("\n==== auth service: side-by-side summary ====");
        for line in &self.lines {
            println!("{line}");
        }
    }
}

/// `/proc/loadavg`'s first three fields.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
