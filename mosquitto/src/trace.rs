//! `tracing` events of the libraries inside the plugin (credential stores, HTTP client, the
//! authenticator) into the broker's log, one line per event, INFO and above.

use std::io::Write;

use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;

use crate::log::{self, Level};

/// Collects one formatted event and logs it when dropped.
pub(crate) struct Line {
    level: Level,
    text: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.text);
        let text = text.trim_end();
        if !text.is_empty() {
            log::emit(self.level, &format!("mqtt-scram: {text}"));
        }
    }
}

struct Sink;

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            level: Level::Info,
            text: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        let level = match *meta.level() {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warning,
            _ => Level::Info,
        };
        Line {
            level,
            text: Vec::new(),
        }
    }
}

/// Installs the bridge as the process's default subscriber, unless one is installed.
pub(crate) fn install() {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(Sink)
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}
