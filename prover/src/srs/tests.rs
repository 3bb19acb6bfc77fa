//! Tests across the SRS modules, on the snarkjs fixture
//! `tests/fixtures/tiny.ptau` (power 8, made by `scripts/make-test-ptau.sh`).

use std::path::{Path, PathBuf};

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    create_proof, keygen_pk, keygen_vk, verify_proof, Advice, Circuit, Column, ConstraintSystem,
    Error, Instance, Selector,
};
use halo2_proofs::poly::commitment::ParamsProver;
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_proofs::poly::Rotation;
use halo2_proofs::transcript::{
    Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use halo2_proofs::SerdeFormat;
use halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2curves::group::Curve;
use halo2curves::serde::SerdeObject;
use rand::rngs::OsRng;

use super::{Srs, SrsError};

const FIXTURE_POWER: u32 = 8;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny.ptau")
}

fn fixture_bytes() -> Vec<u8> {
    std::fs::read(fixture()).expect("tests/fixtures/tiny.ptau (scripts/make-test-ptau.sh)")
}

/// Byte offset of section `id`'s data, found by walking the section table
/// independently of the reader under test.
fn section_offset(bytes: &[u8], id: u32) -> usize {
    let mut pos = 12;
    loop {
        let sid = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap());
        let size = u64::from_le_bytes(bytes[pos + 4..pos + 12].try_into().unwrap()) as usize;
        if sid == id {
            return pos + 12;
        }
        pos += 12 + size;
    }
}

/// Writes `bytes` as `name` in a fresh temporary directory.
fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn params_bytes(params: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut out = Vec::new();
    params
        .write_custom(&mut out, SerdeFormat::RawBytes)
        .unwrap();
    out
}

#[test]
fn srs_import_fixture_at_every_k_up_to_its_power() {
    for k in [1, 4, FIXTURE_POWER] {
        let srs = Srs::import_ptau(fixture(), k).unwrap();
        assert_eq!(srs.k(), k);
        assert_eq!(srs.meta.k, k);
        assert_eq!(srs.params.get_g().len(), 1 << k);
        assert_eq!(srs.params.get_g()[0], G1Affine::generator());
        assert!(!srs.is_insecure());
        srs.check_consistency().unwrap();
    }
}

#[test]
fn srs_import_records_file_name_and_hash() {
    let srs = Srs::import_ptau(fixture(), 2).unwrap();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(fixture_bytes()));
    assert!(
        srs.meta.origin.starts_with("imported from tiny.ptau"),
        "{}",
        srs.meta.origin
    );
    assert!(srs.meta.origin.contains(&digest), "{}", srs.meta.origin);
    assert!(
        srs.meta.origin.contains("ceremony power 8"),
        "{}",
        srs.meta.origin
    );
}

#[test]
fn srs_import_rejects_k_above_the_file_power() {
    let err = Srs::import_ptau(fixture(), FIXTURE_POWER + 1).unwrap_err();
    assert!(
        matches!(
            err,
            SrsError::UnsupportedK {
                k: 9,
                max: FIXTURE_POWER,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("1..=8"), "{err}");
    assert!(matches!(
        Srs::import_ptau(fixture(), 0),
        Err(SrsError::UnsupportedK { .. })
    ));
}

#[test]
fn srs_import_rejects_truncated_ptau() {
    let bytes = fixture_bytes();
    for cut in [0, 3, 11, 30, bytes.len() / 2, bytes.len() - 1] {
        let (_dir, path) = temp_file("cut.ptau", &bytes[..cut]);
        let err = Srs::import_ptau(&path, 4).unwrap_err();
        assert!(
            matches!(err, SrsError::InvalidPtau { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn srs_import_rejects_a_flipped_point_byte() {
    let bytes = fixture_bytes();
    let g1 = section_offset(&bytes, 2);
    let g2 = section_offset(&bytes, 3);
    // A byte of τ^5·G1's x, of τ·G2's y, and of G1's y.
    for at in [g1 + 5 * 64 + 7, g2 + 128 + 64 + 3, g1 + 32] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        let (_dir, path) = temp_file("flipped.ptau", &bad);
        let err = Srs::import_ptau(&path, 4).unwrap_err();
        assert!(
            matches!(
                err,
                SrsError::InvalidPtau { .. } | SrsError::InconsistentPowers { .. }
            ),
            "byte {at}: {err}"
        );
    }
}

/// A point replaced by another valid curve point passes every per-point
/// check: only the pairing check can see it.
#[test]
fn srs_import_rejects_a_valid_but_wrong_point() {
    let mut bytes = fixture_bytes();
    let at = section_offset(&bytes, 2) + 5 * 64;
    let p = G1Affine::from_raw_bytes(&bytes[at..at + 64]).unwrap();
    let q = (p + G1Affine::generator()).to_affine();
    bytes[at..at + 64].copy_from_slice(&q.to_raw_bytes());
    let (_dir, path) = temp_file("tampered.ptau", &bytes);
    let err = Srs::import_ptau(&path, 4).unwrap_err();
    assert!(matches!(err, SrsError::InconsistentPowers { .. }), "{err}");
    // The tampered point lies outside the k = 2 prefix, which is still sound.
    Srs::import_ptau(&path, 2).unwrap();
}

#[test]
fn srs_import_rejects_other_containers_and_curves() {
    let bytes = fixture_bytes();
    let header = section_offset(&bytes, 1);
    let edited = |at: usize, value: u8| {
        let mut bad = bytes.clone();
        bad[at] = value;
        bad
    };
    let mut trailing = bytes.clone();
    trailing.push(0);
    let cases = [
        (edited(0, b'x'), "not the magic \"ptau\""),
        (edited(4, 2), "format version 2"),
        (edited(header, 48), "field elements of 48 bytes"),
        (
            edited(header + 4, bytes[header + 4] ^ 0x10),
            "not BN254's base field modulus",
        ),
        // power 9 with power-8 sections, then with a ceremony power to match.
        (edited(header + 36, 9), "exceeds the ceremony power"),
        (
            {
                let mut bad = edited(header + 36, 9);
                bad[header + 40] = 9;
                bad
            },
            "power 9 needs",
        ),
        (trailing, "1 trailing byte(s)"),
    ];
    for (bad, expected) in cases {
        let (_dir, path) = temp_file("bad.ptau", &bad);
        let err = Srs::import_ptau(&path, 4).unwrap_err();
        assert!(matches!(err, SrsError::InvalidPtau { .. }), "{err}");
        assert!(
            err.to_string().contains(expected),
            "expected {expected:?}: {err}"
        );
    }
    let missing = Srs::import_ptau("/nonexistent/x.ptau", 4).unwrap_err();
    assert!(matches!(missing, SrsError::Io { .. }), "{missing}");
}

/// Importing a prefix equals importing everything and downsizing: the
/// Lagrange basis of both is computed for the smaller domain.
#[test]
fn srs_downsized_import_matches_direct_import() {
    let full = Srs::import_ptau(fixture(), 6).unwrap();
    let small = Srs::import_ptau(fixture(), 3).unwrap();
    let down = full.downsized(3);
    assert_eq!(params_bytes(&down.params), params_bytes(&small.params));
    assert_eq!(down.meta.k, 3);
    assert!(!down.is_insecure());
    assert!(matches!(
        full.try_downsized(7),
        Err(SrsError::UnsupportedK { max: 6, .. })
    ));
}

#[test]
fn srs_imported_round_trips_and_stays_secure() {
    let srs = Srs::import_ptau(fixture(), 4).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("imported.srs");
    srs.save(&path).unwrap();
    let loaded = Srs::load(&path).unwrap();
    assert!(!loaded.is_insecure());
    assert_eq!(loaded.meta, srs.meta);
    assert_eq!(params_bytes(&loaded.params), params_bytes(&srs.params));
}

// ---- a trivial circuit, to show the imported SRS proves and verifies ----

/// Proves knowledge of x with x·x = y, y public: `q·(a·a − y) = 0`.
#[derive(Clone, Default)]
struct SquareCircuit {
    x: Value<Fr>,
}

#[derive(Clone)]
struct SquareConfig {
    a: Column<Advice>,
    q: Selector,
    y: Column<Instance>,
}

impl Circuit<Fr> for SquareCircuit {
    type Config = SquareConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        Self::default()
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> SquareConfig {
        let a = meta.advice_column();
        let y = meta.instance_column();
        let q = meta.selector();
        meta.create_gate("a·a = y", |meta| {
            let q = meta.query_selector(q);
            let a = meta.query_advice(a, Rotation::cur());
            let y = meta.query_instance(y, Rotation::cur());
            vec![q * (a.clone() * a - y)]
        });
        SquareConfig { a, q, y }
    }

    fn synthesize(
        &self,
        config: SquareConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let _ = config.y;
        layouter.assign_region(
            || "square",
            |mut region| {
                config.q.enable(&mut region, 0)?;
                region.assign_advice(config.a, 0, self.x);
                Ok(())
            },
        )
    }
}

fn prove(
    params: &ParamsKZG<Bn256>,
    circuit: SquareCircuit,
    y: Fr,
) -> (Vec<u8>, halo2_proofs::plonk::VerifyingKey<G1Affine>) {
    let vk = keygen_vk(params, &circuit).unwrap();
    let pk = keygen_pk(params, vk.clone(), &circuit).unwrap();
    let instance: &[Fr] = &[y];
    let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        params,
        &pk,
        &[circuit],
        &[&[instance]],
        OsRng,
        &mut transcript,
    )
    .unwrap();
    (transcript.finalize(), vk)
}

fn verifies(
    params: &ParamsKZG<Bn256>,
    vk: &halo2_proofs::plonk::VerifyingKey<G1Affine>,
    proof: &[u8],
    y: Fr,
) -> bool {
    let instance: &[Fr] = &[y];
    let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(proof);
    verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
        params.verifier_params(),
        vk,
        SingleStrategy::new(params),
        &[&[instance]],
        &mut transcript,
    )
    .is_ok()
}

#[test]
fn srs_imported_params_prove_and_verify() {
    let srs = Srs::import_ptau(fixture(), 5).unwrap();
    let x = Fr::from(7);
    let y = x * x;
    let (proof, vk) = prove(&srs.params, SquareCircuit { x: Value::known(x) }, y);
    assert!(verifies(&srs.params, &vk, &proof, y));
    // The proof is bound to its instance and to this SRS's τ.
    assert!(!verifies(&srs.params, &vk, &proof, y + Fr::one()));
    let other = Srs::dev(5, Some(1));
    assert!(!verifies(&other.params, &vk, &proof, y));
}

/// Regenerates a ptau with snarkjs and imports it. Needs snarkjs in
/// `.tools/` (`scripts/make-test-ptau.sh` installs it); run with
/// `cargo test -p zkinfer-prover srs -- --ignored`.
#[test]
#[ignore = "needs snarkjs in .tools/ (run scripts/make-test-ptau.sh once)"]
fn srs_import_fresh_snarkjs_ptau() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let snarkjs = root.join(".tools/node_modules/.bin/snarkjs");
    assert!(
        snarkjs.exists(),
        "{} is missing: run scripts/make-test-ptau.sh first",
        snarkjs.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fresh.ptau");
    let status = std::process::Command::new(root.join("scripts/make-test-ptau.sh"))
        .arg("5")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "make-test-ptau.sh failed: {status}");
    let srs = Srs::import_ptau(&out, 5).unwrap();
    assert!(!srs.is_insecure());
    assert_eq!(srs.params.get_g()[0], G1Affine::generator());
    srs.check_consistency().unwrap();
    // A fresh contribution has a fresh τ.
    let fixture = Srs::import_ptau(fixture(), 5).unwrap();
    assert_ne!(srs.params.s_g2(), fixture.params.s_g2());
    assert!(matches!(
        Srs::import_ptau(&out, 6),
        Err(SrsError::UnsupportedK { max: 5, .. })
    ));
}
