//! The `wg` tool's userspace API: the wire format ([`protocol`]) and the socket that
//! serves it ([`server`]).

mod protocol;
mod server;

pub use protocol::{
    DeviceInfo, EADDRINUSE, EINVAL, EIO, EPROTO, MAX_LINE_LEN, MAX_SET_LINES, PeerChange, PeerInfo,
    SetRequest, UapiError, format_get, parse_set,
};
pub use server::{Handler, UapiServer, handle_connection, socket_path};
