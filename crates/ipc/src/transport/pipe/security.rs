//! Who is on a pipe's other end, and the privilege that pipes owned by SYSTEM need.
//! (Owners and security descriptors are culvert-winsec's.)

use std::io;
use std::os::windows::io::{
    AsRawHandle as _, BorrowedHandle, FromRawHandle as _, OwnedHandle, RawHandle,
};
use std::ptr;

use windows_sys::Win32::Foundation::{ERROR_NOT_ALL_ASSIGNED, GetLastError, HANDLE, LUID};
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, LUID_AND_ATTRIBUTES, LookupPrivilegeValueW, SE_PRIVILEGE_ENABLED,
    SE_RESTORE_NAME, TOKEN_ADJUST_PRIVILEGES, TOKEN_PRIVILEGES,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

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
