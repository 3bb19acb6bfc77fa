//! Building an SRS from a snarkjs Powers of Tau ceremony file.

use std::path::Path;

use super::check::check_powers;
use super::ptau::{sha256_file, PtauFile};
use super::{check_k, params_from_powers, Srs, SrsError, SrsMeta};

impl Srs {
    /// The SRS of 2^k powers from the ceremony file `path` (snarkjs `.ptau`,
    /// BN254, prepared for phase 2 or not), `k` at most the file's power.
    ///
    /// Checked: the container and header (BN254's modulus, section sizes),
    /// every point used (on the curve, finite), and that the 2^k G1 powers
    /// and τ·G2 are powers of one τ != 0, 1 (`super::check`). Only the
    /// prefix used is checked: the rest of the file never enters the SRS.
    /// Not checkable here: the ceremony's transcript (`snarkjs powersoftau
    /// verify` does that); the recorded SHA-256 ties the SRS to the file
    /// that was verified or published.
    pub fn import_ptau(path: impl AsRef<Path>, k: u32) -> Result<Srs, SrsError> {
        let path = path.as_ref();
        let mut ptau = PtauFile::open(path)?;
        check_k(k, ptau.power, || {
            format!("{} (power {})", path.display(), ptau.power)
        })?;
        let g = ptau.tau_g1(1 << k)?;
        let g2 = ptau.tau_g2(2)?;
        let (g2, s_g2) = (g2[0], g2[1]);
        check_powers(&g, &g2, &s_g2).map_err(|reason| SrsError::InconsistentPowers {
            what: path.display().to_string(),
            reason,
        })?;

        let digest = sha256_file(path)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let meta = SrsMeta {
            k,
            insecure: false,
            origin: format!(
                "imported from {name} (sha256 {}), ptau power {}, ceremony power {}",
                hex::encode(digest),
                ptau.power,
                ptau.ceremony_power
            ),
        };
        Ok(Srs {
            params: params_from_powers(k, g, g2, s_g2),
            meta,
        })
    }
}
