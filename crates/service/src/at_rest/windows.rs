//! Windows: configs sealed with DPAPI (`CryptProtectData`) under the account the service
//! runs as, LocalSystem, with an app-specific entropy, in a directory whose protected
//! access list admits only SYSTEM and Administrators. User scope, not machine scope: a
//! machine-scope blob can be unsealed by any process on the machine, a LocalSystem one
//! only by SYSTEM.
//!
//! The service's directories (`%ProgramData%\Culvert` and everything under it) are made
//! with that access list, protected so nothing of `%ProgramData%`'s comes in (there any
//! user may create folders, and read). One that exists already is used only if it is a
//! real folder owned by SYSTEM, Administrators or the service's own account: a user
//! could have made it first, to read the configs or plant some (a `culvertd.toml` that
//! enables scripts, which run as SYSTEM). Then it is refused, with what to do.
//!
//! Checked under wine (tests below): the DPAPI round trip, a tampered blob refused, the
//! store's life cycle on a Windows path, the folder decisions. UNVERIFIED on real
//! Windows, since wine keeps no access lists on files (it derives them from Unix modes
//! and makes the user the owner of everything): that the folders get exactly the
//! protected DACL and an owner of SYSTEM or Administrators, that files inherit it, and
//! that a round trip as SYSTEM works while an administrator's own process cannot unseal
//! a stored file (`psexec -s`; `icacls "%ProgramData%\Culvert"`).
#![allow(unsafe_code)]

use super::{SealError, Sealer};
use culvert_winsec::{
    Descriptor, is_link, is_trusted_owner, owner_of_path, process_account_sid, wide_nul,
};
use std::io;
use std::path::Path;
use std::ptr;
use std::sync::Arc;
use windows_sys::Win32::Foundation::{ERROR_ALREADY_EXISTS, ERROR_SUCCESS, LocalFree};
use windows_sys::Win32::Security::Authorization::{SE_FILE_OBJECT, SetNamedSecurityInfoW};
use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData, CryptUnprotectData,
};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, GetSecurityDescriptorDacl, PROTECTED_DACL_SECURITY_INFORMATION,
    SECURITY_ATTRIBUTES,
};
use windows_sys::Win32::Storage::FileSystem::CreateDirectoryW;
use zeroize::{Zeroize as _, Zeroizing};

/// Mixed into every seal, so a blob some other LocalSystem program sealed is not taken
/// for a config, nor ours for theirs. Changing it makes every stored config unreadable.
const ENTROPY: &[u8] = b"Culvert tunnel config at rest v1";

/// A protected DACL (nothing inherited from `%ProgramData%`, where users may create
/// folders): SYSTEM and Administrators full control, inherited by everything inside. No
/// owner: it is the creator's default, SYSTEM or Administrators for the service.
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

/// What an existing path is, as far as trusting it with the service's files goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    /// The owner's SID, `S-1-5-…`.
    owner: String,
    /// A junction or symbolic link: it leads somewhere else.
    reparse_point: bool,
    directory: bool,
}

/// Whether the service may keep its files in `path`, found as `found` there: a real
/// folder (not a link, which could lead anywhere) owned by SYSTEM, Administrators or
/// `own`, the account the service runs as (SYSTEM under the service manager).
fn trust(path: &Path, found: &Found, own: &str) -> io::Result<()> {
    let why = if found.reparse_point {
        "it is a link (a junction or symbolic link) to somewhere else, not a folder".to_owned()
    } else if !found.directory {
        "it is a file, not a folder".to_owned()
    } else if !is_trusted_owner(&found.owner, own) {
        format!(
            "its owner is {}, not SYSTEM or Administrators, so someone else made it and \
             could read the tunnels' keys or plant configs",
            found.owner
        )
    } else {
        return Ok(());
    };
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} is not safe to keep Culvert's tunnels in: {why}. Delete it in an \
             administrator's console (rmdir /s \"{}\") and start culvertd again, which makes \
             it afresh",
            path.display(),
            path.display()
        ),
    ))
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    // The missing part of the path is made private too, top down: nobody else made it,
    // and what the service keeps beside its tunnels (settings, state) is as private.
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(path) = cursor {
        if std::fs::symlink_metadata(path).is_ok() {
            break;
        }
        missing.push(path);
        cursor = path.parent();
    }
    if missing.is_empty() {
        return secure_existing(dir);
    }
    let descriptor = Descriptor::from_sddl(DIRECTORY_SDDL)?;
    for path in missing.into_iter().rev() {
        let wide_path = wide_nul(path.as_os_str())?;
        let attributes = SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor.as_ptr(),
            bInheritHandle: 0,
        };
        // SAFETY: `wide_path` is NUL-terminated UTF-16; `attributes` and its descriptor
        // are valid for the call.
        if unsafe { CreateDirectoryW(wide_path.as_ptr(), &attributes) } != 0 {
            continue;
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(ERROR_ALREADY_EXISTS as i32) {
            return Err(error);
        }
        // Someone made it since we looked: trusted only as any existing one is.
        secure_existing(path)?;
    }
    Ok(())
}

/// Checks an existing folder ([`trust`]) and gives it the service's access list (an
/// older install, or a folder an administrator made).
fn secure_existing(path: &Path) -> io::Result<()> {
    let metadata = std::fs::symlink_metadata(path)?;
    let reparse_point = is_link(&metadata);
    // A link's owner would be its target's: none is read for one.
    let owner = if reparse_point {
        String::new()
    } else {
        owner_of_path(path)?
    };
    let found = Found {
        owner,
        reparse_point,
        directory: metadata.is_dir(),
    };
    trust(path, &found, &process_account_sid()?)?;
    let descriptor = Descriptor::from_sddl(DIRECTORY_SDDL)?;
    let (mut present, mut defaulted) = (0, 0);
    let mut dacl: *mut ACL = ptr::null_mut();
    // SAFETY: the descriptor is live; the out-pointers are valid; `dacl` points into
    // the descriptor, which outlives its use below.
    let ok = unsafe {
        GetSecurityDescriptorDacl(descriptor.as_ptr(), &mut present, &mut dacl, &mut defaulted)
    } != 0;
    if !ok || present == 0 {
        return Err(io::Error::other(
            "the directory's access list could not be built",
        ));
    }
    let path = wide_nul(path.as_os_str())?;
    // SAFETY: `path` is NUL-terminated UTF-16; `dacl` is a valid ACL (above); owner,
    // group and SACL are not changed, so their pointers are null. Inheritable entries
    // reach what is inside already.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ConfigStore, StoreError};
    use culvert_config::TunnelName;
    use culvert_winsec::{ADMINISTRATORS_SID, LOCAL_SYSTEM_SID as SYSTEM_SID};
    use std::path::PathBuf;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("culvertd-win-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn config() -> String {
        let key = culvert_config::PrivateKey::generate();
        let peer = culvert_config::PrivateKey::generate().public_key();
        format!(
            "[Interface]\nPrivateKey = {}\nAddress = 10.0.0.2/32\n# caf\u{e9}\n\n[Peer]\n\
             PublicKey = {peer}\nAllowedIPs = 0.0.0.0/0\n",
            &*key.to_base64()
        )
    }

    #[test]
    fn dpapi_seals_and_unseals_a_config() {
        let text = config();
        let sealed = Dpapi.seal(&text).unwrap();
        let key_line = text.lines().find(|l| l.starts_with("PrivateKey")).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains(key_line));
        assert_eq!(Dpapi.unseal(&sealed).unwrap().as_str(), text);
        assert_eq!(Dpapi.extension(), ".conf.dpapi");
    }

    #[test]
    fn tampered_or_foreign_blobs_are_refused_with_what_to_do() {
        let mut sealed = Dpapi.seal(&config()).unwrap().to_vec();
        let middle = sealed.len() / 2;
        sealed[middle] ^= 0x40;
        let error = Dpapi.unseal(&sealed).unwrap_err().to_string();
        assert!(
            error.contains("DPAPI could not unseal it")
                && error.contains("import the tunnel again"),
            "{error}"
        );
        let error = Dpapi.unseal(b"[Interface]\nPrivateKey = x\n").unwrap_err();
        assert!(
            error.to_string().contains("DPAPI could not unseal it"),
            "{error}"
        );
    }

    #[test]
    fn the_store_keeps_tunnels_sealed_on_a_windows_path() {
        let dir = temp_dir("store").join("Culvert").join("tunnels");
        let store = ConfigStore::open(&dir).unwrap();
        let name = TunnelName::new("office").unwrap();
        let text = config();
        store.create(&name, &text).unwrap();
        let file = dir.join("office.conf.dpapi");
        let on_disk = std::fs::read(&file).unwrap();
        assert!(!String::from_utf8_lossy(&on_disk).contains("PrivateKey"));
        assert_eq!(*store.load(&name).unwrap(), text);
        // Saving again replaces the file (a rename over an existing one on Windows).
        let edited = text.replace("10.0.0.2/32", "10.0.0.3/32");
        store.save(&name, &edited).unwrap();
        assert_eq!(*store.load(&name).unwrap(), edited);
        let home = TunnelName::new("home").unwrap();
        store.rename(&name, &home).unwrap();
        assert!(!file.exists() && dir.join("home.conf.dpapi").exists());
        assert_eq!(store.list().unwrap(), vec![home.clone()]);
        assert!(matches!(store.load(&name), Err(StoreError::NotFound(_))));
        // A sealed file damaged on disk is reported by path.
        std::fs::write(dir.join("broken.conf.dpapi"), b"garbage").unwrap();
        let broken = TunnelName::new("broken").unwrap();
        let error = store.load(&broken).unwrap_err().to_string();
        assert!(
            error.contains("broken.conf.dpapi") && error.contains("DPAPI"),
            "{error}"
        );
        store.delete(&home).unwrap();
        store.delete(&broken).unwrap();
        assert!(store.list().unwrap().is_empty());
        // Opening it again trusts the folders it made.
        ConfigStore::open(&dir).unwrap();
        let _ = std::fs::remove_dir_all(temp_dir("store"));
    }

    #[test]
    fn folders_are_made_without_access_for_users() {
        let base = temp_dir("acl");
        let dir = base.join("Culvert").join("state");
        create_private_dir(&dir).unwrap();
        for path in [base.join("Culvert"), dir.clone()] {
            let sddl = culvert_winsec::dacl_of_path(&path).unwrap();
            // Wine derives the list from Unix modes and cannot say "protected" or
            // "Administrators"; what it can say is that no one else gets in.
            for others in ["WD", "BU", "AU", "S-1-1-0", "S-1-5-32-545", "S-1-5-11"] {
                assert!(
                    !sddl.contains(&format!(";;;{others})")),
                    "{}: {sddl}",
                    path.display()
                );
            }
        }
        // Again: an existing folder the service's account owns is trusted and kept.
        create_private_dir(&dir).unwrap();
        assert!(dir.is_dir());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn only_real_folders_of_system_administrators_or_the_service_are_trusted() {
        let path = Path::new(r"C:\ProgramData\Culvert");
        let own = "S-1-5-21-1-2-3-500";
        let found = |owner: &str| Found {
            owner: owner.into(),
            reparse_point: false,
            directory: true,
        };
        for owner in [SYSTEM_SID, ADMINISTRATORS_SID, own] {
            trust(path, &found(owner), own).unwrap();
        }
        let user = "S-1-5-21-1-2-3-1001";
        let error = trust(path, &found(user), SYSTEM_SID).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
        let message = error.to_string();
        assert!(
            message.contains(r"C:\ProgramData\Culvert is not safe")
                && message.contains(user)
                && message.contains("not SYSTEM or Administrators")
                && message.contains(r#"rmdir /s "C:\ProgramData\Culvert""#),
            "{message}"
        );
        let link = Found {
            reparse_point: true,
            ..found(SYSTEM_SID)
        };
        let message = trust(path, &link, SYSTEM_SID).unwrap_err().to_string();
        assert!(message.contains("link"), "{message}");
        let file = Found {
            directory: false,
            ..found(SYSTEM_SID)
        };
        let message = trust(path, &file, SYSTEM_SID).unwrap_err().to_string();
        assert!(message.contains("a file, not a folder"), "{message}");
    }

    #[test]
    fn the_service_knows_its_own_account() {
        let own = process_account_sid().unwrap();
        assert!(own.starts_with("S-1-5-"), "{own}");
        let dir = temp_dir("owner");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(owner_of_path(&dir).unwrap().starts_with("S-1-"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
