//! Errors of SRS generation, import, loading and saving.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong with an SRS. Bad input (a wrong, truncated,
/// corrupt or tampered file, an unsupported `k`) is always one of these,
/// never a panic.
#[derive(Debug, thiserror::Error)]
pub enum SrsError {
    /// The operating system refused or failed a read or write.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The file is not a zkinfer SRS file, or it is truncated or corrupt.
    #[error("{} is not a usable zkinfer SRS file: {reason}", path.display())]
    InvalidSrsFile { path: PathBuf, reason: String },

    /// The file is not a well-formed snarkjs BN254 Powers of Tau file.
    #[error("{} is not a usable snarkjs BN254 (\"bn128\") .ptau file: {reason}", path.display())]
    InvalidPtau { path: PathBuf, reason: String },

    /// The points are well formed but are not the powers of one tau, or tau
    /// is publicly known: the source is corrupt or was tampered with, and an
    /// SRS built from it would not be sound.
    #[error(
        "{what} fails the powers-of-tau consistency check ({reason}): it is corrupt or was tampered with"
    )]
    InconsistentPowers {
        /// The file or SRS that was checked.
        what: String,
        reason: String,
    },

    /// The requested circuit size `k` (2^k rows) is outside what the source
    /// of the SRS supports.
    #[error("k = {k} is not supported by {what}: k must be in {min}..={max}")]
    UnsupportedK {
        k: u32,
        min: u32,
        max: u32,
        /// The SRS or file that bounds `k`.
        what: String,
    },
}

impl SrsError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SrsError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
