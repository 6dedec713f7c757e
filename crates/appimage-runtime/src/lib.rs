//! The AppImage type-2 runtime of Culvert's AppImage.
//!
//! An AppImage is this program's ELF file with the magic bytes `AI\x02` at offset 8
//! (in the ELF identification's padding) and a squashfs image appended right after the
//! ELF's last byte (the end of its section-header table). Started, the runtime finds
//! that image in its own file, makes it visible as a directory (a `squashfuse` mount
//! when the system has FUSE and squashfuse, else an extraction into a cache
//! directory), and runs the directory's `AppRun` with `APPIMAGE`, `APPDIR`, `ARGV0`
//! and `OWD` set, as the AppImage specification asks.
//!
//! - `elf.rs`: where the payload starts, and the magic.
//! - `args.rs`: the runtime's own `--appimage-*` options.
//! - `extract.rs`: squashfs to a directory (in-process, no tool needed).
//! - `launch.rs`: mount or extract, then run `AppRun`.
#![cfg(target_os = "linux")]

pub mod args;
pub mod elf;
pub mod extract;
pub mod launch;

/// Errors of the runtime; each says what failed and on which file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an AppImage: {reason}")]
    NotAnAppImage {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot read the squashfs image in {path} at offset {offset}: {source}")]
    Squashfs {
        path: std::path::PathBuf,
        offset: u64,
        source: backhand::BackhandError,
    },
    #[error("the image holds an unsafe path {0:?} (absolute or with `..`); refusing to extract it")]
    UnsafePath(std::path::PathBuf),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Maps an I/O error to one that names `path`.
    pub fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
