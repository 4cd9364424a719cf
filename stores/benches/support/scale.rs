//! Shared by the scale benches (`stores/benches/scale_*.rs`,
//! `authenticator/benches/waiting_handshakes.rs`): resident memory from `/proc`, the peak
//! reset, percentiles, bounded env settings and the CSV rows `tools/plot_scale.py` plots.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// A `usize` from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The sizes 1, 10, 100, … up to `max` (and `max` itself), from `min`.
pub fn decades(min: usize, max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut n = min.max(1);
    while n < max {
        sizes.push(n);
        n *= 10;
    }
    sizes.push(max);
    sizes
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resident set size of this process, bytes.
pub fn rss() -> u64 {
    status_kib("VmRSS:") * 1024
}

/// Peak resident set size since the last [`reset_peak`], bytes.
pub fn peak_rss() -> u64 {
    status_kib("VmHWM:") * 1024
}

/// Resets the peak RSS (`echo 5 > /proc/self/clear_refs`); false if the kernel refused.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// User + system CPU time of this process so far (from `/proc/self/stat`).
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// The `p`-th percentile (0..=100, may be fractional) of sorted `samples`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// p50, p99, p99.9 and max of `samples` (sorted in place).
pub fn summary(samples: &mut [Duration]) -> [Duration; 4] {
    samples.sort_unstable();
    [
        percentile(samples, 50.0),
        percentile(samples, 99.0),
        percentile(samples, 99.9),
        samples.last().copied().unwrap_or_default(),
    ]
}

/// Nanoseconds as a compact string.
pub fn ns(d: Duration) -> String {
    let n = d.as_nanos();
    if n < 10_000 {
        format!("{n} ns")
    } else if n < 10_000_000 {
        format!("{:.1} µs", n as f64 / 1e3)
    } else {
        format!("{:.1} ms", n as f64 / 1e6)
    }
}

/// A cheap deterministic sequence of indices below `n` (xorshift), so lookups hit users in
/// no cache-friendly order.
pub struct Xorshift(pub u64);

impl Xorshift {
    /// The next index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }
}

/// Where CSV results go: `$SCALE_CSV_DIR`, default `target/scale` in the workspace.
pub fn csv_dir() -> PathBuf {
    std::env::var_os("SCALE_CSV_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/scale"),
        PathBuf::from,
    )
}

/// Writes `header` and `rows` to `<csv_dir>/<name>.csv` and says where.
pub fn write_csv(name: &str, header: &str, rows: &[String]) {
    let dir = csv_dir();
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.csv"));
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{header}").unwrap();
    for row in rows {
        writeln!(f, "{row}").unwrap();
    }
    println!("wrote {}", path.display());
}

/// The machine's load average (1, 5, 15 min) as printed by `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
