//! Local development SRS. Insecure by construction: τ exists in this
//! process, and with a seed anyone can recompute it. For tests and local
//! experiments only; see [`super::insecure_warning`].

use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2curves::bn256::Bn256;
use rand::rngs::OsRng;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::{check_k, Srs, SrsError, SrsMeta, MAX_K};

impl Srs {
    /// A dev SRS of 2^k powers. With a seed, τ (and so the SRS) is a
    /// deterministic function of it (ChaCha20): reproducible test fixtures.
    /// Without one, τ comes from the OS and is not recorded, which does not
    /// make it secure: it was in memory here.
    ///
    /// # Panics
    /// If `k` is outside `MIN_K..=MAX_K`; use [`Srs::try_dev`] for a `k`
    /// that comes from user input.
    pub fn dev(k: u32, seed: Option<u64>) -> Srs {
        match Srs::try_dev(k, seed) {
            Ok(srs) => srs,
            Err(e) => panic!("Srs::dev: {e}"),
        }
    }

    /// [`Srs::dev`], with an unsupported `k` as an error.
    pub fn try_dev(k: u32, seed: Option<u64>) -> Result<Srs, SrsError> {
        check_k(k, MAX_K, || "a dev SRS".into())?;
        let (params, origin) = match seed {
            Some(seed) => (
                ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(seed)),
                format!("dev: generated locally from seed {seed} — INSECURE, for testing only"),
            ),
            None => (
                ParamsKZG::<Bn256>::setup(k, OsRng),
                "dev: generated locally from a random seed — INSECURE, for testing only".into(),
            ),
        };
        let meta = SrsMeta {
            k,
            insecure: true,
            origin,
        };
        Ok(Srs { params, meta })
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::poly::commitment::ParamsProver;

    use super::*;

    #[test]
    fn dev_srs_is_labelled_insecure_and_consistent() {
        let srs = Srs::dev(4, Some(7));
        assert!(srs.is_insecure());
        assert_eq!(srs.k(), 4);
        assert_eq!(srs.meta.k, 4);
        assert!(srs.meta.origin.contains("seed 7"));
        assert!(srs.meta.origin.contains("INSECURE"));
        srs.check_consistency().unwrap();
    }

    #[test]
    fn dev_srs_is_deterministic_in_its_seed() {
        let a = Srs::dev(3, Some(1));
        let b = Srs::dev(3, Some(1));
        let c = Srs::dev(3, Some(2));
        assert_eq!(a.params.get_g(), b.params.get_g());
        assert_eq!(a.params.s_g2(), b.params.s_g2());
        assert_ne!(a.params.s_g2(), c.params.s_g2());
        let random = Srs::dev(3, None);
        assert!(random.is_insecure());
        assert_ne!(random.params.s_g2(), a.params.s_g2());
    }

    #[test]
    fn dev_srs_rejects_unsupported_k() {
        for k in [0, MAX_K + 1] {
            assert!(matches!(
                Srs::try_dev(k, Some(0)),
                Err(SrsError::UnsupportedK { max: MAX_K, .. })
            ));
        }
    }
}
