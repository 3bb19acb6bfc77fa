//! The KZG structured reference string (SRS): the powers of a secret τ that
//! every commitment, proving key, verifying key and proof is made with.
//!
//! ```text
//! g[i] = τ^i·G1 (0 <= i < 2^k),   g2 = G2,   s_g2 = τ·G2   (BN254)
//! ```
//!
//! Soundness: KZG openings, hence every zkinfer proof, are sound only if
//! nobody knows τ. Anyone who knows τ can open any commitment to any value
//! and so "prove" any model output. There are two sources:
//!
//! - [`Srs::import_ptau`]: a snarkjs Powers of Tau ceremony file. τ is the
//!   product of every participant's secret, unknown as long as one of them
//!   destroyed theirs. The import checks the file's structure and that the
//!   points really are powers of one τ (see `check`), and records the file's
//!   SHA-256 so it can be compared with the ceremony's published file.
//! - [`Srs::dev`]: τ drawn locally from a seed (or the OS). Whoever ran it
//!   could know τ, so it is labelled insecure everywhere: in [`SrsMeta`], in
//!   the saved file's header, and by [`insecure_warning`] in the CLI.
//!
//! Both are saved in zkinfer's SRS file format (see `file`): a one-line
//! header that states the provenance, then halo2-axiom's `ParamsKZG` bytes.

mod check;
mod dev;
mod error;
mod file;
mod import;
mod ptau;
#[cfg(test)]
mod tests;

use std::fmt;

use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine};
use halo2curves::ff::PrimeField;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

pub use error::SrsError;

/// Smallest supported `k` (an SRS of 2^k powers).
pub const MIN_K: u32 = 1;
/// Largest supported `k`: BN254's scalar field has 2^28-th roots of unity,
/// so halo2's evaluation domains stop at 2^28 rows (snarkjs's largest
/// ceremony power is 28 for the same reason).
pub const MAX_K: u32 = <Fr as PrimeField>::S;

/// Where an SRS came from, stored in its file's header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrsMeta {
    /// The SRS has 2^k G1 powers: circuits of up to 2^k rows.
    pub k: u32,
    /// True when τ may be known to someone (a dev SRS): proofs are forgeable.
    pub insecure: bool,
    /// Human-readable provenance: the seed of a dev SRS, or the ceremony
    /// file's name, SHA-256 and power.
    pub origin: String,
}

/// A KZG SRS on BN254 with its provenance.
#[derive(Clone)]
pub struct Srs {
    pub params: ParamsKZG<Bn256>,
    pub meta: SrsMeta,
}

/// The line the CLI prints wherever a dev (insecure) SRS is used.
pub fn insecure_warning() -> &'static str {
    "WARNING: INSECURE development SRS (its secret tau was generated locally and may be known): \
     proofs made with it can be forged; use an SRS imported from a ceremony .ptau for anything of value"
}

impl Srs {
    /// log2 of the number of G1 powers.
    pub fn k(&self) -> u32 {
        self.params.k()
    }

    /// True for a dev SRS (see [`insecure_warning`]).
    pub fn is_insecure(&self) -> bool {
        self.meta.insecure
    }

    /// The same SRS cut to its first 2^k powers (for a circuit smaller than
    /// the SRS), with the Lagrange basis recomputed for the smaller domain,
    /// as halo2's `Params::downsize` does.
    ///
    /// # Panics
    /// If `k` is above the current size (powers cannot be added without τ)
    /// or below `MIN_K`, like halo2's `downsize`; [`Srs::try_downsized`]
    /// returns an error instead.
    pub fn downsized(&self, k: u32) -> Srs {
        match self.try_downsized(k) {
            Ok(srs) => srs,
            Err(e) => panic!("Srs::downsized: {e}"),
        }
    }

    /// [`Srs::downsized`], with an unsupported `k` as an error.
    pub fn try_downsized(&self, k: u32) -> Result<Srs, SrsError> {
        let current = self.k();
        check_k(k, current, || format!("this SRS (k = {current})"))?;
        if k == current {
            return Ok(self.clone());
        }
        let g = self.params.get_g()[..1 << k].to_vec();
        let params = params_from_powers(k, g, self.params.g2(), self.params.s_g2());
        let meta = SrsMeta {
            k,
            insecure: self.meta.insecure,
            origin: format!("{}; downsized from k = {current}", self.meta.origin),
        };
        Ok(Srs { params, meta })
    }

    /// Checks that all 2^k G1 powers are powers of the τ in `s_g2` (see
    /// `check`); costs two MSMs of size 2^k. Import always runs it; a loaded
    /// file only gets the cheap checks of its first powers, its integrity
    /// resting on its checksum.
    pub fn check_consistency(&self) -> Result<(), SrsError> {
        check::check_powers(self.params.get_g(), &self.params.g2(), &self.params.s_g2()).map_err(
            |reason| SrsError::InconsistentPowers {
                what: format!("the SRS ({})", self.meta.origin),
                reason,
            },
        )
    }
}

impl fmt::Debug for Srs {
    /// The metadata only: the points are megabytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Srs")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// `MIN_K <= k <= max`, or `UnsupportedK` naming what bounds it.
fn check_k(k: u32, max: u32, what: impl FnOnce() -> String) -> Result<(), SrsError> {
    if (MIN_K..=max).contains(&k) {
        Ok(())
    } else {
        Err(SrsError::UnsupportedK {
            k,
            min: MIN_K,
            max,
            what: what(),
        })
    }
}

/// `ParamsKZG` from its powers, with the Lagrange basis computed.
///
/// halo2-axiom's `from_parts` is a method whose receiver it ignores, so it
/// is called on the smallest params there are (k = 1, from a fixed seed).
fn params_from_powers(k: u32, g: Vec<G1Affine>, g2: G2Affine, s_g2: G2Affine) -> ParamsKZG<Bn256> {
    let receiver = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::seed_from_u64(0));
    receiver.from_parts(k, g, None, g2, s_g2)
}
