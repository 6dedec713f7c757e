//! Who owns a pipe and who is on its other end, and the security descriptors and
//! privilege that pipes owned by SYSTEM need.

use std::io;
use std::os::windows::io::{
    AsRawHandle as _, BorrowedHandle, FromRawHandle as _, OwnedHandle, RawHandle,
};
use std::ptr;

use windows_sys::Win32::Foundation::{
    ERROR_NOT_ALL_ASSIGNED, ERROR_SUCCESS, GetLastError, HANDLE, LUID, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo,
    SDDL_REVISION_1, SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, LUID_AND_ATTRIBUTES, LookupPrivilegeValueW, OWNER_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, SE_PRIVILEGE_ENABLED, SE_RESTORE_NAME, TOKEN_ADJUST_PRIVILEGES,
    TOKEN_PRIVILEGES,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// The string form of LocalSystem's SID, what [`super::PipeStream::owner_sid`] returns for a
/// pipe a service running as SYSTEM created.
pub const LOCAL_SYSTEM_SID: &str = "S-1-5-18";

/// The owner of the object behind `handle`, as a string SID.
pub fn owner_sid(handle: BorrowedHandle<'_>) -> io::Result<String> {
    let mut owner: PSID = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: the handle is open for the call; `owner` and `descriptor` are valid
    // out-pointers; the pointers for information not asked for may be null.
    let rc = unsafe {
        GetSecurityInfo(
            handle.as_raw_handle() as HANDLE,
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let descriptor = LocalBox(descriptor);
    if owner.is_null() {
        return Err(io::Error::other(
            "the pipe's security descriptor has no owner",
        ));
    }
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `owner` points into `descriptor`, alive until the end of this function;
    // `text` is a valid out-pointer.
    if unsafe { ConvertSidToStringSidW(owner, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let text = LocalBox(text.cast());
    // SAFETY: ConvertSidToStringSidW returned a NUL-terminated UTF-16 string.
    let sid = unsafe { from_wide_nul(text.0.cast()) };
    drop(descriptor);
    Ok(sid)
}

/// The process on the client end of the server-end pipe `handle`.
pub fn client_process_id(handle: BorrowedHandle<'_>) -> io::Result<u32> {
    let mut pid = 0u32;
    // SAFETY: the handle is borrowed for the call; `pid` is a valid out-pointer.
    if unsafe { GetNamedPipeClientProcessId(handle.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

/// Enables `SeRestorePrivilege` in this process's token, which lets an elevated
/// administrator create pipes owned by LocalSystem, the owner culvert's clients and
/// `wg.exe` insist on. The services run as LocalSystem and do not need it; tests and
/// culvert-engine run by hand from an elevated prompt do. An error when the token does
/// not hold the privilege (not elevated).
pub fn enable_restore_privilege() -> io::Result<()> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: the pseudo-handle of the current process needs no closing; `token` is
    // a valid out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: OpenProcessToken returned a fresh handle we own.
    let token = unsafe { OwnedHandle::from_raw_handle(token as RawHandle) };
    let mut luid = LUID::default();
    // SAFETY: SE_RESTORE_NAME is a static NUL-terminated UTF-16 string; `luid` is a
    // valid out-pointer; a null system name means this machine.
    if unsafe { LookupPrivilegeValueW(ptr::null(), SE_RESTORE_NAME, &mut luid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let privileges = TOKEN_PRIVILEGES {
        PrivilegeCount: 1,
        Privileges: [LUID_AND_ATTRIBUTES {
            Luid: luid,
            Attributes: SE_PRIVILEGE_ENABLED,
        }],
    };
    // SAFETY: the token is open with TOKEN_ADJUST_PRIVILEGES; `privileges` is valid
    // for the call; the previous state is not asked for.
    let ok = unsafe {
        AdjustTokenPrivileges(
            token.as_raw_handle() as HANDLE,
            0,
            &privileges,
            0,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    } != 0;
    // Success with ERROR_NOT_ALL_ASSIGNED means the token lacks the privilege.
    // SAFETY: no other call since AdjustTokenPrivileges.
    let code = unsafe { GetLastError() };
    if !ok {
        return Err(io::Error::from_raw_os_error(code as i32));
    }
    if code == ERROR_NOT_ALL_ASSIGNED {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "this process does not hold SeRestorePrivilege: run it elevated (as an \
             administrator) or as LocalSystem",
        ));
    }
    Ok(())
}

/// A security descriptor made from SDDL, freed on drop.
pub(super) struct Descriptor(LocalBox);

impl Descriptor {
    /// `sddl` is NUL-terminated UTF-16.
    pub(super) fn from_sddl(sddl: &[u16]) -> io::Result<Descriptor> {
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated UTF-16; `descriptor` is a valid
        // out-pointer; the size out-pointer may be null.
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
    pub(super) fn as_ptr(&self) -> PSECURITY_DESCRIPTOR {
        self.0.0
    }
}

/// Memory the system allocated with `LocalAlloc`, freed on drop.
struct LocalBox(*mut core::ffi::c_void);

impl Drop for LocalBox {
    fn drop(&mut self) {
        // SAFETY: the pointer came from an API documented to allocate with LocalAlloc
        // and is not used after this.
        unsafe { LocalFree(self.0) };
    }
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
