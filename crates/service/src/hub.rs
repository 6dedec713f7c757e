//! Event fan-out to subscribed clients. A client that cannot keep up loses events
//! rather than slowing the service down.

use culvert_ipc::{Event, EventKind, ServerMessage};
use std::collections::BTreeSet;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

pub(crate) type Subscription = Arc<Mutex<BTreeSet<EventKind>>>;

#[derive(Debug, Default)]
pub struct Hub {
    clients: Mutex<Vec<(Subscription, SyncSender<ServerMessage>)>>,
}

impl Hub {
    /// Adds a client's outgoing queue; it receives nothing until it subscribes.
    pub fn register(&self, sender: SyncSender<ServerMessage>) -> Subscription {
        let subscription = Subscription::default();
        self.lock().push((Arc::clone(&subscription), sender));
        subscription
    }

    /// Forgets a client, so its outgoing queue closes and its connection with it.
    pub fn unregister(&self, subscription: &Subscription) {
        self.lock().retain(|(s, _)| !Arc::ptr_eq(s, subscription));
    }

    pub fn clients(&self) -> usize {
        self.lock().len()
    }

    pub fn publish(&self, event: Event) {
        let kind = event.kind();
        // Gone clients are dropped here; full ones skip this event.
        self.lock().retain(|(subscription, sender)| {
            let wanted = subscription
                .lock()
                .map(|s| s.contains(&kind))
                .unwrap_or(false);
            !wanted
                || !matches!(
                    sender.try_send(ServerMessage::Event(event.clone())),
                    Err(TrySendError::Disconnected(_))
                )
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Subscription, SyncSender<ServerMessage>)>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}
