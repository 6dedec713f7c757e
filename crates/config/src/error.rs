//! Errors and diagnostics.
//!
//! Parsing never stops at the first problem: it returns every [`Diagnostic`] so an editor
//! can mark each line. Other operations return one of the `thiserror` enums below.
//! No message ever contains a private or pre-shared key, not even a malformed one.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Any error of this crate, for callers that do not care which operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Parse(#[from] ParseErrors),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Zip(#[from] ZipError),
    #[error(transparent)]
    Qr(#[from] QrError),
}

/// How bad a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The config cannot be used until this is fixed.
    Error,
    /// The config works, but probably not the way its author meant.
    Warning,
}

/// What a [`Diagnostic`] is about, for callers that react to kinds (quick fixes, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiagnosticCode {
    /// A line that is neither `Key = value`, a `[Section]` header, a comment nor blank.
    Syntax,
    /// A `Key = value` line before the first section header.
    TextOutsideSection,
    /// A header other than `[Interface]` or `[Peer]`.
    UnknownSection,
    /// A second `[Interface]` section.
    DuplicateInterface,
    /// A key wg-quick does not know.
    UnknownKey,
    /// A known key in the other kind of section (`Endpoint` under `[Interface]`).
    KeyInWrongSection,
    /// A key that may appear once in a section, appearing again.
    DuplicateKey,
    /// No `[Interface]` section at all.
    MissingInterface,
    /// `[Interface]` without `PrivateKey`.
    MissingPrivateKey,
    /// `[Peer]` without `PublicKey`.
    MissingPublicKey,
    /// A key that is not base64 of exactly 32 bytes.
    InvalidKey,
    /// Two `[Peer]` sections with the same `PublicKey`.
    DuplicatePeer,
    /// A peer whose `PublicKey` is this interface's own public key.
    OwnPublicKey,
    /// A malformed address or prefix (`Address`, `AllowedIPs`, `DNS`).
    InvalidAddress,
    /// A port outside its range, or not a number.
    InvalidPort,
    /// A malformed `Endpoint`.
    InvalidEndpoint,
    /// Any other malformed value (`MTU`, `Table`, `FwMark`, `SaveConfig`, ...).
    InvalidValue,
    /// Warning: an `AllowedIPs` prefix with host bits set (`172.17.0.11/20`).
    HostBitsSet,
    /// Warning: `PersistentKeepalive` on a peer without an `Endpoint`.
    KeepaliveWithoutEndpoint,
    /// Warning: the same `AllowedIPs` prefix on two peers; only the last one gets it.
    AllowedIpOnTwoPeers,
}

/// One problem found in a config's text, located precisely enough for an editor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes) from the start of the line,
    /// after any byte-order mark.
    pub column: usize,
    /// Byte range in the parsed text that the diagnostic is about (may be empty).
    pub span: Range<usize>,
    /// The key concerned, spelled canonically when it is a known key.
    pub key: Option<String>,
    pub severity: Severity,
    pub code: DiagnosticCode,
    /// What is wrong and, where possible, what to do about it.
    pub message: String,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "line {}, column {}: {level}{}",
            self.line, self.column, self.message
        )
    }
}

/// A config that does not parse: every diagnostic found, errors and warnings, in text order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseErrors {
    diagnostics: Vec<Diagnostic>,
}

impl ParseErrors {
    pub(crate) fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        ParseErrors { diagnostics }
    }

    /// Every diagnostic, errors and warnings, in text order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }
}

impl fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseErrors {}

/// A key that is not base64 of exactly 32 bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "expected 44 characters of base64 (32 bytes, as printed by `wg genkey`), \
         found {0} characters"
    )]
    Length(usize),
    #[error(
        "not valid base64 (character {position} is not allowed there); \
         a key is 44 characters of A-Z, a-z, 0-9, + and /, ending in ="
    )]
    Base64 { position: usize },
    #[error(
        "the base64 decodes to {0} bytes; a key is exactly 32 bytes (44 characters ending in =)"
    )]
    Decoded(usize),
}

/// An `Endpoint` that is not `host:port`, `[IPv6]:port` or `name:port`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EndpointError(pub(crate) String);

/// A tunnel name that breaks wg-quick's rule `^[a-zA-Z0-9_=+.-]{1,15}$`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a tunnel name cannot be empty")]
    Empty,
    #[error("tunnel name `{0}` is too long: at most 15 characters (an interface name limit)")]
    TooLong(String),
    #[error("tunnel name `{name}` contains `{ch}`; use only letters, digits and _ = + . -")]
    InvalidChar { name: String, ch: char },
}

/// A zip archive refused as a whole. Problems with one entry are reported per entry
/// (see [`crate::EntryError`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("the archive is {size} bytes; archives over {max} bytes (10 MiB) are refused")]
    ArchiveTooLarge { size: usize, max: usize },
    #[error("the archive has {count} entries; archives with more than {max} are refused")]
    TooManyEntries { count: usize, max: usize },
    #[error(
        "entry `{path}` unpacks to more than {max} bytes (64 KiB); \
         a tunnel config is never that big, so the archive is refused"
    )]
    EntryTooLarge { path: String, max: u64 },
    #[error("not a readable zip archive: {0}")]
    Malformed(String),
    #[error("two tunnels are both named `{0}`; tunnel names in an archive must be unique")]
    DuplicateName(String),
    #[error("could not write the archive: {0}")]
    Write(String),
}

/// Why a QR code could not be made or read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("the config is {0} bytes, too long for one QR code (at most 2953 bytes)")]
    TooLong(usize),
    #[error("not a PNG or JPEG image")]
    NotAnImage,
    #[error("the image file is {size} bytes; images over {max} bytes are refused")]
    FileTooLarge { size: usize, max: usize },
    #[error("the image is {width}x{height} pixels; images over {max} pixels are refused")]
    ImageTooLarge { width: u32, height: u32, max: u64 },
    #[error("the image could not be decoded: {0}")]
    BadImage(String),
    #[error("no QR code was found in the image; try a sharper, closer, well-lit picture")]
    NoQrCode,
    #[error("a QR code was found but could not be read: {0}")]
    Unreadable(String),
    #[error("the QR code does not contain text (it is not UTF-8)")]
    NotText,
    #[error("could not render the QR code: {0}")]
    Render(String),
}
