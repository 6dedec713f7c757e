//! Windows named pipe transport.
//!
//! UNVERIFIED: this file has never been compiled or run (the build machine has no
//! Windows target). It records the design and should be finished on Windows:
//!
//! - The service creates `\\.\pipe\culvert\culvertd` with a security descriptor
//!   ([`SDDL`]) owned by SYSTEM whose protected DACL grants SYSTEM and Administrators
//!   full access and Network Configuration Operators read/write (the operators group,
//!   as wireguard-windows uses it). The kernel enforces it at open time, so
//!   [`authorize`] only records who connected. Remote clients are rejected and the
//!   first instance is created with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so another
//!   process cannot squat the name before the service.
//! - The client refuses a pipe not owned by LocalSystem: anyone can create a pipe
//!   with a free name, and a fake service could otherwise receive imported keys.
//! - To check: `CancelIoEx` waking a reader thread blocked in a synchronous
//!   `ReadFile` on the same handle ([`Stream::shutdown`]); write timeouts, which this
//!   file does not implement.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};
use std::path::Path;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_PIPE_CONNECTED, ERROR_SUCCESS, INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo, SDDL_REVISION_1,
    SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    IsWellKnownSid, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES,
    WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_ACCESS_DUPLEX};
use windows_sys::Win32::System::IO::CancelIoEx;
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, GetNamedPipeClientProcessId, PIPE_READMODE_BYTE,
    PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};

use crate::auth::{Grant, PeerIdentity};
use crate::error::{IpcError, TransportError};

/// Owner SYSTEM; protected DACL: SYSTEM and Administrators all access, Network
/// Configuration Operators (`NO`) read and write.
const SDDL: &str = "O:SYD:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;NO)";

/// One handle shared by clones, so `shutdown` cancels a read issued on a clone.
#[derive(Debug)]
pub(super) struct Stream(Arc<File>);

#[derive(Debug)]
pub(super) struct Listener {
    name: Vec<u16>,
    /// The instance the next client will connect to.
    next: Mutex<Option<OwnedHandle>>,
}

impl Stream {
    pub(super) fn connect(path: &Path) -> io::Result<Stream> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        if !owned_by_local_system(&file)? {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the pipe is not owned by LocalSystem, so it is not culvertd's; refusing it",
            ));
        }
        Ok(Stream(Arc::new(file)))
    }

    pub(super) fn try_clone(&self) -> io::Result<Stream> {
        Ok(Stream(Arc::clone(&self.0)))
    }

    pub(super) fn shutdown(&self) -> io::Result<()> {
        // SAFETY: the handle is open for as long as `self.0` lives; a null OVERLAPPED
        // pointer means "all I/O on this handle".
        unsafe { CancelIoEx(self.0.as_raw_handle(), ptr::null()) };
        Ok(())
    }

    pub(super) fn set_write_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
        // UNVERIFIED: synchronous pipe writes cannot time out; the service reads
        // continuously, so a write only blocks while it is stuck.
        Ok(())
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }

    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }

    pub(super) fn as_handle(&self) -> BorrowedHandle<'_> {
        self.0.as_handle()
    }
}

impl Listener {
    pub(super) fn bind(path: &Path, _group: &str) -> Result<Listener, TransportError> {
        let name: Vec<u16> = path
            .as_os_str()
            .to_string_lossy()
            .encode_utf16()
            .chain(Some(0))
            .collect();
        let first = create_instance(&name, true).map_err(|e| {
            if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) {
                TransportError::InUse { path: path.into() }
            } else {
                TransportError::io("create the pipe", path, e)
            }
        })?;
        Ok(Listener {
            name,
            next: Mutex::new(Some(first)),
        })
    }

    pub(super) fn accept(&self) -> io::Result<Stream> {
        let taken = self.next.lock().unwrap_or_else(|p| p.into_inner()).take();
        let instance = match taken {
            Some(h) => h,
            None => create_instance(&self.name, false)?,
        };
        // SAFETY: `instance` is an open pipe handle; a null OVERLAPPED makes the call
        // synchronous.
        let ok = unsafe { ConnectNamedPipe(instance.as_raw_handle(), ptr::null_mut()) } != 0;
        if !ok {
            let e = io::Error::last_os_error();
            // A client that connected between create and connect is connected.
            if e.raw_os_error() != Some(ERROR_PIPE_CONNECTED as i32) {
                return Err(e);
            }
        }
        let next = create_instance(&self.name, false)?;
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = Some(next);
        Ok(Stream(Arc::new(File::from(instance))))
    }
}

pub(super) fn authorize(conn: &impl AsHandle, _group: &str) -> Result<PeerIdentity, IpcError> {
    let mut pid = 0u32;
    // SAFETY: the handle is borrowed for the call; `pid` is a valid out-pointer.
    let ok =
        unsafe { GetNamedPipeClientProcessId(conn.as_handle().as_raw_handle(), &mut pid) } != 0;
    Ok(PeerIdentity {
        uid: None,
        pid: ok.then_some(pid),
        grant: Grant::PipeAcl,
    })
}

fn create_instance(name: &[u16], first: bool) -> io::Result<OwnedHandle> {
    let sddl: Vec<u16> = SDDL.encode_utf16().chain(Some(0)).collect();
    let mut sd: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `sddl` is NUL-terminated UTF-16; `sd` is a valid out-pointer; the size
    // out-pointer may be null.
    let ok = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            ptr::null_mut(),
        )
    } != 0;
    if !ok {
        return Err(io::Error::last_os_error());
    }
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: sd,
        bInheritHandle: 0,
    };
    let mut open_mode = PIPE_ACCESS_DUPLEX;
    if first {
        open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
    }
    // SAFETY: `name` is NUL-terminated UTF-16; `attributes` and the descriptor it
    // points to are valid for the call.
    let handle = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            open_mode,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            64 * 1024,
            64 * 1024,
            0,
            &attributes,
        )
    };
    let error = io::Error::last_os_error();
    // SAFETY: `sd` was allocated by ConvertStringSecurityDescriptor... with LocalAlloc
    // and is no longer used (CreateNamedPipeW copied it).
    unsafe { LocalFree(sd as _) };
    if handle == INVALID_HANDLE_VALUE {
        return Err(error);
    }
    // SAFETY: `handle` is a fresh, valid handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle as _) })
}

fn owned_by_local_system(file: &File) -> io::Result<bool> {
    let mut owner: PSID = ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: the handle is open; `owner` and `sd` are valid out-pointers; the
    // pointers for information not asked for may be null.
    let rc = unsafe {
        GetSecurityInfo(
            file.as_raw_handle(),
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            &mut sd,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    // SAFETY: `owner` points into `sd`, which is alive until the LocalFree below.
    let is_system = unsafe { IsWellKnownSid(owner, WinLocalSystemSid) } != 0;
    // SAFETY: `sd` was allocated by GetSecurityInfo with LocalAlloc; not used after.
    unsafe { LocalFree(sd as _) };
    Ok(is_system)
}
