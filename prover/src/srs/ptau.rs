//! Reading snarkjs Powers of Tau (`.ptau`) files for BN254 ("bn128").
//!
//! Layout (snarkjs `powersoftau_new.js` and `@iden3/binfileutils`; all
//! integers little-endian):
//!
//! ```text
//! "ptau"  u32 version (= 1)  u32 n_sections
//! n_sections × { u32 id, u64 size, size bytes }
//!   1  header:  u32 n8 (= 32), q (n8 bytes, the base field modulus), u32 power, u32 ceremony_power
//!   2  tauG1:   (2^(power+1) − 1) G1 points  τ^0·G1, τ^1·G1, ...
//!   3  tauG2:   2^power G2 points            τ^0·G2, τ^1·G2, ...
//!   4..7        alpha/beta powers and the contribution transcript (unused here)
//!   12..15      Lagrange-basis copies added by `prepare phase2` (unused here)
//! ```
//!
//! A point is stored uncompressed, x then y; a base-field element is n8
//! bytes little-endian in Montgomery form (R = 2^256), and an F_q2 element is
//! c0 then c1. That is exactly halo2curves' raw encoding (`SerdeObject`), so
//! a point is decoded with `from_raw_bytes`, which rejects coordinates that
//! are not reduced mod q and points that are not on the curve.
//!
//! Only the structure is checked here (magic, version, section table against
//! the file length, header, section sizes, point validity). Whether the
//! points are powers of one τ is `super::check`'s job.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use halo2curves::bn256::{Fq, G1Affine, G2Affine};
use halo2curves::ff::{Field, PrimeField};
use halo2curves::group::prime::PrimeCurveAffine;
use halo2curves::serde::SerdeObject;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::error::SrsError;
use super::MAX_K;

const MAGIC: &[u8; 4] = b"ptau";
const VERSION: u32 = 1;
const SECTION_HEADER: u32 = 1;
const SECTION_TAU_G1: u32 = 2;
const SECTION_TAU_G2: u32 = 3;
/// Bytes of one BN254 base-field element.
const N8: usize = 32;
const G1_BYTES: usize = 2 * N8;
const G2_BYTES: usize = 4 * N8;
/// u32 n8, q, u32 power, u32 ceremony_power.
const HEADER_BYTES: u64 = 4 + N8 as u64 + 4 + 4;

/// Where a section's data lies in the file.
#[derive(Clone, Copy, Debug)]
struct Section {
    offset: u64,
    size: u64,
}

/// An open, structurally checked `.ptau` file; points are read on demand so
/// that a large ceremony file is never read whole.
pub(crate) struct PtauFile {
    path: PathBuf,
    file: BufReader<File>,
    /// log2 of the number of powers in this file (τ^0..τ^(2^power − 1) in G2).
    pub(crate) power: u32,
    /// log2 of the ceremony's size (at least `power`; larger for a truncated file).
    pub(crate) ceremony_power: u32,
    tau_g1: Section,
    tau_g2: Section,
}

impl PtauFile {
    /// Opens `path` and checks its container structure, header and section sizes.
    pub(crate) fn open(path: &Path) -> Result<Self, SrsError> {
        let file = File::open(path).map_err(|e| SrsError::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| SrsError::io("read", path, e))?
            .len();
        let mut file = BufReader::new(file);
        let invalid = |reason: String| SrsError::InvalidPtau {
            path: path.to_path_buf(),
            reason,
        };

        let mut magic = [0u8; 4];
        read_exact(&mut file, &mut magic, path)?;
        if &magic != MAGIC {
            return Err(invalid(format!(
                "it starts with \"{}\", not the magic \"ptau\"",
                magic.escape_ascii()
            )));
        }
        let version = read_u32(&mut file, path)?;
        if version != VERSION {
            return Err(invalid(format!(
                "format version {version}, only {VERSION} is supported"
            )));
        }
        let n_sections = read_u32(&mut file, path)?;

        let mut sections = BTreeMap::new();
        let mut pos: u64 = 12;
        for _ in 0..n_sections {
            let id = read_u32(&mut file, path)?;
            let size = read_u64(&mut file, path)?;
            let offset = pos + 12;
            let end = offset
                .checked_add(size)
                .filter(|&end| end <= len)
                .ok_or_else(|| {
                    invalid(format!(
                        "section {id} claims {size} bytes at offset {offset}, past the end of the \
                     {len}-byte file (truncated?)"
                    ))
                })?;
            if sections.insert(id, Section { offset, size }).is_some() {
                return Err(invalid(format!("section {id} appears twice")));
            }
            file.seek(SeekFrom::Start(end))
                .map_err(|e| SrsError::io("read", path, e))?;
            pos = end;
        }
        if pos != len {
            return Err(invalid(format!(
                "{} trailing byte(s) follow the last of its {n_sections} sections",
                len - pos
            )));
        }
        let section = |id: u32, name: &str| {
            sections
                .get(&id)
                .copied()
                .ok_or_else(|| invalid(format!("section {id} ({name}) is missing")))
        };
        let header = section(SECTION_HEADER, "header")?;
        let tau_g1 = section(SECTION_TAU_G1, "tauG1")?;
        let tau_g2 = section(SECTION_TAU_G2, "tauG2")?;

        // Header.
        if header.size != HEADER_BYTES {
            return Err(invalid(format!(
                "the header section has {} bytes, a BN254 header has {HEADER_BYTES}",
                header.size
            )));
        }
        file.seek(SeekFrom::Start(header.offset))
            .map_err(|e| SrsError::io("read", path, e))?;
        let n8 = read_u32(&mut file, path)?;
        if n8 as usize != N8 {
            return Err(invalid(format!(
                "field elements of {n8} bytes; BN254's are {N8} (is this another curve?)"
            )));
        }
        let mut q = [0u8; N8];
        read_exact(&mut file, &mut q, path)?;
        if q != bn254_base_modulus_le() {
            return Err(invalid(
                "its prime q is not BN254's base field modulus (is this another curve?)".into(),
            ));
        }
        let power = read_u32(&mut file, path)?;
        let ceremony_power = read_u32(&mut file, path)?;
        if !(1..=MAX_K).contains(&power) {
            return Err(invalid(format!("power {power} is outside 1..={MAX_K}")));
        }
        if ceremony_power < power {
            return Err(invalid(format!(
                "power {power} exceeds the ceremony power {ceremony_power}"
            )));
        }

        // Section sizes follow from the power.
        let n = 1u64 << power;
        let expect = |s: Section, name: &str, points: u64, bytes: usize| {
            let want = points * bytes as u64;
            if s.size == want {
                Ok(())
            } else {
                Err(invalid(format!(
                    "the {name} section has {} bytes; power {power} needs {points} points of \
                     {bytes} bytes = {want}",
                    s.size
                )))
            }
        };
        expect(tau_g1, "tauG1", 2 * n - 1, G1_BYTES)?;
        expect(tau_g2, "tauG2", n, G2_BYTES)?;

        Ok(PtauFile {
            path: path.to_path_buf(),
            file,
            power,
            ceremony_power,
            tau_g1,
            tau_g2,
        })
    }

    /// The first `count` points of tauG1 (τ^0·G1, τ^1·G1, ...), each checked
    /// to be a finite point of BN254's G1 (whose cofactor is 1, so that is
    /// also subgroup membership).
    pub(crate) fn tau_g1(&mut self, count: usize) -> Result<Vec<G1Affine>, SrsError> {
        let bytes = self.read_points(self.tau_g1, "tauG1", count, G1_BYTES)?;
        bytes
            .par_chunks_exact(G1_BYTES)
            .enumerate()
            .map(|(i, raw)| match G1Affine::from_raw_bytes(raw) {
                Some(p) if !bool::from(p.is_identity()) => Ok(p),
                Some(_) => Err(self.invalid_point("tauG1", i, "is the point at infinity")),
                None => Err(self.invalid_point("tauG1", i, "is not on the BN254 G1 curve")),
            })
            .collect()
    }

    /// The first `count` points of tauG2 (τ^0·G2, τ^1·G2, ...), each checked
    /// to be a finite point on BN254's G2 curve. Subgroup membership (G2's
    /// cofactor is not 1) is costly and is checked only for the points used,
    /// by `super::check`.
    pub(crate) fn tau_g2(&mut self, count: usize) -> Result<Vec<G2Affine>, SrsError> {
        let bytes = self.read_points(self.tau_g2, "tauG2", count, G2_BYTES)?;
        bytes
            .chunks_exact(G2_BYTES)
            .enumerate()
            .map(|(i, raw)| match G2Affine::from_raw_bytes(raw) {
                Some(p) if !bool::from(p.is_identity()) => Ok(p),
                Some(_) => Err(self.invalid_point("tauG2", i, "is the point at infinity")),
                None => Err(self.invalid_point("tauG2", i, "is not on the BN254 G2 curve")),
            })
            .collect()
    }

    fn read_points(
        &mut self,
        section: Section,
        name: &str,
        count: usize,
        point_bytes: usize,
    ) -> Result<Vec<u8>, SrsError> {
        let available = section.size / point_bytes as u64;
        if count as u64 > available {
            return Err(SrsError::InvalidPtau {
                path: self.path.clone(),
                reason: format!("{count} {name} points requested, the file has {available}"),
            });
        }
        let mut bytes = vec![0u8; count * point_bytes];
        self.file
            .seek(SeekFrom::Start(section.offset))
            .map_err(|e| SrsError::io("read", &self.path, e))?;
        read_exact(&mut self.file, &mut bytes, &self.path)?;
        Ok(bytes)
    }

    fn invalid_point(&self, name: &str, index: usize, what: &str) -> SrsError {
        SrsError::InvalidPtau {
            path: self.path.clone(),
            reason: format!(
                "{name} point {index} {what} (a coordinate is corrupt, or not reduced mod q)"
            ),
        }
    }
}

/// SHA-256 of the whole file, streamed: the fingerprint recorded as the
/// SRS's provenance, to compare with the ceremony's published file.
pub(crate) fn sha256_file(path: &Path) -> Result<[u8; 32], SrsError> {
    let mut file = File::open(path).map_err(|e| SrsError::io("open", path, e))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|e| SrsError::io("read", path, e))?;
    Ok(hasher.finalize().into())
}

/// BN254's base field modulus q, little-endian, as snarkjs writes it in the
/// header; derived from the curve library (as (q − 1) + 1) rather than retyped.
fn bn254_base_modulus_le() -> [u8; N8] {
    // halo2curves' BN254 field representations are little-endian.
    let mut q = (-Fq::ONE).to_repr();
    for byte in q.iter_mut() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    q
}

/// `read_exact`, where running out of file is `InvalidPtau` (truncated) and
/// any other failure is `Io`.
fn read_exact(file: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<(), SrsError> {
    file.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            SrsError::InvalidPtau {
                path: path.to_path_buf(),
                reason: "the file ends early (truncated?)".into(),
            }
        } else {
            SrsError::io("read", path, e)
        }
    })
}

fn read_u32(file: &mut impl Read, path: &Path) -> Result<u32, SrsError> {
    let mut b = [0u8; 4];
    read_exact(file, &mut b, path)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(file: &mut impl Read, path: &Path) -> Result<u64, SrsError> {
    let mut b = [0u8; 8];
    read_exact(file, &mut b, path)?;
    Ok(u64::from_le_bytes(b))
}
