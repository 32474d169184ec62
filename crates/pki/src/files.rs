//! Reading and writing the PKI's files. Writes are atomic (a temporary file renamed over the
//! old one), so a component that reloads a certificate never reads half of it, and files that
//! hold secrets are readable by their owner only.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Private keys and the encryption key: owner read/write only, as kubeadm writes them.
pub(crate) const SECRET: u32 = 0o600;
/// Certificates and public keys.
pub(crate) const PUBLIC: u32 = 0o644;

/// Writes `contents` to `path` with `mode`, replacing any file there in one step.
pub(crate) fn write(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(Error::io(&tmp))?;
    // `mode` only applies to a file that open creates; a leftover temporary file keeps its own.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(Error::io(&tmp))?;
    file.write_all(contents).map_err(Error::io(&tmp))?;
    file.sync_all().map_err(Error::io(&tmp))?;
    fs::rename(&tmp, path).map_err(Error::io(path))?;
    if let Some(dir) = path.parent() {
        // Makes the rename itself durable.
        fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(Error::io(dir))?;
    }
    Ok(())
}

/// Reads a text file; a missing file is [`Error::Missing`].
pub(crate) fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => Error::Missing(path.to_path_buf()),
        _ => Error::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// Creates a directory and its parents.
pub(crate) fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(Error::io(path))
}
