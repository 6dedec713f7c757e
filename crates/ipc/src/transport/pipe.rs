//! Local named pipes with overlapped I/O: the one implementation behind culvertd's
//! transport (`transport/windows.rs`) and culvert-engine's UAPI pipe.
//!
//! Every handle is opened with `FILE_FLAG_OVERLAPPED`, and every read, write and
//! connect is an overlapped operation with its own event, waited for here. A
//! synchronous handle would serialise I/O per file object: a thread blocked in
//! `ReadFile` (culvertd's reader, while the client is idle) would hold up another
//! thread's `WriteFile` on the same handle (the events pushed to that client) until
//! the client next wrote. Overlapped operations on one handle are independent, which
//! is also what lets reads and writes time out and be cancelled one by one.
//!
//! What goes on the wire is the caller's: these are byte-mode pipes
//! (`PIPE_TYPE_BYTE`), local only (`PIPE_REJECT_REMOTE_CLIENTS`), with the security
//! descriptor the caller gives as SDDL.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::windows::io::{
    AsHandle, AsRawHandle, BorrowedHandle, FromRawHandle as _, OwnedHandle, RawHandle,
};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_BROKEN_PIPE, ERROR_INVALID_OWNER, ERROR_IO_PENDING, ERROR_NO_DATA,
    ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, ERROR_PIPE_NOT_CONNECTED, ERROR_SEM_TIMEOUT,
    GetLastError, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, FILE_GENERIC_READ,
    FILE_WRITE_DATA, OPEN_EXISTING, PIPE_ACCESS_DUPLEX, ReadFile, SECURITY_IDENTIFICATION,
    SECURITY_SQOS_PRESENT, WriteFile,
};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, DisconnectNamedPipe, PIPE_READMODE_BYTE,
    PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
    WaitNamedPipeW,
};
use windows_sys::Win32::System::Threading::{
    CreateEventW, INFINITE, SetEvent, WaitForMultipleObjects,
};

mod security;

pub use culvert_winsec::LOCAL_SYSTEM_SID;
use culvert_winsec::wide_nul;
pub use security::{client_process_id, enable_restore_privilege};

/// The access a client asks for: read, and write data, but not `FILE_APPEND_DATA`,
/// which on a pipe is `FILE_CREATE_PIPE_INSTANCE` (the right to serve the name).
/// Asking for `GENERIC_WRITE` would need a DACL granting that right to every client.
pub const CLIENT_ACCESS: u32 = FILE_GENERIC_READ | FILE_WRITE_DATA;

/// How long [`PipeStream::connect`] waits for an instance when every instance of the
/// pipe is busy. A listener here creates the next instance right after each accept, so
/// only a server that has stopped accepting keeps them all busy this long.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// Buffer sizes the kernel is asked for; a write that does not fit waits for the
/// reader (or its timeout).
const BUFFER_SIZE: u32 = 64 * 1024;

/// The server end of a named pipe: one instance listening at a time, a new one created
/// as soon as a client takes it, so clients rarely find the pipe busy.
#[derive(Debug)]
pub struct PipeListener {
    name: Vec<u16>,
    display: String,
    sddl: String,
    /// The instance the next client will connect to.
    next: Mutex<Option<OwnedHandle>>,
    closed: AtomicBool,
    /// Set for good by [`PipeListener::close`]; a pending accept waits on it too.
    close_event: Event,
}

/// One end of a connected pipe, server's or client's. Clones share the handle (as
/// `try_clone` of a socket shares the socket), so a reader thread and a writer can
/// each hold one, and [`PipeStream::shutdown`] on any clone ends the I/O of all.
#[derive(Debug, Clone)]
pub struct PipeStream(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    handle: OwnedHandle,
    closed: AtomicBool,
    /// Set for good by `shutdown`: every wait for an operation includes it.
    shutdown_event: Event,
    /// Milliseconds; `INFINITE` for none. Shared by the clones, as a socket's are.
    read_timeout: AtomicU32,
    write_timeout: AtomicU32,
}

impl PipeListener {
    /// Creates the first instance of the pipe `name` (`\\.\pipe\...`) with the
    /// security descriptor `sddl`.
    ///
    /// The name must be free: `FILE_FLAG_FIRST_PIPE_INSTANCE` makes the kernel refuse
    /// it otherwise, so no other process can have taken the name first and be serving
    /// some of our clients. Wine ignores that flag, so the name is also probed first;
    /// both give [`io::ErrorKind::AddrInUse`].
    ///
    /// The owner in `sddl` must be the caller, a group it may assign as owner, or
    /// anyone when the caller has `SeRestorePrivilege` enabled (see
    /// [`enable_restore_privilege`]); otherwise this is a `PermissionDenied` error.
    pub fn bind(name: impl AsRef<OsStr>, sddl: &str) -> io::Result<PipeListener> {
        let name_ref = name.as_ref();
        let display = name_ref.to_string_lossy().into_owned();
        let name = wide_nul(name_ref)?;
        let sddl = sddl.to_owned();
        if name_exists(&name) {
            return Err(in_use(&display));
        }
        let first = create_instance(&name, &sddl, true).map_err(|e| {
            match e.raw_os_error().map(|c| c as u32) {
                // Taken between the probe and the creation, or not ours to create.
                Some(ERROR_ACCESS_DENIED) if name_exists(&name) => in_use(&display),
                Some(ERROR_ACCESS_DENIED) => io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "may not create the pipe {display} (names under \
                         ProtectedPrefix\\Administrators are for administrators only): {e}"
                    ),
                ),
                Some(ERROR_INVALID_OWNER) => io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "cannot create the pipe {display} with the owner its clients expect \
                         (LocalSystem): run as LocalSystem, or as an administrator with \
                         SeRestorePrivilege enabled: {e}"
                    ),
                ),
                _ => e,
            }
        })?;
        Ok(PipeListener {
            name,
            display,
            sddl,
            next: Mutex::new(Some(first)),
            closed: AtomicBool::new(false),
            close_event: Event::new()?,
        })
    }

    /// Waits for the next client. After [`PipeListener::close`] (also while waiting)
    /// this is a [`io::ErrorKind::ConnectionAborted`] error.
    pub fn accept(&self) -> io::Result<PipeStream> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(listener_closed());
        }
        let taken = self.next.lock().unwrap_or_else(|p| p.into_inner()).take();
        let instance = match taken {
            Some(instance) => instance,
            None => create_instance(&self.name, &self.sddl, false)?,
        };
        while !self.connect_instance(&instance)? {
            // A client came and went before we got to it. Disconnecting readies the
            // instance for the next one; closing it instead could leave the name
            // without any instance for a moment, and a client would find no pipe.
            // SAFETY: `instance` is an open server end; no I/O is pending on it.
            if unsafe { DisconnectNamedPipe(instance.as_raw_handle() as HANDLE) } == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // Keep an instance listening while this one is served. If that fails, the
        // next accept tries again and reports it; this client is served anyway.
        if let Ok(next) = create_instance(&self.name, &self.sddl, false) {
            *self.next.lock().unwrap_or_else(|p| p.into_inner()) = Some(next);
        }
        PipeStream::from_handle(instance)
    }

    /// Stops listening: a pending [`PipeListener::accept`] returns, later ones fail,
    /// and the listening instance is closed. Connected streams are not affected.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.close_event.set();
        drop(self.next.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    /// The pipe's name, as given to [`PipeListener::bind`].
    pub fn name(&self) -> &str {
        &self.display
    }

    /// Waits until a client has connected to `instance`: true when one has, false when
    /// the one that connected has already gone.
    fn connect_instance(&self, instance: &OwnedHandle) -> io::Result<bool> {
        let handle = instance.as_raw_handle() as HANDLE;
        let event = Event::new()?;
        let mut overlapped = event.overlapped();
        // SAFETY: `handle` is an open pipe instance created with FILE_FLAG_OVERLAPPED;
        // `overlapped` and its event outlive the operation: every path below waits for
        // it to complete (or to be cancelled) before returning.
        if unsafe { ConnectNamedPipe(handle, &mut overlapped) } != 0 {
            return Ok(true);
        }
        // SAFETY: no other call since the failed one.
        match unsafe { GetLastError() } {
            ERROR_PIPE_CONNECTED => return Ok(true),
            ERROR_NO_DATA => return Ok(false),
            ERROR_IO_PENDING => {}
            code => return Err(io::Error::from_raw_os_error(code as i32)),
        }
        let woke = wait_any(&[event.raw(), self.close_event.raw()], INFINITE);
        if !matches!(woke, Ok(Some(0))) {
            // SAFETY: cancels only this operation on a handle we own; the result is
            // collected below, so `overlapped` stays alive until the kernel is done.
            unsafe { CancelIoEx(handle, &overlapped) };
        }
        let mut transferred = 0;
        // SAFETY: `overlapped` is the one the operation was started with; waiting
        // makes sure the kernel no longer uses it when this function returns.
        let connected =
            unsafe { GetOverlappedResult(handle, &overlapped, &mut transferred, 1) } != 0;
        if self.closed.load(Ordering::SeqCst) {
            return Err(listener_closed());
        }
        if connected {
            return Ok(true);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error().map(|c| c as u32) {
            Some(ERROR_NO_DATA) => Ok(false),
            _ => Err(error),
        }
    }
}

impl PipeStream {
    /// Connects to the pipe `name` as a client, waiting a few seconds if every
    /// instance is busy. A pipe that does not exist is [`io::ErrorKind::NotFound`].
    ///
    /// The server is allowed to identify the client but not to impersonate it
    /// (`SECURITY_IDENTIFICATION`): if the name was taken by an impostor, it cannot
    /// act as the user. Who owns the pipe is for the caller to check
    /// ([`PipeStream::owner_sid`]) before it sends anything.
    pub fn connect(name: impl AsRef<OsStr>) -> io::Result<PipeStream> {
        let name = wide_nul(name.as_ref())?;
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            // SAFETY: `name` is NUL-terminated UTF-16; no security attributes and no
            // template are passed.
            let handle = unsafe {
                CreateFileW(
                    name.as_ptr(),
                    CLIENT_ACCESS,
                    0,
                    ptr::null(),
                    OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                    ptr::null_mut(),
                )
            };
            if handle != INVALID_HANDLE_VALUE {
                // SAFETY: a fresh, valid handle nothing else owns.
                let owned = unsafe { OwnedHandle::from_raw_handle(handle as RawHandle) };
                return PipeStream::from_handle(owned);
            }
            let error = io::Error::last_os_error();
            let left = deadline.saturating_duration_since(Instant::now());
            if error.raw_os_error() != Some(ERROR_PIPE_BUSY as i32) || left.is_zero() {
                return Err(error);
            }
            // Whatever it returns, the next CreateFileW tells.
            // SAFETY: `name` is NUL-terminated UTF-16.
            unsafe { WaitNamedPipeW(name.as_ptr(), millis(left).max(1)) };
        }
    }

    /// Another handle on the same connection.
    pub fn try_clone(&self) -> io::Result<PipeStream> {
        Ok(self.clone())
    }

    /// Ends this side's use of the connection: pending reads and writes on every clone
    /// are cancelled and return (reads with 0, end of stream; writes with
    /// [`io::ErrorKind::BrokenPipe`]), and so do later ones. Data already written stays
    /// readable by the peer, which sees the end of the stream once every clone is
    /// dropped (the handle is closed then, not here, so no clone can reach a reused
    /// handle value).
    pub fn shutdown(&self) -> io::Result<()> {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.shutdown_event.set();
        Ok(())
    }

    /// Bounds how long a read waits for data; an expired read is cancelled and is a
    /// [`io::ErrorKind::TimedOut`] error. `Some(Duration::ZERO)` is invalid, as for
    /// sockets.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0
            .read_timeout
            .store(timeout_millis(timeout)?, Ordering::Relaxed);
        Ok(())
    }

    /// Bounds how long a write waits for the peer to make room; an expired write is
    /// cancelled (and waited for) and, if nothing of it was written, is a
    /// [`io::ErrorKind::TimedOut`] error.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0
            .write_timeout
            .store(timeout_millis(timeout)?, Ordering::Relaxed);
        Ok(())
    }

    /// The owner of the pipe (its security descriptor's), as a string SID such as
    /// [`LOCAL_SYSTEM_SID`]. Anyone may create a pipe with a free name, so a client
    /// checks this before trusting the server.
    pub fn owner_sid(&self) -> io::Result<String> {
        culvert_winsec::owner_of_object(self.as_handle())
    }

    /// The process on the client end, for a server's logs.
    pub fn client_process_id(&self) -> io::Result<u32> {
        client_process_id(self.as_handle())
    }

    fn from_handle(handle: OwnedHandle) -> io::Result<PipeStream> {
        Ok(PipeStream(Arc::new(Shared {
            handle,
            closed: AtomicBool::new(false),
            shutdown_event: Event::new()?,
            read_timeout: AtomicU32::new(INFINITE),
            write_timeout: AtomicU32::new(INFINITE),
        })))
    }
}

impl Shared {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.closed.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let len = clamp_len(buf.len());
        let timeout = self.read_timeout.load(Ordering::Relaxed);
        let result = self.overlapped(timeout, |handle, overlapped| {
            // SAFETY: `buf` is valid for `len` bytes and, like `overlapped`, outlives
            // the operation (`overlapped` waits for it to complete).
            unsafe { ReadFile(handle, buf.as_mut_ptr(), len, ptr::null_mut(), overlapped) }
        });
        match result {
            Ok(n) => Ok(n),
            // The peer closed its end (after we read all it wrote), or we shut down.
            Err(Ended::Closed) => Ok(0),
            Err(Ended::Io(e))
                if matches!(
                    e.raw_os_error().map(|c| c as u32),
                    Some(ERROR_BROKEN_PIPE | ERROR_PIPE_NOT_CONNECTED)
                ) =>
            {
                Ok(0)
            }
            Err(Ended::Io(e)) => Err(e),
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(shut_down());
        }
        let len = clamp_len(buf.len());
        let timeout = self.write_timeout.load(Ordering::Relaxed);
        let result = self.overlapped(timeout, |handle, overlapped| {
            // SAFETY: as in `read`; the kernel only reads `buf`.
            unsafe { WriteFile(handle, buf.as_ptr(), len, ptr::null_mut(), overlapped) }
        });
        match result {
            Ok(n) => Ok(n),
            Err(Ended::Closed) => Err(shut_down()),
            Err(Ended::Io(e)) => Err(e),
        }
    }

    /// Starts one overlapped operation with its own event and waits for it, for
    /// `timeout` ms at most and only until `shutdown`. An operation that has to stop
    /// early is cancelled and then waited for, since the kernel may use its buffer and
    /// OVERLAPPED until it has completed; what it transferred before is kept.
    fn overlapped(
        &self,
        timeout: u32,
        start: impl FnOnce(HANDLE, *mut OVERLAPPED) -> i32,
    ) -> Result<usize, Ended> {
        let handle = self.handle.as_raw_handle() as HANDLE;
        let event = Event::new().map_err(Ended::Io)?;
        let mut overlapped = event.overlapped();
        let mut cut_short = None;
        if start(handle, &mut overlapped) == 0 {
            // SAFETY: no other call since the failed one.
            let code = unsafe { GetLastError() };
            if code != ERROR_IO_PENDING {
                // Nothing was queued, so nothing to wait for.
                return Err(Ended::Io(io::Error::from_raw_os_error(code as i32)));
            }
            cut_short = match wait_any(&[event.raw(), self.shutdown_event.raw()], timeout) {
                Ok(Some(0)) => None,
                Ok(Some(_)) => Some(CutShort::Shutdown),
                Ok(None) => Some(CutShort::TimedOut),
                Err(e) => Some(CutShort::WaitFailed(e)),
            };
            if cut_short.is_some() {
                // SAFETY: cancels only this operation; its result is collected
                // below, with `overlapped` still alive.
                unsafe { CancelIoEx(handle, &overlapped) };
            }
        }
        let mut transferred = 0;
        // SAFETY: `overlapped` is the operation's own; waiting (bWait = TRUE) returns
        // only once the kernel is done with it and with the buffer.
        let done = unsafe { GetOverlappedResult(handle, &overlapped, &mut transferred, 1) } != 0;
        if done || transferred > 0 {
            // Completed (perhaps just before the cancellation), or cancelled after part
            // of it went through: report what was transferred.
            return Ok(transferred as usize);
        }
        let error = io::Error::last_os_error();
        // Shut down before or while waiting: whatever the operation's own error.
        if self.closed.load(Ordering::SeqCst) {
            return Err(Ended::Closed);
        }
        Err(Ended::Io(match cut_short {
            Some(CutShort::TimedOut) => {
                io::Error::new(io::ErrorKind::TimedOut, "the pipe operation timed out")
            }
            Some(CutShort::WaitFailed(e)) => e,
            Some(CutShort::Shutdown) | None => error,
        }))
    }
}

/// Why a wait for an operation ended before the operation did.
enum CutShort {
    Shutdown,
    TimedOut,
    WaitFailed(io::Error),
}

/// Why an operation ended without transferring anything.
enum Ended {
    /// This side was shut down.
    Closed,
    Io(io::Error),
}

impl Read for PipeStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Read for &PipeStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for PipeStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    /// Writes complete when the data is in the pipe's buffer; there is nothing to
    /// flush (`FlushFileBuffers` would wait for the peer to read it all).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &PipeStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsHandle for PipeStream {
    fn as_handle(&self) -> BorrowedHandle<'_> {
        self.0.handle.as_handle()
    }
}

/// A manual-reset event, closed on drop.
#[derive(Debug)]
struct Event(OwnedHandle);

impl Event {
    fn new() -> io::Result<Event> {
        // SAFETY: no security attributes, manual reset, initially unset, unnamed.
        let handle = unsafe { CreateEventW(ptr::null(), 1, 0, ptr::null()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh, valid handle nothing else owns.
        Ok(Event(unsafe {
            OwnedHandle::from_raw_handle(handle as RawHandle)
        }))
    }

    fn raw(&self) -> HANDLE {
        self.0.as_raw_handle() as HANDLE
    }

    fn set(&self) {
        // SAFETY: the event handle is open for as long as `self` lives.
        unsafe { SetEvent(self.raw()) };
    }

    /// A zeroed OVERLAPPED signalling this event.
    fn overlapped(&self) -> OVERLAPPED {
        OVERLAPPED {
            hEvent: self.raw(),
            ..OVERLAPPED::default()
        }
    }
}

/// Which of `handles` was signalled first, or `None` when `timeout` ms passed.
fn wait_any(handles: &[HANDLE], timeout: u32) -> io::Result<Option<usize>> {
    // SAFETY: `handles` holds open handles, valid for the call.
    let woke =
        unsafe { WaitForMultipleObjects(handles.len() as u32, handles.as_ptr(), 0, timeout) };
    if woke == WAIT_TIMEOUT {
        return Ok(None);
    }
    let index = woke.wrapping_sub(WAIT_OBJECT_0) as usize;
    if index < handles.len() {
        Ok(Some(index))
    } else {
        Err(io::Error::last_os_error())
    }
}

fn create_instance(name: &[u16], sddl: &str, first: bool) -> io::Result<OwnedHandle> {
    let descriptor = culvert_winsec::Descriptor::from_sddl(sddl)?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.as_ptr(),
        bInheritHandle: 0,
    };
    let mut open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
    if first {
        open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
    }
    // SAFETY: `name` is NUL-terminated UTF-16; `attributes` and the descriptor it
    // points to are valid for the call (the kernel copies the descriptor).
    let handle = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            open_mode,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            BUFFER_SIZE,
            BUFFER_SIZE,
            0,
            &attributes,
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh, valid handle nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle as RawHandle) })
}

/// Whether a pipe of this name exists, without connecting to it.
fn name_exists(name: &[u16]) -> bool {
    // SAFETY: `name` is NUL-terminated UTF-16.
    if unsafe { WaitNamedPipeW(name.as_ptr(), 1) } != 0 {
        return true;
    }
    // SAFETY: no other call since WaitNamedPipeW.
    let code = unsafe { GetLastError() };
    // All instances busy (a timeout) means it exists too; anything else (not found,
    // a malformed name) is left for CreateNamedPipeW to report.
    code == ERROR_SEM_TIMEOUT
}

fn timeout_millis(timeout: Option<Duration>) -> io::Result<u32> {
    match timeout {
        None => Ok(INFINITE),
        Some(t) if t.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        )),
        // At least 1 ms, and never INFINITE by accident.
        Some(t) => Ok(millis(t).clamp(1, INFINITE - 1)),
    }
}

/// Whole milliseconds, rounded up.
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX)
}

fn clamp_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn in_use(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("the pipe {name} already exists: another process is serving it"),
    )
}

fn listener_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the pipe listener was closed",
    )
}

fn shut_down() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the pipe connection was shut down",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_and_refuse_zero() {
        assert_eq!(timeout_millis(None).unwrap(), INFINITE);
        assert_eq!(timeout_millis(Some(Duration::from_micros(1))).unwrap(), 1);
        assert_eq!(
            timeout_millis(Some(Duration::from_millis(1500))).unwrap(),
            1500
        );
        assert_eq!(
            timeout_millis(Some(Duration::from_secs(u64::MAX))).unwrap(),
            INFINITE - 1
        );
        assert_eq!(
            timeout_millis(Some(Duration::ZERO)).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
