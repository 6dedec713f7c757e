//! The `wg` tool's userspace API: the wire format ([`protocol`]) and the socket that
//! serves it ([`server`]), a Unix socket or a Windows named pipe.

mod protocol;
mod server;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub use protocol::{
    DeviceInfo, EADDRINUSE, EINVAL, EIO, EPROTO, MAX_LINE_LEN, MAX_SET_LINES, PeerChange, PeerInfo,
    SetRequest, UapiError, format_get, parse_set,
};
pub use server::{Handler, UapiServer, handle_connection, socket_path};
