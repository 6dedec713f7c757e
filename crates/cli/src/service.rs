//! The seam between the commands and culvertd: the two calls the CLI makes on a
//! connection, and how a connection is made. The real ones are culvert-ipc's
//! [`Client`]; tests substitute a scripted fake.

use std::path::Path;
use std::time::Duration;

use culvert_ipc::{Client, ClientError, ClientOptions, Event, Request, ResponseBody};

/// A connection to culvertd that has completed the handshake.
pub trait Service {
    /// Sends `request` and waits for its response.
    fn request(&self, request: Request) -> Result<ResponseBody, ClientError>;

    /// The next pushed event, waiting up to `timeout` (`Ok(None)` when none came).
    fn next_event(&self, timeout: Duration) -> Result<Option<Event>, ClientError>;
}

/// Makes connections. Commands connect only once they have checked their
/// arguments and read their input files, so a local mistake never needs the service.
pub trait Connector {
    fn connect(&mut self, address: &Path) -> Result<Box<dyn Service>, ClientError>;
}

impl Service for Client {
    fn request(&self, request: Request) -> Result<ResponseBody, ClientError> {
        Client::request(self, request)
    }

    fn next_event(&self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        Client::next_event(self, timeout)
    }
}

/// Connects with culvert-ipc's [`Client`] over the Unix socket or named pipe.
#[derive(Debug, Clone)]
pub struct IpcConnector {
    pub options: ClientOptions,
}

impl Default for IpcConnector {
    fn default() -> Self {
        IpcConnector {
            options: ClientOptions {
                client_name: concat!("culvert-cli ", env!("CARGO_PKG_VERSION")).to_owned(),
                // The service may be starting (`systemctl start culvertd && culvert up`);
                // a longer wait would only delay the "not running" message.
                connect_attempts: 3,
                retry_delay: Duration::from_millis(100),
                ..ClientOptions::default()
            },
        }
    }
}

impl Connector for IpcConnector {
    fn connect(&mut self, address: &Path) -> Result<Box<dyn Service>, ClientError> {
        let client = Client::connect_with(address, self.options.clone())?;
        Ok(Box::new(client))
    }
}
