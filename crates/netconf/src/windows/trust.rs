//! Whether recovery may obey the journals in a folder. It runs as SYSTEM (culvertd's
//! start, `culvertd recover` from the uninstaller) and deletes what they name — routes,
//! interface DNS, WFP objects by key — so a journal planted by someone else could make
//! it delete another program's firewall filters. culvertd makes its state folder private
//! before it recovers; this refuses a journal folder it did not: a link, or one owned by
//! anyone but SYSTEM, Administrators or the account running us.
//!
//! UNVERIFIED on real Windows: wine makes the user the owner of every file, so only the
//! decision and the "our own account" case run there.
#![allow(unsafe_code)]

use crate::Error;
use std::os::windows::ffi::OsStrExt as _;
use std::os::windows::fs::MetadataExt as _;
use std::path::Path;
use std::ptr;
use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, TOKEN_QUERY,
    TOKEN_USER, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_REPARSE_POINT;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

const SYSTEM_SID: &str = "S-1-5-18";
const ADMINISTRATORS_SID: &str = "S-1-5-32-544";

/// Refuses `dir` unless it is a real folder that SYSTEM, Administrators or we own.
pub(crate) fn check_journal_dir(dir: &Path) -> Result<(), Error> {
    let metadata = std::fs::symlink_metadata(dir).map_err(Error::io("the journal folder"))?;
    let link = metadata.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0;
    // A link's owner would be its target's: none is read for one.
    let owner = if link { String::new() } else { owner_of(dir)? };
    decide(dir, link, &owner, &own_sid()?)
}

fn decide(dir: &Path, link: bool, owner: &str, own: &str) -> Result<(), Error> {
    let why = if link {
        "it is a link to somewhere else".to_owned()
    } else if ![SYSTEM_SID, ADMINISTRATORS_SID, own].contains(&owner) {
        format!("its owner is {owner}, not SYSTEM or Administrators")
    } else {
        return Ok(());
    };
    Err(Error::System {
        what: "trusting the network journals",
        message: format!(
            "{} was not made by culvertd ({why}), so its journals are not obeyed; delete it \
             in an administrator's console (rmdir /s \"{}\")",
            dir.display(),
            dir.display()
        ),
    })
}

fn owner_of(path: &Path) -> Result<String, Error> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut owner: PSID = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated UTF-16; the out-pointers are valid; only the
    // owner is asked for, so the other pointers may be null.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(system("GetNamedSecurityInfoW", rc));
    }
    let text = sid_text(owner);
    // SAFETY: `descriptor` was LocalAlloc'ed by the call; `owner` pointed into it and is
    // not used after this.
    unsafe { LocalFree(descriptor.cast()) };
    text
}

fn own_sid() -> Result<String, Error> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: the pseudo-handle of this process needs no closing; `token` is a valid
    // out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(Error::io("opening this process's token")(
            std::io::Error::last_os_error(),
        ));
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
    let error = std::io::Error::last_os_error();
    // SAFETY: `token` came from OpenProcessToken and is closed once.
    unsafe { CloseHandle(token) };
    if !ok {
        return Err(Error::io("reading this process's account")(error));
    }
    // SAFETY: the call succeeded, so the buffer starts with a TOKEN_USER whose SID
    // points into the buffer, alive for the conversion.
    let user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };
    sid_text(user.User.Sid)
}

fn sid_text(sid: PSID) -> Result<String, Error> {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `sid` is a valid SID (the callers'); `text` receives a LocalAlloc'ed
    // string, freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(Error::io("reading a SID")(std::io::Error::last_os_error()));
    }
    // SAFETY: `text` is a NUL-terminated UTF-16 string from the call, read before it is
    // freed.
    let string = unsafe {
        let length = (0..).take_while(|&i| *text.add(i) != 0).count();
        let string = String::from_utf16_lossy(std::slice::from_raw_parts(text, length));
        LocalFree(text.cast());
        string
    };
    Ok(string)
}

fn system(what: &'static str, code: u32) -> Error {
    Error::System {
        what,
        message: std::io::Error::from_raw_os_error(code as i32).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_of_system_administrators_or_ours_are_obeyed() {
        let dir = Path::new(r"C:\ProgramData\Culvert\state\netconf");
        let own = "S-1-5-21-9-9-9-500";
        for owner in [SYSTEM_SID, ADMINISTRATORS_SID, own] {
            decide(dir, false, owner, own).unwrap();
        }
        let message = decide(dir, false, "S-1-5-21-9-9-9-1001", SYSTEM_SID)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(r"C:\ProgramData\Culvert\state\netconf was not made by culvertd")
                && message.contains("S-1-5-21-9-9-9-1001"),
            "{message}"
        );
        let message = decide(dir, true, "", SYSTEM_SID).unwrap_err().to_string();
        assert!(message.contains("a link"), "{message}");
    }

    #[test]
    fn a_journal_folder_we_made_ourselves_is_obeyed() {
        let dir = std::env::temp_dir().join(format!("culvert-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        check_journal_dir(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
