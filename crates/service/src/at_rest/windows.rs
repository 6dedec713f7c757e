//! Windows: configs sealed with DPAPI (`CryptProtectData`) under the account the service
//! runs as, LocalSystem, with an app-specific entropy, in a directory whose protected
//! access list admits only SYSTEM and Administrators. User scope, not machine scope: a
//! machine-scope blob can be unsealed by any process on the machine, a LocalSystem one
//! only by SYSTEM.
//!
//! UNVERIFIED: this file has never been compiled or run (the build machine has no
//! Windows target). To check on Windows: a round trip as SYSTEM (`psexec -s`), that an
//! administrator's own process cannot unseal a stored file, and the directory's ACL.
#![allow(unsafe_code)]

use super::{SealError, Sealer};
use std::io;
use std::os::windows::ffi::OsStrExt as _;
use std::path::Path;
use std::ptr;
use std::sync::Arc;
use windows_sys::Win32::Foundation::{ERROR_ALREADY_EXISTS, ERROR_SUCCESS, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1, SE_FILE_OBJECT,
    SetNamedSecurityInfoW,
};
use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData, CryptUnprotectData,
};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, GetSecurityDescriptorDacl, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES,
};
use windows_sys::Win32::Storage::FileSystem::CreateDirectoryW;
use zeroize::{Zeroize as _, Zeroizing};

/// Mixed into every seal, so a blob some other LocalSystem program sealed is not taken
/// for a config, nor ours for theirs. Changing it makes every stored config unreadable.
const ENTROPY: &[u8] = b"Culvert tunnel config at rest v1";

/// A protected DACL (nothing inherited from `%ProgramData%`, where users may create
/// files): SYSTEM and Administrators full control, inherited by the files.
const DIRECTORY_SDDL: &str = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

pub(super) fn sealer() -> Arc<dyn Sealer> {
    Arc::new(Dpapi)
}

#[derive(Debug)]
struct Dpapi;

impl Sealer for Dpapi {
    fn extension(&self) -> &'static str {
        // As wireguard-windows names its sealed configs.
        ".conf.dpapi"
    }

    fn seal(&self, text: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let input = blob(text.as_bytes())?;
        let entropy = blob(ENTROPY)?;
        let description: Vec<u16> = "Culvert tunnel".encode_utf16().chain(Some(0)).collect();
        let mut output = CRYPT_INTEGER_BLOB {
            cbData: 0,
            pbData: ptr::null_mut(),
        };
        // SAFETY: `input` and `entropy` point at live slices of the lengths they state,
        // which DPAPI only reads; `description` is NUL-terminated UTF-16; the reserved
        // and prompt pointers may be null; `output` is a valid out-pointer that DPAPI
        // fills with a LocalAlloc'ed buffer, taken over by `take` below.
        let sealed = unsafe {
            CryptProtectData(
                &input,
                description.as_ptr(),
                &entropy,
                ptr::null(),
                ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut output,
            )
        } != 0;
        if !sealed {
            return Err(SealError(format!(
                "DPAPI could not seal it: {}",
                io::Error::last_os_error()
            )));
        }
        Ok(Zeroizing::new(take(output)))
    }

    fn unseal(&self, sealed: &[u8]) -> Result<Zeroizing<String>, SealError> {
        let input = blob(sealed)?;
        let entropy = blob(ENTROPY)?;
        let mut output = CRYPT_INTEGER_BLOB {
            cbData: 0,
            pbData: ptr::null_mut(),
        };
        // SAFETY: as in `seal`; the description out-pointer may be null.
        let opened = unsafe {
            CryptUnprotectData(
                &input,
                ptr::null_mut(),
                &entropy,
                ptr::null(),
                ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut output,
            )
        } != 0;
        if !opened {
            return Err(SealError(format!(
                "DPAPI could not unseal it (sealed by another account or machine, or \
                 damaged): {}; import the tunnel again",
                io::Error::last_os_error()
            )));
        }
        let bytes = take(output);
        String::from_utf8(bytes)
            .map(Zeroizing::new)
            .map_err(|error| {
                let mut bytes = error.into_bytes();
                bytes.zeroize();
                SealError("it unsealed to something that is not UTF-8 text".into())
            })
    }
}

fn blob(bytes: &[u8]) -> Result<CRYPT_INTEGER_BLOB, SealError> {
    let length = u32::try_from(bytes.len())
        .map_err(|_| SealError("a config of 4 GiB or more cannot be sealed".into()))?;
    Ok(CRYPT_INTEGER_BLOB {
        cbData: length,
        // DPAPI never writes through an input blob.
        pbData: bytes.as_ptr().cast_mut(),
    })
}

/// Copies a blob DPAPI allocated, wipes it (it may hold a private key) and frees it.
fn take(blob: CRYPT_INTEGER_BLOB) -> Vec<u8> {
    if blob.pbData.is_null() {
        return Vec::new();
    }
    // SAFETY: DPAPI returned `cbData` bytes at `pbData`, allocated with LocalAlloc and
    // now ours alone; they are not used after the LocalFree.
    unsafe {
        let bytes = std::slice::from_raw_parts_mut(blob.pbData, blob.cbData as usize);
        let copy = bytes.to_vec();
        bytes.zeroize();
        LocalFree(blob.pbData.cast());
        copy
    }
}

/// A security descriptor made from SDDL, freed when dropped.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    fn from_sddl(sddl: &str) -> io::Result<Descriptor> {
        let sddl: Vec<u16> = sddl.encode_utf16().chain(Some(0)).collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated UTF-16; `descriptor` is a valid out-pointer;
        // the size out-pointer may be null.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                ptr::null_mut(),
            )
        } != 0;
        if !ok {
            return Err(io::Error::last_os_error());
        }
        Ok(Descriptor(descriptor))
    }
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated with LocalAlloc by ConvertStringSecurityDescriptor...; no
        // pointer into it outlives `self`.
        unsafe { LocalFree(self.0.cast()) };
    }
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let descriptor = Descriptor::from_sddl(DIRECTORY_SDDL)?;
    let path: Vec<u16> = dir.as_os_str().encode_wide().chain(Some(0)).collect();
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    // SAFETY: `path` is NUL-terminated UTF-16; `attributes` and its descriptor are
    // valid for the call.
    if unsafe { CreateDirectoryW(path.as_ptr(), &attributes) } != 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() != Some(ERROR_ALREADY_EXISTS as i32) {
        return Err(error);
    }
    // It exists (an older install, or made by someone else): give it the same list.
    let (mut present, mut defaulted) = (0, 0);
    let mut dacl: *mut ACL = ptr::null_mut();
    // SAFETY: the descriptor is live; the out-pointers are valid; `dacl` points into
    // the descriptor, which outlives its use below.
    let ok =
        unsafe { GetSecurityDescriptorDacl(descriptor.0, &mut present, &mut dacl, &mut defaulted) }
            != 0;
    if !ok || present == 0 {
        return Err(io::Error::other(
            "the directory's access list could not be built",
        ));
    }
    // SAFETY: `path` is NUL-terminated UTF-16; `dacl` is a valid ACL (above); owner,
    // group and SACL are not changed, so their pointers are null.
    let rc = unsafe {
        SetNamedSecurityInfoW(
            path.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            dacl,
            ptr::null(),
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    Ok(())
}
