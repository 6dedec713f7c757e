//! Keeping the app small while it sits in the tray (Linux, WebKitGTK).
//!
//! WebKitGTK keeps its network process, its EGL display (the GPU driver; Mesa with LLVM
//! on a machine without one) and its libraries' pages for as long as the process
//! lives, even after the last web view is gone: about 140 MiB in the tray, against 60
//! MiB for a process that never showed a window (`cargo xtask bench --app-only`). So
//! when the window closes, the app starts over as a fresh image of itself in the tray
//! (`exec`: same process, same pid): the tray and the service connection are back
//! within a second, and nothing a person could lose is in the window by then (the
//! editor asks about unsaved changes before the window may close).

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::process::Command;

/// GTK probes OpenGL when it opens the display, which loads the GPU driver though the
/// app draws nothing with it (WebKit sets up its own, and then renders without
/// compositing: plenty for this window). A person's own `GDK_GL` setting wins.
#[allow(unsafe_code)]
pub(crate) fn skip_gtk_gl_probe() {
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY: called first thing in `run`, from `main`, before any other thread
        // exists that could read the environment.
        unsafe { std::env::set_var("GDK_GL", "disable") };
    }
}

/// Replaces this process with a fresh one that starts in the tray (`tray_arg`), with
/// the same arguments otherwise. Returns only if that failed.
pub(crate) fn start_over_in_tray(tray_arg: &str) -> std::io::Error {
    end_webkit_children();
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("culvert-app"));
    let mut rest: Vec<OsString> = args.filter(|a| a != tray_arg).collect();
    rest.push(tray_arg.into());
    // The binary's own path keeps the process's name; /proc/self/exe still reaches
    // the binary this process runs when an upgrade has replaced the file meanwhile.
    let exe = std::env::current_exe()
        .ok()
        .filter(|path| path.exists())
        .unwrap_or_else(|| "/proc/self/exe".into());
    Command::new(exe).arg0(argv0).args(rest).exec()
}

/// Ends and reaps WebKit's helper processes. They would end by themselves once the exec
/// closes their connections, but as zombies: the new image does not know to wait for
/// them. Nothing of the person's is in them (the app keeps no web storage).
#[allow(unsafe_code)]
fn end_webkit_children() {
    for pid in children() {
        let is_webkit = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|name| name.starts_with("WebKit"));
        if is_webkit {
            // SAFETY: plain system calls on a child of ours, which stays ours (a
            // zombie at worst) until the waitpid below reaps it, so the pid cannot
            // be reused meanwhile.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// This process's children (each thread lists those it started).
fn children() -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}
