//! The service log: a ring of the most recent lines that clients can read and follow,
//! fed by a `tracing` layer. Keys never reach it: nothing in the service logs them.

use crate::hub::Hub;
use culvert_ipc::{Event, LogLevel, LogLine, MAX_LOGGED_CHARS, printable};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::field::MakeExt as _;
use tracing_subscriber::layer::Context;

const CAPACITY: usize = 2_000;
/// The most bytes of lines one `ReadLog` answer carries: half a frame, so that even
/// the worst JSON escaping cannot make the answer too large to send.
pub(crate) const REPLY_BUDGET: usize = culvert_ipc::MAX_FRAME / 2;

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<LogLine>,
    next_seq: u64,
}

#[derive(Debug, Default)]
pub struct LogRing {
    ring: Mutex<Ring>,
}

impl LogRing {
    /// Lines after sequence number `since` (all kept lines when None), the newest
    /// `limit` of them, and only as many as fit in one reply ([`REPLY_BUDGET`]).
    pub fn read(&self, since: Option<u64>, limit: usize) -> Vec<LogLine> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let mut budget = REPLY_BUDGET;
        let mut newest_first: Vec<LogLine> = ring
            .lines
            .iter()
            .rev()
            .take_while(|line| since.is_none_or(|s| line.seq > s))
            .take(limit)
            .take_while(|line| {
                // JSON may double a byte (`"`, `\\`); the rest is the line's other fields.
                let cost = 2 * (line.message.len() + line.target.len()) + 96;
                let fits = cost <= budget;
                budget = budget.saturating_sub(cost);
                fits
            })
            .cloned()
            .collect();
        newest_first.reverse();
        newest_first
    }

    fn push(&self, level: LogLevel, target: &str, message: String) -> LogLine {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let line = LogLine {
            seq: ring.next_seq,
            unix_millis: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            level,
            target: target.to_owned(),
            message,
        };
        ring.next_seq += 1;
        if ring.lines.len() == CAPACITY {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line.clone());
        line
    }
}

/// The layer that feeds the ring and publishes each line to log subscribers.
#[derive(Debug)]
pub struct LogLayer {
    pub ring: Arc<LogRing>,
    pub hub: Arc<Hub>,
}

impl<S: tracing::Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let level = match *metadata.level() {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        };
        let mut message = Message(String::new());
        event.record(&mut message);
        let line = self.ring.push(level, metadata.target(), message.0);
        self.hub.publish(Event::Log(line));
    }
}

/// One event's message and fields as the ring keeps them: every value escaped and cut
/// ([`printable`]), since some come from clients (a zip entry's path, say).
struct Message(String);

impl Message {
    fn record(&mut self, field: &Field, value: &str) {
        let value = printable(value, MAX_LOGGED_CHARS);
        if field.name() == "message" {
            self.0.push_str(&value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value);
    }
}

/// The fields of the log written to stderr (the journal), made safe the same way.
pub fn stderr_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let value = format!("{value:?}");
        let value = printable(&value, MAX_LOGGED_CHARS);
        if field.name() == "message" {
            write!(writer, "{value}")
        } else {
            write!(writer, "{field}={value}")
        }
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_and_reads_since_a_sequence() {
        let ring = LogRing::default();
        for i in 0..(CAPACITY + 10) {
            ring.push(LogLevel::Info, "t", format!("line {i}"));
        }
        let all = ring.read(None, usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].message, "line 10");
        let tail = ring.read(Some(all[CAPACITY - 3].seq), 10);
        assert_eq!(
            tail.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["line 2008", "line 2009"]
        );
        assert_eq!(ring.read(None, 1)[0].message, "line 2009");
    }

    #[test]
    fn what_clients_sent_cannot_forge_lines_in_the_log() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let ring = Arc::new(LogRing::default());
        let layer = LogLayer {
            ring: Arc::clone(&ring),
            hub: Arc::new(Hub::default()),
        };
        let path = format!(
            "x.conf\n1970-01-01T00:00:00.000Z  INFO culvertd: ok\x1b[2J{}",
            "y".repeat(70_000)
        );
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!(tunnel = "wg0", source = %path, "stored");
        });
        let lines = ring.read(None, 10);
        assert_eq!(lines.len(), 1);
        let message = &lines[0].message;
        assert!(
            message.starts_with("stored tunnel=wg0 source=x.conf\\n1970"),
            "{message}"
        );
        assert!(
            !message.contains('\n') && !message.contains('\x1b'),
            "{message}"
        );
        assert!(
            message.len() < 2 * MAX_LOGGED_CHARS,
            "{} bytes kept",
            message.len()
        );
        assert!(message.ends_with("more bytes)"), "{message}");
    }

    #[test]
    fn a_full_ring_of_long_lines_still_fits_in_one_answer() {
        let ring = LogRing::default();
        for i in 0..CAPACITY {
            ring.push(
                LogLevel::Info,
                "t",
                format!("{i} {}", "\"".repeat(MAX_LOGGED_CHARS)),
            );
        }
        let lines = ring.read(None, usize::MAX);
        assert!(
            !lines.is_empty() && lines.len() < CAPACITY,
            "{} lines",
            lines.len()
        );
        assert!(
            lines.last().unwrap().message.starts_with("1999 "),
            "the newest are kept"
        );
        let answer = culvert_ipc::ServerMessage::Response(culvert_ipc::Response::ok(
            1,
            culvert_ipc::ResponseBody::LogLines { lines },
        ));
        culvert_ipc::encode(&answer).expect("the answer fits in one frame");
    }
}
