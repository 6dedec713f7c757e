//! The service log: a ring of the most recent lines that clients can read and follow,
//! fed by a `tracing` layer. Keys never reach it: nothing in the service logs them.

use crate::hub::Hub;
use culvert_ipc::{Event, LogLevel, LogLine};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

const CAPACITY: usize = 2_000;

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
    /// `limit` of them.
    pub fn read(&self, since: Option<u64>, limit: usize) -> Vec<LogLine> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let newer: Vec<_> = ring
            .lines
            .iter()
            .filter(|l| since.is_none_or(|s| l.seq > s))
            .cloned()
            .collect();
        let skip = newer.len().saturating_sub(limit);
        newer.into_iter().skip(skip).collect()
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

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
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
}
