//! Windows security as culvert's privileged parts use it: who owns a file or a kernel
//! object, which account this process runs as, whether an owner may be trusted, and
//! security descriptors written in SDDL. The one home of these unsafe calls, which the
//! named-pipe transport (culvert-ipc), the network journals' folder check
//! (culvert-netconf) and the config store (culvertd) all make.
//!
//! Tested under wine (below; `owner_of_object` through culvert-ipc's pipe tests), which makes the user the owner of every file and keeps no
//! access lists: what an owner or a DACL is on a real NTFS volume is UNVERIFIED here.
#![cfg(windows)]
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt as _;
use std::os::windows::fs::MetadataExt as _;
use std::os::windows::io::{AsRawHandle as _, BorrowedHandle};
use std::path::Path;
use std::ptr;
use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
    ConvertStringSecurityDescriptorToSecurityDescriptorW, GetNamedSecurityInfoW, GetSecurityInfo,
    SDDL_REVISION_1, SE_FILE_OBJECT, SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, GetTokenInformation, OWNER_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_REPARSE_POINT;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// LocalSystem, the account services run as.
pub const LOCAL_SYSTEM_SID: &str = "S-1-5-18";
/// BUILTIN\Administrators.
pub const ADMINISTRATORS_SID: &str = "S-1-5-32-544";

/// Whether something owned by `owner` may be obeyed by a privileged process running as
/// `own`: SYSTEM, Administrators and that account could have done whatever it holds
/// themselves; anyone else's could be a plant.
pub fn is_trusted_owner(owner: &str, own: &str) -> bool {
    [LOCAL_SYSTEM_SID, ADMINISTRATORS_SID, own].contains(&owner)
}

/// Whether `metadata` (from `symlink_metadata`) is a junction or symbolic link, which
/// leads somewhere else and whose owner says nothing of its target's.
pub fn is_link(metadata: &std::fs::Metadata) -> bool {
    metadata.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0
}

/// The SID of `path`'s owner, as text (`S-1-5-…`).
pub fn owner_of_path(path: &Path) -> io::Result<String> {
    let path = wide_nul(path.as_os_str())?;
    owner_of(|owner, descriptor| {
        // SAFETY: `path` is NUL-terminated UTF-16; the out-pointers are the caller's,
        // valid; only the owner is asked for, so the other pointers may be null.
        unsafe {
            GetNamedSecurityInfoW(
                path.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION,
                owner,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                descriptor,
            )
        }
    })
}

/// The access list (DACL) of `path`, as SDDL (`D:P(A;OICI;FA;;;SY)…`): what an
/// administrator would read with `icacls`, for messages and tests.
pub fn dacl_of_path(path: &Path) -> io::Result<String> {
    let path = wide_nul(path.as_os_str())?;
    let mut dacl: *mut ACL = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `path` is NUL-terminated UTF-16; the out-pointers are valid; only the DACL
    // is asked for, so the other pointers may be null.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            path.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let descriptor = LocalBox(descriptor);
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: the descriptor is live; `text` is a valid out-pointer and receives a
    // LocalAlloc'ed string, freed by its box; the length out-pointer may be null.
    let converted = unsafe {
        ConvertSecurityDescriptorToStringSecurityDescriptorW(
            descriptor.0,
            SDDL_REVISION_1,
            DACL_SECURITY_INFORMATION,
            &mut text,
            ptr::null_mut(),
        )
    } != 0;
    if !converted {
        return Err(io::Error::last_os_error());
    }
    let text = LocalBox(text.cast());
    // SAFETY: the call returned a NUL-terminated UTF-16 string, alive while `text` is.
    Ok(unsafe { from_wide_nul(text.0.cast()) })
}

/// The SID of the owner of the kernel object behind `handle` (a pipe, say), as text.
pub fn owner_of_object(handle: BorrowedHandle<'_>) -> io::Result<String> {
    owner_of(|owner, descriptor| {
        // SAFETY: the handle is open for the call; the out-pointers are the caller's,
        // valid; the pointers for what is not asked for may be null.
        unsafe {
            GetSecurityInfo(
                handle.as_raw_handle() as HANDLE,
                SE_KERNEL_OBJECT,
                OWNER_SECURITY_INFORMATION,
                owner,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                descriptor,
            )
        }
    })
}

/// Runs `query` (a Get*SecurityInfo call asking for the owner) and turns the owner it
/// found into text, freeing the descriptor the owner points into afterwards.
fn owner_of(query: impl FnOnce(*mut PSID, *mut PSECURITY_DESCRIPTOR) -> u32) -> io::Result<String> {
    let mut owner: PSID = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    let rc = query(&mut owner, &mut descriptor);
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let descriptor = LocalBox(descriptor);
    if owner.is_null() {
        return Err(io::Error::other("the security descriptor names no owner"));
    }
    // `owner` points into `descriptor`, alive until after this.
    let text = sid_text(owner);
    drop(descriptor);
    text
}

/// The SID of the account this process runs as, as text.
pub fn process_account_sid() -> io::Result<String> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: the pseudo-handle of this process needs no closing; `token` is a valid
    // out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // TOKEN_USER and the SID behind it; u64s keep it aligned for TOKEN_USER.
    let mut buffer = [0_u64; 64];
    let mut length = 0_u32;
    // SAFETY: `token` is open with TOKEN_QUERY; the buffer is writable for the size
    // stated; `length` is a valid out-pointer.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            size_of_val(&buffer) as u32,
            &mut length,
        )
    } != 0;
    let error = io::Error::last_os_error();
    // SAFETY: `token` came from OpenProcessToken and is closed once.
    unsafe { CloseHandle(token) };
    if !ok {
        return Err(error);
    }
    // SAFETY: the call succeeded, so the buffer starts with a TOKEN_USER whose SID
    // points into the buffer, alive for the conversion.
    let user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };
    sid_text(user.User.Sid)
}

/// `sid` as text. It must point to a valid SID.
fn sid_text(sid: PSID) -> io::Result<String> {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `sid` is valid (the callers'); `text` is a valid out-pointer and receives
    // a LocalAlloc'ed string, freed by the box.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let text = LocalBox(text.cast());
    // SAFETY: ConvertSidToStringSidW returned a NUL-terminated UTF-16 string, alive
    // while `text` is.
    Ok(unsafe { from_wide_nul(text.0.cast()) })
}

/// A security descriptor made from SDDL, freed when dropped.
#[derive(Debug)]
pub struct Descriptor(LocalBox);

impl Descriptor {
    pub fn from_sddl(sddl: &str) -> io::Result<Descriptor> {
        let sddl = wide_nul(OsStr::new(sddl))?;
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated UTF-16; `descriptor` is a valid out-pointer;
        // the size out-pointer may be null.
        let converted = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                ptr::null_mut(),
            )
        } != 0;
        if !converted {
            return Err(io::Error::last_os_error());
        }
        Ok(Descriptor(LocalBox(descriptor)))
    }

    /// Valid for as long as `self` lives.
    pub fn as_ptr(&self) -> PSECURITY_DESCRIPTOR {
        self.0.0
    }
}

/// Memory the system allocated with `LocalAlloc`, freed on drop.
#[derive(Debug)]
struct LocalBox(*mut core::ffi::c_void);

impl Drop for LocalBox {
    fn drop(&mut self) {
        // SAFETY: the pointer came from an API documented to allocate with LocalAlloc
        // and is not used after this.
        unsafe { LocalFree(self.0) };
    }
}

/// `text` as NUL-terminated UTF-16; an error if it holds a NUL of its own, which would
/// cut it short.
pub fn wide_nul(text: &OsStr) -> io::Result<Vec<u16>> {
    let mut wide: Vec<u16> = text.encode_wide().collect();
    if wide.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} contains a NUL character", text.display()),
        ));
    }
    wide.push(0);
    Ok(wide)
}

/// # Safety
/// `p` must point to a NUL-terminated UTF-16 string.
unsafe fn from_wide_nul(p: *const u16) -> String {
    let mut len = 0;
    // SAFETY: the caller promises a terminator, so every read up to it is in bounds.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` units before the terminator are initialised.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_system_administrators_or_our_own_account_are_trusted() {
        let own = "S-1-5-21-1-2-3-1001";
        assert!(is_trusted_owner(LOCAL_SYSTEM_SID, own));
        assert!(is_trusted_owner(ADMINISTRATORS_SID, own));
        assert!(is_trusted_owner(own, own));
        assert!(!is_trusted_owner("S-1-5-21-1-2-3-1002", own));
        assert!(!is_trusted_owner("", own));
    }

    #[test]
    fn this_process_and_its_files_have_owners() {
        let own = process_account_sid().unwrap();
        assert!(own.starts_with("S-1-"), "{own}");
        let dir = std::env::temp_dir().join(format!("culvert-winsec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let owner = owner_of_path(&dir);
        let dacl = dacl_of_path(&dir);
        std::fs::remove_dir(&dir).unwrap();
        assert!(owner.unwrap().starts_with("S-1-"));
        assert!(dacl.unwrap().starts_with("D:"));
        assert!(!is_link(
            &std::fs::symlink_metadata(std::env::temp_dir()).unwrap()
        ));
    }

    #[test]
    fn text_with_a_nul_of_its_own_is_refused() {
        let refused = wide_nul(OsStr::new("a\0b")).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(wide_nul(OsStr::new("ab")).unwrap(), vec![97, 98, 0]);
    }

    #[test]
    fn descriptors_come_from_valid_sddl_only() {
        let descriptor = Descriptor::from_sddl("O:SYD:P(A;;GA;;;SY)(A;;GA;;;BA)").unwrap();
        assert!(!descriptor.as_ptr().is_null());
        assert!(Descriptor::from_sddl("not sddl at all").is_err());
        let nul = Descriptor::from_sddl("D:P\0(A;;GA;;;WD)").err().unwrap();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
    }
}
