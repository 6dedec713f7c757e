//! culvert-config: the wg-quick `.conf` format and everything around it that the
//! service, the CLI and the GUI share.
//!
//! - [`parse`] text into a [`Config`], with every error and warning located by line and
//!   column ([`Diagnostic`]); [`Config::to_text`] prints it back, exactly as written
//!   until it is edited.
//! - [`PrivateKey`], [`PublicKey`], [`PresharedKey`]: generation and base64.
//! - [`TunnelName`]: wg-quick's name rule, and names derived from file names.
//! - [`PrefixSet`]: AllowedIPs algebra (union, difference, overlap, "exclude private IPs").
//! - [`import_zip`] / [`export_zip`]: tunnels in and out of `.zip` archives.
//! - [`qr_svg`], [`qr_png`], [`qr_terminal`], [`decode_qr`]: QR codes.
//!
//! The crate is pure: it takes bytes and text and returns bytes and text. It does no
//! I/O, reads no clock, and uses the OS only for the randomness of new keys.

mod allowed_ips;
mod archive;
mod error;
mod keys;
mod model;
mod name;
mod parse;
mod print;
mod qr;
mod suggest;
mod values;

pub use allowed_ips::{PRIVATE_V4, PRIVATE_V6, PrefixSet, normalise};
pub use archive::{
    EntryError, ImportedFile, ImportedTunnel, MAX_CONF_BYTES, MAX_ZIP_BYTES, MAX_ZIP_ENTRIES,
    export_zip, export_zip_texts, import_zip,
};
pub use error::{
    Diagnostic, DiagnosticCode, EndpointError, Error, KeyError, NameError, ParseErrors, QrError,
    Severity, ZipError,
};
pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
pub use keys::{KEY_LEN, PresharedKey, PrivateKey, PublicKey};
pub use model::{Config, Endpoint, Host, Interface, Parsed, Peer, Table};
pub use name::TunnelName;
pub use parse::parse;
pub use qr::{
    MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, decode_qr, decode_qr_rgba, qr_png, qr_svg, qr_terminal,
};
