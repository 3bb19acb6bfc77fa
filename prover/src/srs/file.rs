//! zkinfer's SRS file format.
//!
//! ```text
//! ZKINFER-SRS v1 {"k":..,"insecure":..,"origin":"..","params_sha256":".."}\n
//! <halo2-axiom ParamsKZG<Bn256>, SerdeFormat::RawBytes>
//! ```
//!
//! The header is one line of text so that `head -1 file.srs` shows where the
//! SRS came from and whether it is insecure. The params are
//! `u32 k (LE) ‖ 2^k G1 powers ‖ 2^k G1 Lagrange basis ‖ G2 ‖ τ·G2`, points
//! uncompressed with Montgomery-form coordinates (64 bytes in G1, 128 in G2).
//!
//! Loading checks, before trusting any of it: the header, that the length
//! is exactly what k implies (a truncated file is caught before parsing),
//! every coordinate reduced, the params' SHA-256 against the header (a
//! corrupt file is caught), and the first powers (generators, τ != 0, 1,
//! τ·G2 on the curve and in the prime-order subgroup, e(τ·G1, G2) =
//! e(G1, τ·G2)). The full powers check ([`Srs::check_consistency`]) costs two
//! MSMs and is left to import time.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use halo2curves::bn256::Bn256;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::check::check_powers;
use super::{Srs, SrsError, SrsMeta, MAX_K, MIN_K};

const MAGIC: &str = "ZKINFER-SRS";
const VERSION: &str = "v1";
/// A header longer than this is not ours (the origin is one sentence).
const MAX_HEADER_BYTES: u64 = 64 * 1024;
const G1_BYTES: u64 = 64;
const G2_BYTES: u64 = 128;

#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(flatten)]
    meta: SrsMeta,
    /// Hex SHA-256 of the params bytes that follow the header line.
    params_sha256: String,
}

/// Bytes of `ParamsKZG<Bn256>` at `k` in `RawBytes`: k, g, g_lagrange, g2, s_g2.
fn params_len(k: u32) -> u64 {
    4 + 2 * (1u64 << k) * G1_BYTES + 2 * G2_BYTES
}

impl Srs {
    /// Writes the SRS to `path` (through a temporary file renamed into
    /// place, so an interrupted save never leaves a partial SRS at `path`).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SrsError> {
        let path = path.as_ref();
        // Hash first, streaming, so the header can carry the checksum
        // without holding a second copy of the params in memory.
        let mut hasher = Sha256::new();
        self.params
            .write_custom(&mut hasher, SerdeFormat::RawBytes)
            .map_err(|e| SrsError::io("serialize the SRS for", path, e))?;
        let header = Header {
            meta: SrsMeta {
                k: self.params.k(),
                ..self.meta.clone()
            },
            params_sha256: hex::encode(hasher.finalize()),
        };
        let json = serde_json::to_string(&header)
            .map_err(|e| SrsError::io("serialize the SRS header for", path, io::Error::other(e)))?;

        let partial = partial_path(path);
        let write = || -> io::Result<()> {
            let mut out = BufWriter::new(File::create(&partial)?);
            writeln!(out, "{MAGIC} {VERSION} {json}")?;
            self.params.write_custom(&mut out, SerdeFormat::RawBytes)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&partial);
            return Err(SrsError::io("write", &partial, e));
        }
        fs::rename(&partial, path).map_err(|e| SrsError::io("rename into place", path, e))
    }

    /// Reads an SRS written by [`Srs::save`]; see the module doc for what is
    /// checked.
    pub fn load(path: impl AsRef<Path>) -> Result<Srs, SrsError> {
        let path = path.as_ref();
        let invalid = |reason: String| SrsError::InvalidSrsFile {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|e| SrsError::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| SrsError::io("read", path, e))?
            .len();
        let mut reader = BufReader::new(file);

        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_HEADER_BYTES)
            .read_until(b'\n', &mut line)
            .map_err(|e| SrsError::io("read", path, e))?;
        let header = parse_header(&line).map_err(invalid)?;
        let meta = header.meta;
        let k = meta.k;
        if !(MIN_K..=MAX_K).contains(&k) {
            return Err(invalid(format!(
                "its header says k = {k}, outside {MIN_K}..={MAX_K}"
            )));
        }
        let have = len - line.len() as u64;
        let want = params_len(k);
        if have != want {
            return Err(invalid(format!(
                "k = {k} params are {want} bytes, the file has {have} after the header ({})",
                if have < want {
                    "truncated?"
                } else {
                    "trailing data?"
                }
            )));
        }

        let mut hashing = HashingReader {
            inner: reader,
            hasher: Sha256::new(),
        };
        let mut k_bytes = [0u8; 4];
        hashing
            .read_exact(&mut k_bytes)
            .map_err(|e| SrsError::io("read", path, e))?;
        if u32::from_le_bytes(k_bytes) != k {
            return Err(invalid(format!(
                "its header says k = {k} but its params say k = {}",
                u32::from_le_bytes(k_bytes)
            )));
        }
        let params = ParamsKZG::<Bn256>::read_custom(
            &mut io::Cursor::new(k_bytes).chain(&mut hashing),
            SerdeFormat::RawBytes,
        )
        .map_err(|e| invalid(format!("its params do not parse: {e}")))?;
        let digest = hex::encode(hashing.hasher.finalize());
        if digest != header.params_sha256 {
            return Err(invalid(format!(
                "its params' SHA-256 is {digest}, the header says {}: the file is corrupt",
                header.params_sha256
            )));
        }

        let g = params.get_g();
        check_powers(&g[..2], &params.g2(), &params.s_g2())
            .map_err(|reason| invalid(format!("its first powers are wrong: {reason}")))?;
        Ok(Srs { params, meta })
    }
}

fn parse_header(line: &[u8]) -> Result<Header, String> {
    if line.starts_with(b"ptau") {
        return Err("it is a snarkjs .ptau file; import it first (Srs::import_ptau)".into());
    }
    let Some(line) = line.strip_suffix(b"\n") else {
        return Err(format!(
            "it does not start with a \"{MAGIC} {VERSION} {{...}}\" header line"
        ));
    };
    let line = std::str::from_utf8(line)
        .map_err(|_| format!("its first line is not a \"{MAGIC}\" header"))?;
    let rest = line
        .strip_prefix(MAGIC)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| format!("its first line does not start with \"{MAGIC}\""))?;
    let json = rest
        .strip_prefix(VERSION)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| {
            let version = rest.split(' ').next().unwrap_or("");
            format!("format version {version:?}, only {VERSION} is supported")
        })?;
    serde_json::from_str(json).map_err(|e| format!("its header JSON is invalid: {e}"))
}

/// `<path>.partial`, beside `path`.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved_dev_srs(k: u32) -> (tempfile::TempDir, PathBuf, Srs) {
        let srs = Srs::dev(k, Some(42));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.srs");
        srs.save(&path).unwrap();
        (dir, path, srs)
    }

    fn rewrite(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = fs::read(path).unwrap();
        edit(&mut bytes);
        fs::write(path, bytes).unwrap();
    }

    fn load_error(path: &Path) -> String {
        match Srs::load(path) {
            Err(e @ SrsError::InvalidSrsFile { .. }) => e.to_string(),
            other => panic!("expected InvalidSrsFile, got {other:?}"),
        }
    }

    #[test]
    fn srs_dev_round_trips_and_stays_insecure() {
        let (_dir, path, srs) = saved_dev_srs(4);
        let loaded = Srs::load(&path).unwrap();
        assert!(loaded.is_insecure());
        assert_eq!(loaded.meta, srs.meta);
        let bytes = |p: &ParamsKZG<Bn256>| {
            let mut out = Vec::new();
            p.write_custom(&mut out, SerdeFormat::RawBytes).unwrap();
            out
        };
        assert_eq!(bytes(&loaded.params), bytes(&srs.params));
        assert!(!partial_path(&path).exists());
    }

    #[test]
    fn srs_file_header_states_provenance() {
        let (_dir, path, _) = saved_dev_srs(2);
        let bytes = fs::read(&path).unwrap();
        let line_end = bytes.iter().position(|&b| b == b'\n').unwrap();
        let line = std::str::from_utf8(&bytes[..line_end]).unwrap();
        assert!(line.starts_with("ZKINFER-SRS v1 {"), "{line}");
        assert!(line.contains("\"insecure\":true"), "{line}");
        assert!(line.contains("INSECURE, for testing only"), "{line}");
        assert_eq!((bytes.len() - line_end - 1) as u64, params_len(2));
    }

    #[test]
    fn srs_load_rejects_truncated_or_extended_file() {
        let (_dir, path, _) = saved_dev_srs(3);
        rewrite(&path, |b| b.truncate(b.len() - 1));
        assert!(load_error(&path).contains("truncated"));
        rewrite(&path, |b| b.extend_from_slice(&[0, 0]));
        assert!(load_error(&path).contains("trailing"));
        rewrite(&path, |b| b.truncate(20));
        load_error(&path);
    }

    #[test]
    fn srs_load_rejects_corrupt_params() {
        let (_dir, path, _) = saved_dev_srs(3);
        // The low byte of a coordinate's first limb: still reduced mod q, so
        // only the checksum can see it.
        rewrite(&path, |b| {
            let at = b.len() - 200;
            b[at] ^= 0x01;
        });
        assert!(load_error(&path).contains("SHA-256"));
    }

    #[test]
    fn srs_load_rejects_bad_headers() {
        let (_dir, path, _) = saved_dev_srs(2);
        let original = fs::read(&path).unwrap();
        let line_end = original.iter().position(|&b| b == b'\n').unwrap();
        let with_header = |header: &str| {
            let mut b = header.as_bytes().to_vec();
            b.extend_from_slice(&original[line_end..]);
            b
        };
        let header = std::str::from_utf8(&original[..line_end]).unwrap();
        let cases = [
            (with_header("HELLO"), "does not start with \"ZKINFER-SRS\""),
            (
                with_header(&header.replace(" v1 ", " v2 ")),
                "version \"v2\"",
            ),
            (
                with_header("ZKINFER-SRS v1 {not json}"),
                "header JSON is invalid",
            ),
            (
                with_header(&header.replace("\"k\":2", "\"k\":3")),
                "truncated",
            ),
            (
                with_header(&header.replace("\"k\":2", "\"k\":99")),
                "k = 99, outside",
            ),
            (b"ZKINFER-SRS v1 {}".to_vec(), "header line"),
            (Vec::new(), "header line"),
        ];
        for (bytes, expected) in cases {
            fs::write(&path, bytes).unwrap();
            let err = load_error(&path);
            assert!(err.contains(expected), "{err}");
        }
        fs::write(&path, b"ptau\x01\x00\x00\x00").unwrap();
        assert!(load_error(&path).contains("import it first"));
    }

    /// The header's k and the params' k must agree, even when the length
    /// happens to fit the header's k.
    #[test]
    fn srs_load_rejects_params_k_mismatch() {
        let (_dir, path, _) = saved_dev_srs(2);
        rewrite(&path, |b| {
            let line_end = b.iter().position(|&c| c == b'\n').unwrap();
            b[line_end + 1] = 3;
        });
        assert!(load_error(&path).contains("params say k = 3"));
    }

    #[test]
    fn srs_load_missing_file_is_io_error() {
        assert!(matches!(
            Srs::load("/nonexistent/dev.srs"),
            Err(SrsError::Io { .. })
        ));
    }
}
