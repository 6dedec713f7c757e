//! Unix: configs as written, in 0600 files (the store's writes) in a 0700 directory.

use super::{Plaintext, Sealer};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

pub(super) fn sealer() -> Arc<dyn Sealer> {
    Arc::new(Plaintext)
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // An existing directory keeps its mode through `create`.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
