//! The libc calls behind `unix.rs`: peer credentials, group lookup, the umask, the
//! effective uid and a chmod that does not follow symlinks. The only unsafe code of
//! the crate; each call writes into a buffer whose size it is told.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::ptr;

/// The effective uid of this process.
pub(super) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Sets the process's umask to `mask` and returns the previous one. The umask is
/// process-wide: every thread's file creation sees it until it is set back.
pub(super) fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask takes a plain integer, cannot fail and touches no memory of ours.
    // `mode_t` is u16 on macOS, hence the conversions (masks are at most 0o777).
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    let old = unsafe { libc::umask((mask & 0o777) as libc::mode_t) };
    #[allow(clippy::useless_conversion)]
    u32::from(old)
}

/// chmod without following a symlink at `path` (`fchmodat` with
/// `AT_SYMLINK_NOFOLLOW`). Where the system cannot do that (Linux before glibc 2.32,
/// or `path` being a symlink on Linux), this fails with `EOPNOTSUPP` rather than
/// following the link.
pub(super) fn chmod_nofollow(path: &Path, mode: u32) -> io::Result<()> {
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: `cpath` is NUL-terminated and outlives the call; the other arguments
    // are plain integers. fchmodat reads the path and writes no memory of ours.
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    let rc = unsafe {
        libc::fchmodat(
            libc::AT_FDCWD,
            cpath.as_ptr(),
            (mode & 0o7777) as libc::mode_t,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The gid of group `name`, `None` if there is no such group. Goes through NSS
/// (`getgrnam_r`), so LDAP or systemd-userdb groups count like `/etc/group` ones.
pub(super) fn group_gid(name: &str) -> io::Result<Option<u32>> {
    let Ok(cname) = CString::new(name) else {
        return Ok(None);
    };
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        let mut group = MaybeUninit::<libc::group>::uninit();
        let mut result: *mut libc::group = ptr::null_mut();
        // SAFETY: `cname` is NUL-terminated; `group` is writable storage for one
        // `struct group`; `buf` is writable for `buf.len()` bytes, the length passed;
        // `result` is a valid out-pointer. getgrnam_r writes only within these.
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                group.as_mut_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        match rc {
            0 if result.is_null() => return Ok(None),
            // SAFETY: on success with a non-null result, `result` points to `group`,
            // which getgrnam_r initialised; only the plain `gr_gid` field is read.
            0 => return Ok(Some(unsafe { (*result).gr_gid })),
            // Big groups (many members) need a bigger buffer; stop growing at 1 MiB.
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            // POSIX lets "not found" be reported as any of these.
            libc::ENOENT | libc::ESRCH => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// `SO_PEERGROUPS` (Linux 4.13); libc does not export it. Its value differs only on
/// SPARC among the architectures Rust supports.
#[cfg(target_os = "linux")]
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const SO_PEERGROUPS: libc::c_int = 0x3d;
#[cfg(target_os = "linux")]
#[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
const SO_PEERGROUPS: libc::c_int = 59;

/// pid, uid and gid of the peer, recorded by the kernel at `connect()`.
#[cfg(target_os = "linux")]
pub(super) fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `fd` is a live descriptor for the borrow's duration; `cred` is writable
    // for `len` bytes, its exact size, and the kernel writes at most `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != size_of::<libc::ucred>() {
        return Err(io::Error::other("SO_PEERCRED returned a short answer"));
    }
    Ok(cred)
}

/// The peer's supplementary groups, recorded by the kernel at `connect()`.
#[cfg(target_os = "linux")]
pub(super) fn peer_groups(fd: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    const GID: usize = size_of::<libc::gid_t>();
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * GID) as libc::socklen_t;
        // SAFETY: `fd` is live; `groups` is writable for `len` bytes, the length
        // passed, and the kernel writes at most that many.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc == 0 {
            groups.truncate(len as usize / GID);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        // Too small: the kernel put the size it needs in `len` (NGROUPS_MAX is 65536).
        let needed = len as usize / GID;
        if err.raw_os_error() == Some(libc::ERANGE) && needed > groups.len() && needed <= 65536 {
            groups.resize(needed, 0);
            continue;
        }
        return Err(err);
    }
}

/// uid and groups of the peer (UNVERIFIED: macOS, never compiled here). The first
/// group of an `xucred` is the effective gid.
#[cfg(target_os = "macos")]
pub(super) fn peer_xucred(fd: BorrowedFd<'_>) -> io::Result<(u32, Vec<u32>)> {
    // SAFETY: `xucred` is plain integers, for which all-zero bytes are a valid value.
    let mut cred: libc::xucred = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::xucred>() as libc::socklen_t;
    // SAFETY: `fd` is live; `cred` is writable for `len` bytes, its exact size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_LOCAL,
            libc::LOCAL_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if cred.cr_version != libc::XUCRED_VERSION {
        return Err(io::Error::other(
            "LOCAL_PEERCRED returned an unknown xucred version",
        ));
    }
    let n = (cred.cr_ngroups.max(0) as usize).min(cred.cr_groups.len());
    Ok((cred.cr_uid, cred.cr_groups[..n].to_vec()))
}

/// Effective uid and gid of the peer (UNVERIFIED: other BSDs, never compiled here).
#[cfg(all(not(target_os = "linux"), not(target_os = "macos")))]
pub(super) fn peer_eid(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: `fd` is live; `uid` and `gid` are valid out-pointers.
    let rc = unsafe { libc::getpeereid(fd.as_raw_fd(), &mut uid, &mut gid) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((uid, gid))
}
