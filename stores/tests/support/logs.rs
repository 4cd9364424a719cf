//! Log lines captured in a test: `tracing` events (the stores' own lines) through a
//! subscriber set for the current thread, and `log` records (the redis crate's) through a
//! process-wide logger, each counted by target and text.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};

/// `tracing` output written while the guard of [`Logs::capture`] lives (every level).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    /// Captures this thread's `tracing` events (use a current-thread runtime) until the
    /// guard is dropped.
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Lines at `level` (`WARN`, `INFO`, …) containing `needle`.
    pub fn count(&self, level: &str, needle: &str) -> usize {
        self.text()
            .lines()
            .filter(|l| l.contains(level) && l.contains(needle))
            .count()
    }
}

/// `log` records (WARN and above) of targets starting with a prefix, process-wide.
pub struct LogRecords {
    lines: Mutex<Vec<String>>,
}

impl log::Log for LogRecords {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.lines.lock().unwrap().push(format!(
                "{} {} {}",
                record.level(),
                record.target(),
                record.args()
            ));
        }
    }
    fn flush(&self) {}
}

impl LogRecords {
    /// The process-wide logger (installed on first use).
    pub fn install() -> &'static LogRecords {
        static LOGGER: OnceLock<&'static LogRecords> = OnceLock::new();
        LOGGER.get_or_init(|| {
            let logger: &'static LogRecords = Box::leak(Box::new(LogRecords {
                lines: Mutex::new(Vec::new()),
            }));
            log::set_logger(logger).unwrap();
            log::set_max_level(log::LevelFilter::Warn);
            logger
        })
    }

    /// Records so far whose target starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.split(' ').nth(1).is_some_and(|t| t.starts_with(prefix)))
            .count()
    }

    /// Records so far whose target starts with `prefix`.
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.split(' ').nth(1).is_some_and(|t| t.starts_with(prefix)))
            .cloned()
            .collect()
    }
}
