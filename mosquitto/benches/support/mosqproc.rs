//! A throw-away Mosquitto process for the benches that measure the broker itself
//! (`waiting_handshakes.rs` and `broker_cpu.rs` include this file with `#[path]`): started with its open-file
//! soft limit raised to the hard limit and Mosquitto's default logging; its memory
//! (`VmRSS`, `smaps_rollup`), CPU time in nanoseconds (`schedstat` over its threads), and
//! open descriptors from `/proc`; raw MQTT 5 packets for clients that stop half-way; what
//! the plugin's `stats_interval` lines say; and small statistics.

use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_scram_testkit::{TempDir, free_port};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpSocket;

use crate::procstat::quantile;
use crate::wire::{put_binary, put_binary_value, put_varint, remaining_length};

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A Mosquitto process with a generated configuration; killed on drop.
pub struct Broker {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Broker {
    /// `lines`: the security part of the configuration. Logging stays Mosquitto's default.
    pub fn start(dir: &TempDir, name: &str, lines: &[String]) -> Self {
        let port = free_port();
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
        let mut conf = format!("user {user}\nlog_dest stderr\nmax_connections -1\n");
        for line in lines {
            conf.push_str(line);
            conf.push('\n');
        }
        conf.push_str(&format!("listener {port} 127.0.0.1\n"));
        let conf = dir.write(&format!("{name}.conf"), &conf);
        let log = dir.join(&format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        // One descriptor per connection: the soft open-file limit up to the hard one.
        let child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" -c \"$1\"")
            .arg(MOSQUITTO)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {MOSQUITTO}: {e}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto ({name}) did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM (the plugin writes its shutdown report), then the log.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, KiB: `VmRSS`, and `smaps_rollup`'s `Anonymous`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    pub rss: u64,
    pub anon: u64,
}

impl Mem {
    pub fn of(pid: u32) -> Self {
        let field = |file: &str, key: &str| -> u64 {
            let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        Self {
            rss: field("status", "VmRSS:"),
            anon: field("smaps_rollup", "Anonymous:"),
        }
    }
}

/// CPU time of every thread of `pid`, nanoseconds (`/proc/<pid>/task/*/schedstat`).
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Open descriptors of `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// `Max open files` of `pid` (`"self"` for this one): (soft, hard).
pub fn fd_limits(pid: &str) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default();
    let mut words = line.split_whitespace().skip(3);
    let soft = words.next().unwrap_or("?").to_owned();
    let hard = words.next().unwrap_or("?").to_owned();
    (soft, hard)
}

fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    put_varint(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// CONNECT (MQTT 5, clean start); with `auth`, Authentication Method and Data.
pub fn connect_packet(client_id: &str, keep_alive: u16, auth: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut props = Vec::new();
    if let Some((method, data)) = auth {
        put_binary(&mut props, 0x15, method.as_bytes());
        put_binary(&mut props, 0x16, data);
    }
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x02];
    body.extend_from_slice(&keep_alive.to_be_bytes());
    put_varint(&mut body, props.len());
    body.extend_from_slice(&props);
    put_binary_value(&mut body, client_id.as_bytes());
    frame(0x10, &body)
}

/// AUTH with `reason_code`, Authentication Method and Data.
pub fn auth_packet(reason_code: u8, method: &str, data: &[u8]) -> Vec<u8> {
    let mut props = Vec::new();
    put_binary(&mut props, 0x15, method.as_bytes());
    put_binary(&mut props, 0x16, data);
    let mut body = vec![reason_code];
    put_varint(&mut body, props.len());
    body.extend_from_slice(&props);
    frame(0xF0, &body)
}

/// Connects from `source`, sends `packet`, and reads one packet back: the stream, the
/// packet's first byte and its reason code (CONNACK: byte 1; AUTH: byte 0).
pub async fn exchange(
    broker: SocketAddr,
    source: IpAddr,
    packet: &[u8],
) -> std::io::Result<(tokio::net::TcpStream, u8, u8)> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let mut stream = socket.connect(broker).await?;
    stream.set_nodelay(true)?;
    stream.write_all(packet).await?;
    let (first, code) = reply(&mut stream).await?;
    Ok((stream, first, code))
}

/// Reads one packet: its first byte and reason code.
pub async fn reply(stream: &mut tokio::net::TcpStream) -> std::io::Result<(u8, u8)> {
    let mut read = Vec::with_capacity(256);
    loop {
        if let Some((len, header)) = remaining_length(read.get(1..).unwrap_or_default()) {
            if read.len() >= 1 + header + len {
                let body = &read[1 + header..1 + header + len];
                let code = match read[0] & 0xF0 {
                    0x20 => body.get(1),
                    _ => body.first(),
                };
                return Ok((read[0], code.copied().unwrap_or(0)));
            }
        }
        let mut chunk = [0u8; 512];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        read.extend_from_slice(&chunk[..n]);
    }
}

pub fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

/// Latencies: (count, p50, p99, max) in ms.
pub fn stats(mut v: Vec<Duration>) -> (usize, f64, f64, f64) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let max = v.iter().max().copied().unwrap_or_default();
    (
        v.len(),
        ms(quantile(&mut v, 0.5)),
        ms(quantile(&mut v, 0.99)),
        ms(max),
    )
}

pub fn fmt_stats(s: (usize, f64, f64, f64)) -> String {
    if s.0 == 0 {
        return "–".into();
    }
    format!("{:.2} / {:.2} / {:.2} (n={})", s.1, s.2, s.3, s.0)
}

/// Bytes per connection between two memory readings (KiB).
pub fn per_conn(before: u64, after: u64, n: usize) -> f64 {
    (after as f64 - before as f64) * 1024.0 / n.max(1) as f64
}

/// Kernel slab memory, machine-wide, KiB (`/proc/meminfo`).
pub fn slab_kib() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Slab:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The longest `tick` callback in the plugin's `callback time:` lines of `log`.
pub fn tick_max(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|l| l.split_once(" tick n=").map(|p| p.1))
        .filter_map(|rest| {
            let max = rest.split_once("max=")?.1;
            max.split("us").next()?.parse().ok()
        })
        .max()
}

/// Handshakes in progress in the plugin's last `stats_interval` line.
pub fn handshakes_left(log: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find_map(|l| l.split_once("handshakes in progress=").map(|p| p.1))
        .and_then(|v| v.split(';').next()?.trim().parse().ok())
}

/// Runs `open(i)` for i in 0..n, at most `concurrency` at a time; stops starting new ones
/// at the first error and returns what worked with it.
pub fn open_many<T, F, Fut>(
    rt: &tokio::runtime::Runtime,
    n: usize,
    concurrency: usize,
    open: F,
) -> (Vec<T>, Option<String>)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
    T: Send + 'static,
{
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        let (mut out, mut error, mut next) = (Vec::with_capacity(n), None, 0);
        loop {
            while next < n && set.len() < concurrency.max(1) && error.is_none() {
                set.spawn(open(next));
                next += 1;
            }
            match set.join_next().await {
                None => break,
                Some(Ok(Ok(t))) => out.push(t),
                Some(Ok(Err(e))) => {
                    error.get_or_insert(e);
                }
                Some(Err(e)) => {
                    error.get_or_insert(e.to_string());
                }
            }
        }
        (out, error)
    })
}
