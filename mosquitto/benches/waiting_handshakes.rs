//! Waiting handshakes in Mosquitto (issue 22 §2): what N connections that stopped half-way
//! through SCRAM cost a real Mosquitto 2.0 (Debian) with the plugin (file store, records at
//! 4096 iterations), at N = 0, 1k, 5k, 10k and as many as the open-file limit allows.
//!
//! At each N, in one run, each contender on a fresh broker (Mosquitto's default logging):
//! - `scram`: N connections each send CONNECT with Authentication Method SCRAM-SHA-256 and
//!   the client-first-message, get AUTH 0x18 (server-first-message) and stay silent: N
//!   waiting handshakes (`plugin_opt_first_step_timeout` T = `LOADGEN_FIRST_STEP_SECS` +
//!   `LOADGEN_OPEN_BUDGET_MS` per connection, so all are open before the first expires);
//! - `anonymous`: N connections logged in with a plain CONNECT on a broker without the
//!   plugin (`allow_anonymous true`): Mosquitto's own cost of a connection.
//!
//! Figures: the broker's resident memory (`VmRSS`; `smaps_rollup` `Anonymous`) before and
//! with the N connections, per connection, and scram − anonymous (the plugin's share per
//! waiting handshake; goal ≤ 1 KiB per waiting handshake including the connection's share).
//! While they wait, a legitimate client logs in `LOADGEN_LOGINS` times one after another
//! (new connection → CONNECT + client-first → AUTH client-final → CONNACK 0x00 → DISCONNECT;
//! latency = connect to CONNACK; goal p99 ≤ 10 ms). Then nothing happens while the N
//! handshakes pass T: the broker's CPU (all threads' `schedstat`, ns; and `utime + stime`)
//! in the window in which they expire beyond the rate of a quiet window just before, per
//! expired handshake (goal: flat in N), and the plugin's longest TICK callback then (its
//! `stats_interval 1s` lines). After expiry: handshakes left, the broker's open descriptors
//! (does it close the connections?), and what a late AUTH gets. Then, on the same broker, the
//! connections closed, N new waiting handshakes: a legitimate client logs in every
//! `LOADGEN_PACE_MS` through a quiet window and the expiry (latency in each). Last, a probe:
//! does Mosquitto's keep-alive close a silent connection that is still authenticating
//! (keep-alive 1 s and 0, 8 s of silence; a logged-in one with 1 s as the control)?
//!
//! Every connection is bound to a source address in 127.1.0.0/16 (`LOADGEN_SOURCES`); the
//! legitimate client uses 127.2.0.x. One descriptor per connection on each side: the
//! largest N is this process's open-file soft limit minus `LOADGEN_RESERVE`.
//!
//! ```text
//! cargo bench -p mqtt-scram-mosquitto --bench waiting_handshakes
//! # knobs: LOADGEN_STEPS ("0,1000,5000,10000,max"), LOADGEN_RESERVE (400),
//! # LOADGEN_SOURCES (1000), LOADGEN_USERS (50), LOADGEN_LOGINS (2000), LOADGEN_PACE_MS (5),
//! # LOADGEN_FIRST_STEP_SECS (6), LOADGEN_OPEN_BUDGET_MS (0.5), LOADGEN_CONCURRENCY (64),
//! # LOADGEN_CLIENT_THREADS (2), LOADGEN_CSV (a path: also write the figures as CSV)
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[allow(dead_code)]
#[path = "support/loadgen.rs"]
mod loadgen;
#[allow(dead_code)]
#[path = "support/mosqproc.rs"]
mod mosqproc;
#[allow(dead_code)]
#[path = "support/procstat.rs"]
mod procstat;
#[path = "support/wire.rs"]
mod wire;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use loadgen::{Conn, Credential, METHOD, ScramUser, source};
use mosqproc::{
    Broker, Mem, auth_packet, connect_packet, cpu_ns, exchange, fd_limits, fmt_stats,
    handshakes_left, open_fds, open_many, per_conn, slab_kib, sleep_until, stats, tick_max,
};
use mqtt_scram::provider::UserRecord;
use mqtt_scram_stores::record::{CredentialRecord, json};
use mqtt_scram_testkit::TempDir;
use procstat::{Cpu, env_or};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::runtime::Runtime;

const PASSWORD: &str = "correct horse battery staple";
const ITERATIONS: u32 = 4096;

/// The plugin built with this bench (`target/<profile>/deps/`).
fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("libmqtt_scram_mosquitto.so")
}

struct Ctx {
    rt: Runtime,
    dir: TempDir,
    records: String,
    users: Vec<Arc<ScramUser>>,
    sources: usize,
    concurrency: usize,
    logins: usize,
    pace: Duration,
    first_step: f64,
    open_budget_ms: f64,
}

fn scram_lines(ctx: &Ctx, first_step: Duration, n: usize) -> Vec<String> {
    let store = ctx.dir.write("users.json", &ctx.records);
    let key = ctx.dir.write("mock.key", &"5a".repeat(32));
    {
        // The plugin refuses a mock key file others can read.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let per_address = (n.div_ceil(ctx.sources.max(1)) + 16).max(64);
    vec![
        "allow_anonymous false".into(),
        format!("plugin {}", plugin_path().display()),
        format!("plugin_opt_store {}", store.display()),
        format!("plugin_opt_mock_key_file {}", key.display()),
        "plugin_opt_stats_interval 1s".into(),
        format!("plugin_opt_first_step_timeout {}ms", first_step.as_millis()),
        format!(
            "plugin_opt_handshake_timeout {}ms",
            first_step.as_millis() + 60_000
        ),
        format!("plugin_opt_max_handshakes {}", (n + 1000).max(100_000)),
        format!("plugin_opt_max_handshakes_per_address {per_address}"),
    ]
}

/// The legitimate client's source addresses: 127.2.0.1 … 127.2.0.50.
fn legit_source(i: usize) -> IpAddr {
    IpAddr::from([127, 2, 0, (i % 50) as u8 + 1])
}

/// A client-first-message (gs2 header `n,,`) for `user`.
fn client_first(user: &str) -> Vec<u8> {
    format!("n,,n={user},r={:032x}", rand::random::<u128>()).into_bytes()
}

/// One complete SCRAM login; returns connect-to-CONNACK.
async fn login(addr: SocketAddr, user: &Arc<ScramUser>, i: usize) -> Duration {
    let started = Instant::now();
    let mut conn = Conn::open(addr, legit_source(i)).await.unwrap();
    conn.login(
        &Credential::Scram(Arc::clone(user)),
        &format!("legit-{}", i % 64),
    )
    .await;
    let took = started.elapsed();
    conn.disconnect().await;
    took
}

/// A waiting handshake: its connection, when CONNECT went out and when AUTH 0x18 came back.
type Waiting = (tokio::net::TcpStream, Instant, Instant);

fn open_waiting(ctx: &Ctx, addr: SocketAddr, n: usize) -> (Vec<Waiting>, Option<String>) {
    let (sources, users) = (ctx.sources, &ctx.users);
    open_many(&ctx.rt, n, ctx.concurrency, |i| {
        let first = client_first(&users[i % users.len()].name);
        let packet = connect_packet(&format!("wait-{i}"), 600, Some((METHOD, &first)));
        async move {
            let sent = Instant::now();
            let (stream, first, code) = exchange(addr, source(i, sources), &packet)
                .await
                .map_err(|e| format!("connection {i}: {e}"))?;
            if first != 0xF0 || code != 0x18 {
                return Err(format!("connection {i}: got {first:#04x} {code:#04x}"));
            }
            Ok((stream, sent, Instant::now()))
        }
    })
}

/// A legitimate client logging in every `pace` on its own thread.
struct Pacer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Instant, Duration)>>,
}

impl Pacer {
    fn start(ctx: &Ctx, addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, users, pace) = (Arc::clone(&stop), ctx.users.clone(), ctx.pace);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (mut times, mut next, mut i) = (Vec::new(), Instant::now(), 0);
                while !flag.load(Ordering::Relaxed) {
                    next = (next + pace).max(Instant::now());
                    tokio::time::sleep_until(next.into()).await;
                    let at = Instant::now();
                    times.push((at, login(addr, &users[i % users.len()], i).await));
                    i += 1;
                }
                times
            })
        });
        Self { stop, thread }
    }

    fn stop(self) -> Vec<(Instant, Duration)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("a paced login failed")
    }
}

/// Broker CPU now: (schedstat ns, utime + stime).
fn cpu(pid: u32) -> (u64, Duration) {
    (cpu_ns(pid), Cpu::of(&pid.to_string()).total())
}

#[derive(Default)]
struct Scram {
    /// Waiting handshakes actually opened.
    opened: usize,
    error: Option<String>,
    first_step: Duration,
    open: Duration,
    mem0: Mem,
    mem: Mem,
    mem_after: Mem,
    /// With a second population of N waiting, after the first expired and closed.
    mem_again: Mem,
    slab_per_conn: f64,
    fds: usize,
    fds_after: usize,
    logins: (usize, f64, f64, f64),
    quiet: (usize, f64, f64, f64),
    expiring: (usize, f64, f64, f64),
    quiet_ns_per_s: f64,
    /// Expiry CPU beyond the quiet rate, per expired handshake: (schedstat µs, utime+stime µs).
    expiry_us: Option<(f64, f64)>,
    expiry_window: Duration,
    /// The plugin's longest TICK callback in the expiry window (µs; its stats lines).
    tick_max_us: Option<u64>,
    left: Option<u64>,
    late: String,
}

/// The first and the last deadline of a population of waiting handshakes.
type Deadlines = Option<(Instant, Instant)>;
/// The connections, the first error, how long opening took, the deadlines.
type Population = (Vec<Waiting>, Option<String>, Duration, Deadlines);
/// Quiet ns/s, quiet window, expiry window's end, per expired handshake, log offset.
type Windows = (f64, (Instant, Instant), Instant, Option<(f64, f64)>, usize);

/// N waiting handshakes on `broker`: the connections, the first error, how long opening
/// took, and the window in which their deadlines fall.
fn population(ctx: &Ctx, broker: &Broker, n: usize, first_step: Duration) -> Population {
    let opening = Instant::now();
    let (waiting, error) = open_waiting(ctx, broker.addr, n);
    let open = opening.elapsed();
    let first = waiting.iter().map(|w| w.1).min();
    let last = waiting.iter().map(|w| w.2).max();
    let deadlines = first
        .zip(last)
        .map(|(f, l)| (f + first_step, l + first_step));
    (waiting, error, open, deadlines)
}

/// CPU of `pid` over a quiet window up to 300 ms before `deadlines` and over the window in
/// which they pass (to half a second after the last: expiry runs on the ~100 ms TICK):
/// (quiet ns/s, quiet window, expiry window, per expired handshake (schedstat µs, ticks µs),
/// log offset at the expiry window's start).
fn expiry_windows(broker: &Broker, deadlines: Deadlines, count: usize) -> Windows {
    let pid = broker.pid();
    let quiet_start = Instant::now() + Duration::from_millis(300);
    let quiet_end = deadlines
        .map_or(quiet_start + Duration::from_secs(3), |d| {
            d.0 - Duration::from_millis(300)
        })
        .max(quiet_start + Duration::from_millis(500));
    sleep_until(quiet_start);
    let c0 = cpu(pid);
    sleep_until(quiet_end);
    let c1 = cpu(pid);
    let skip = broker.log().len();
    let secs = (quiet_end - quiet_start).as_secs_f64();
    let (ns_per_s, tick_per_s) = (
        (c1.0 - c0.0) as f64 / secs,
        (c1.1 - c0.1).as_secs_f64() / secs,
    );
    let Some((_, last)) = deadlines.filter(|_| count > 0) else {
        return (ns_per_s, (quiet_start, quiet_end), quiet_end, None, skip);
    };
    let end = last + Duration::from_millis(500);
    sleep_until(end);
    let c2 = cpu(pid);
    let secs = (end - quiet_end).as_secs_f64();
    let ns = (c2.0 - c1.0) as f64 - ns_per_s * secs;
    let tick = (c2.1 - c1.1).as_secs_f64() - tick_per_s * secs;
    let per = (ns / 1e3 / count as f64, tick * 1e6 / count as f64);
    (ns_per_s, (quiet_start, quiet_end), end, Some(per), skip)
}

fn scram_step(ctx: &Ctx, n: usize) -> Scram {
    let first_step = Duration::from_secs_f64(ctx.first_step + n as f64 * ctx.open_budget_ms / 1e3);
    let broker = Broker::start(
        &ctx.dir,
        &format!("scram-{n}"),
        &scram_lines(ctx, first_step, n),
    );
    let pid = broker.pid();
    std::thread::sleep(Duration::from_millis(300));
    let (mem0, slab0) = (Mem::of(pid), slab_kib());
    // First population: memory, sequential logins, then the expiry's CPU with nothing else
    // going on.
    let (mut waiting, error, open, deadlines) = population(ctx, &broker, n, first_step);
    let opened = waiting.len();
    std::thread::sleep(Duration::from_millis(500));
    let (mem, fds) = (Mem::of(pid), open_fds(pid));
    let slab_per_conn = if opened > 0 {
        per_conn(slab0, slab_kib(), opened)
    } else {
        f64::NAN
    };
    // Sequential logins while they wait; leave a quiet window of 2 s before the first expiry.
    let stop_at = deadlines
        .and_then(|d| d.0.checked_sub(Duration::from_millis(2600)))
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
    let logins = ctx.rt.block_on(async {
        let mut times = Vec::with_capacity(ctx.logins);
        while times.len() < ctx.logins && Instant::now() < stop_at {
            let i = times.len();
            times.push(login(broker.addr, &ctx.users[i % ctx.users.len()], i).await);
        }
        times
    });
    let (quiet_ns_per_s, _, end, expiry_us, skip) = expiry_windows(&broker, deadlines, opened);
    let expiry_window = end.saturating_duration_since(deadlines.map_or(end, |d| d.0));
    // The next stats_interval line (handshakes in progress, TICK timings).
    std::thread::sleep(Duration::from_millis(1300));
    let log = broker.log();
    let (left, tick_max_us) = (
        handshakes_left(&log),
        tick_max(log.get(skip..).unwrap_or("")),
    );
    let (mem_after, fds_after) = (Mem::of(pid), open_fds(pid));
    // A late answer on the first waiting connection.
    let late = waiting.first_mut().map_or("–".into(), |(stream, ..)| {
        ctx.rt.block_on(async {
            let auth = auth_packet(0x18, METHOD, b"c=biws,r=late,p=AAAA");
            stream.write_all(&auth).await.unwrap();
            let read = mosqproc::reply(stream);
            match tokio::time::timeout(Duration::from_secs(2), read).await {
                Ok(Ok((first, code))) => format!("packet {first:#04x} reason {code:#04x}"),
                Ok(Err(e)) => format!("closed ({e})"),
                Err(_) => "no answer in 2 s".into(),
            }
        })
    });
    drop(waiting);
    // Second population: a legitimate client logs in every `pace` through a quiet window
    // and the expiry.
    std::thread::sleep(Duration::from_secs(1));
    let (waiting, _, _, deadlines) = population(ctx, &broker, n, first_step);
    std::thread::sleep(Duration::from_millis(300));
    let mem_again = Mem::of(pid);
    let pacer = Pacer::start(ctx, broker.addr);
    let (_, quiet, end, ..) = expiry_windows(&broker, deadlines, waiting.len());
    let times = pacer.stop();
    let window = |from: Instant, to: Instant| {
        let v = times.iter().filter(|t| t.0 >= from && t.0 < to);
        stats(v.map(|t| t.1).collect())
    };
    Scram {
        opened,
        error,
        first_step,
        open,
        mem0,
        mem,
        mem_after,
        mem_again,
        slab_per_conn,
        fds,
        fds_after,
        logins: stats(logins),
        quiet: window(quiet.0, quiet.1),
        expiring: window(quiet.1, end),
        quiet_ns_per_s,
        expiry_us,
        expiry_window,
        tick_max_us,
        left,
        late,
    }
}

/// `anonymous`: (memory before, with the connections, connections held, error).
fn anonymous_step(ctx: &Ctx, n: usize) -> (Mem, Mem, usize, Option<String>) {
    let broker = Broker::start(
        &ctx.dir,
        &format!("anonymous-{n}"),
        &["allow_anonymous true".into()],
    );
    let pid = broker.pid();
    std::thread::sleep(Duration::from_millis(300));
    let mem0 = Mem::of(pid);
    let (addr, sources) = (broker.addr, ctx.sources);
    let (held, error) = open_many(&ctx.rt, n, ctx.concurrency, |i| async move {
        let mut conn = Conn::open(addr, source(i, sources))
            .await
            .map_err(|e| format!("connection {i}: {e}"))?;
        conn.login(&Credential::Anonymous, &format!("anon-{i}"))
            .await;
        Ok(conn)
    });
    std::thread::sleep(Duration::from_millis(500));
    let mem = Mem::of(pid);
    (mem0, mem, held.len(), error)
}

/// Whether the broker closed `stream` (read for 300 ms).
async fn state(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => "closed by the broker".to_owned(),
        Ok(Ok(k)) => format!("open, {k} bytes arrived"),
        Err(_) => "still open".to_owned(),
    }
}

/// Does Mosquitto's keep-alive (1 s) close a silent connection: logged in (anonymous broker)
/// and still authenticating (plugin broker, first-step timeout 60 s); and one with keep-alive 0.
fn keepalive_probe(ctx: &Ctx) -> (String, String, String) {
    let anonymous = Broker::start(&ctx.dir, "probe-anon", &["allow_anonymous true".into()]);
    let lines = scram_lines(ctx, Duration::from_secs(60), 1);
    let scram = Broker::start(&ctx.dir, "probe-scram", &lines);
    let (first, users) = (client_first(&ctx.users[0].name), &ctx.users);
    ctx.rt.block_on(async {
        let src = IpAddr::from([127, 3, 0, 1]);
        let logged = connect_packet("probe-a", 1, None);
        let (mut a, ..) = exchange(anonymous.addr, src, &logged).await.unwrap();
        let waiting = connect_packet("probe-s", 1, Some((METHOD, &first)));
        let (mut s, ..) = exchange(scram.addr, src, &waiting).await.unwrap();
        let first = client_first(&users[0].name);
        let no_keep_alive = connect_packet("probe-z", 0, Some((METHOD, &first)));
        let (mut z, ..) = exchange(scram.addr, src, &no_keep_alive).await.unwrap();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let z = state(&mut z).await;
        (state(&mut a).await, state(&mut s).await, z)
    })
}

fn main() {
    if !std::path::Path::new(mosqproc::MOSQUITTO).exists() {
        eprintln!(
            "waiting_handshakes: Mosquitto is missing (scripts/setup-test-peers); nothing measured"
        );
        return;
    }
    let steps: String = env_or("LOADGEN_STEPS", "0,1000,5000,10000,max".to_string());
    let reserve: usize = env_or("LOADGEN_RESERVE", 400);
    let threads: usize = env_or("LOADGEN_CLIENT_THREADS", 2);
    let (soft, hard) = fd_limits("self");
    let max = soft
        .parse::<usize>()
        .unwrap_or(1024)
        .saturating_sub(reserve);
    let user_count: usize = env_or("LOADGEN_USERS", 50);
    let (users, records): (Vec<_>, Vec<_>) = (0..user_count.max(1))
        .map(|i| {
            let (user, creds) = ScramUser::new(&format!("user{i:05}"), PASSWORD, ITERATIONS);
            let record = CredentialRecord::new(&user.name, &UserRecord::new(creds));
            (Arc::new(user), record)
        })
        .unzip();
    let ctx = Ctx {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap(),
        dir: TempDir::new("waiting-handshakes-bench"),
        records: json::write_lines(&records).unwrap(),
        users,
        sources: env_or("LOADGEN_SOURCES", 1000),
        concurrency: env_or("LOADGEN_CONCURRENCY", 64),
        logins: env_or("LOADGEN_LOGINS", 2000),
        pace: Duration::from_secs_f64(env_or("LOADGEN_PACE_MS", 5.0) / 1e3),
        first_step: env_or("LOADGEN_FIRST_STEP_SECS", 6.0),
        open_budget_ms: env_or("LOADGEN_OPEN_BUDGET_MS", 0.5),
    };
    let steps: Vec<usize> = steps
        .split(',')
        .filter_map(|s| match s.trim() {
            "max" => Some(max),
            s => s.parse().ok().map(|n: usize| n.min(max)),
        })
        .collect();
    println!(
        "waiting_handshakes: open-file limit of this process soft {soft} hard {hard} (one descriptor per \
         connection on each side: at most {max} connections with {reserve} kept in reserve); steps {steps:?}; \
         {} sources; {} CPUs; load average {}",
        ctx.sources,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        procstat::load_average()
    );
    let mut rows = Vec::new();
    for &n in &steps {
        let s = scram_step(&ctx, n);
        let (a0, a, held, aerror) = if n > 0 {
            anonymous_step(&ctx, n)
        } else {
            Default::default()
        };
        println!(
            "\nN = {n}: scram {} waiting (opened in {:.1?}, first-step timeout {:?}{}); anonymous {held} logged in{}; load average {}",
            s.opened,
            s.open,
            s.first_step,
            s.error
                .as_ref()
                .map(|e| format!("; stopped by: {e}"))
                .unwrap_or_default(),
            aerror
                .as_ref()
                .map(|e| format!("; stopped by: {e}"))
                .unwrap_or_default(),
            procstat::load_average()
        );
        println!(
            "  broker RSS KiB: scram {} → {} (Anonymous {} → {}), after expiry {}, with a second population of N {}; anonymous {} → {} (Anonymous {} → {}); broker fds {} → {} after expiry; kernel slab Δ/connection {:.0} B (machine-wide, both ends)",
            s.mem0.rss,
            s.mem.rss,
            s.mem0.anon,
            s.mem.anon,
            s.mem_after.rss,
            s.mem_again.rss,
            a0.rss,
            a.rss,
            a0.anon,
            a.anon,
            s.fds,
            s.fds_after,
            s.slab_per_conn
        );
        println!(
            "  login latency ms p50/p99/max: while waiting {}; paced, quiet {}; paced, while expiring {}",
            fmt_stats(s.logins),
            fmt_stats(s.quiet),
            fmt_stats(s.expiring)
        );
        if n > 0 {
            let (ns, tick) = s.expiry_us.unwrap_or((f64::NAN, f64::NAN));
            println!(
                "  expiry: {:.1?} from the first deadline, broker CPU beyond the quiet rate ({:.2} ms/s): {ns:.2} µs per expired handshake (schedstat), {tick:.2} µs (utime+stime); longest TICK callback {} µs; handshakes left {}; late AUTH 0x18 gets: {}",
                s.expiry_window,
                s.quiet_ns_per_s / 1e6,
                s.tick_max_us.map_or("?".into(), |t| t.to_string()),
                s.left.map_or("?".into(), |l| l.to_string()),
                s.late
            );
        }
        rows.push((s, a0, a, held));
    }
    let (anon, scram, none) = keepalive_probe(&ctx);
    println!(
        "\nkeep-alive 1 s, 8 s of silence: logged-in connection {anon}; connection in the SCRAM handshake {scram}; \
         in the SCRAM handshake with keep-alive 0: {none}"
    );
    println!(
        "\n| N | scram B/conn (RSS) | anonymous B/conn (RSS) | plugin share B (RSS / Anonymous) | login p50 / p99 / max ms | paced p99 quiet / expiring ms | expiry µs per handshake (schedstat / utime+stime) | longest TICK µs | fds after expiry |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut csv = String::from(
        "n,scram_rss_b_per_conn,anonymous_rss_b_per_conn,plugin_share_rss_b,plugin_share_anon_b,login_p50_ms,login_p99_ms,login_max_ms,paced_quiet_p99_ms,paced_expiring_p99_ms,expiry_us_schedstat,expiry_us_ticks,tick_max_us,broker_fds_after_expiry\n",
    );
    for (s, a0, a, held) in &rows {
        let n = s.opened;
        let (scram_rss, anon_rss) = (
            per_conn(s.mem0.rss, s.mem.rss, n),
            per_conn(a0.rss, a.rss, *held),
        );
        let share_anon = per_conn(s.mem0.anon, s.mem.anon, n) - per_conn(a0.anon, a.anon, *held);
        let (ns, tick) = s.expiry_us.unwrap_or((f64::NAN, f64::NAN));
        let tick_max = s.tick_max_us.map_or("–".into(), |t| t.to_string());
        if n > 0 {
            println!(
                "| {n} | {scram_rss:.0} | {anon_rss:.0} | {:.0} / {share_anon:.0} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} | {ns:.2} / {tick:.2} | {tick_max} | {} |",
                scram_rss - anon_rss,
                s.logins.1,
                s.logins.2,
                s.logins.3,
                s.quiet.2,
                s.expiring.2,
                s.fds_after
            );
        } else {
            println!(
                "| 0 | – | – | – | {:.2} / {:.2} / {:.2} | {:.2} / – | – | – | {} |",
                s.logins.1, s.logins.2, s.logins.3, s.quiet.2, s.fds_after
            );
        }
        csv.push_str(&format!(
            "{n},{scram_rss:.0},{anon_rss:.0},{:.0},{share_anon:.0},{:.3},{:.3},{:.3},{:.3},{:.3},{ns:.3},{tick:.3},{tick_max},{}\n",
            scram_rss - anon_rss,
            s.logins.1,
            s.logins.2,
            s.logins.3,
            s.quiet.2,
            s.expiring.2,
            s.fds_after
        ));
    }
    println!("\nload average at the end {}", procstat::load_average());
    if let Ok(path) = std::env::var("LOADGEN_CSV") {
        std::fs::write(&path, csv).unwrap();
        println!("wrote {path}");
    }
}
