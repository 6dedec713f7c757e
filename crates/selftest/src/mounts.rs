//! A small tmpfs mounted for one test (a full or read-only disk) and always unmounted.

use culvert_netlab::run;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=`, e.g. "64k") at `path`, mode 0700.
    pub fn mount(path: &Path, size: &str) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let options = format!("size={size},mode=0700");
        run(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &options,
            "culvert-selftest",
            path.to_str().unwrap(),
        ]);
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes it read-only: root ignores file modes, not a read-only mount.
    pub fn remount_read_only(&self) {
        run(&["mount", "-o", "remount,ro", self.path.to_str().unwrap()]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_dir(&self.path);
    }
}
