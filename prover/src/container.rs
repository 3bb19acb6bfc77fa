//! The framing shared by zkinfer's binary artifacts (keys): a magic line that
//! says what the file is, one line of JSON metadata a person can read with
//! `head -2`, then the binary body. A file of the wrong kind, or a truncated
//! one, is rejected on the magic line or the body length before any parsing.

use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Read, Write};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{path}: not a {what} file (expected it to start with '{magic}')")]
    WrongKind {
        path: String,
        what: &'static str,
        magic: &'static str,
    },
    #[error("{path}: corrupt header: {reason}")]
    BadHeader { path: String, reason: String },
    #[error(
        "{path}: body is {got} bytes, header says {expected}: the file is truncated or corrupt"
    )]
    BadLength {
        path: String,
        got: usize,
        expected: usize,
    },
    #[error("{path}: body checksum mismatch: the file is corrupt")]
    BadChecksum { path: String },
    #[error("cannot read or write {0}: {1}")]
    Io(String, #[source] std::io::Error),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<H> {
    body_len: usize,
    body_sha256: String,
    #[serde(flatten)]
    header: H,
}

pub struct Kind {
    pub magic: &'static str,
    pub what: &'static str,
}

pub fn write<H: Serialize>(
    path: &std::path::Path,
    kind: &Kind,
    header: &H,
    body: &[u8],
) -> Result<(), ContainerError> {
    let io = |e| ContainerError::Io(path.display().to_string(), e);
    let env = Envelope {
        body_len: body.len(),
        body_sha256: hex::encode(Sha256::digest(body)),
        header,
    };
    let json = serde_json::to_string(&env).expect("headers always serialize");
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    writeln!(f, "{}", kind.magic).map_err(io)?;
    writeln!(f, "{json}").map_err(io)?;
    f.write_all(body).map_err(io)?;
    f.flush().map_err(io)
}

pub fn read<H: DeserializeOwned>(
    path: &std::path::Path,
    kind: &Kind,
) -> Result<(H, Vec<u8>), ContainerError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ContainerError::Io(p.clone(), e))?;
    let mut r = std::io::BufReader::new(file);
    let wrong = || ContainerError::WrongKind {
        path: p.clone(),
        what: kind.what,
        magic: kind.magic,
    };
    let mut magic = Vec::new();
    // Bounded reads: a binary file with no newline must not be slurped as a "line".
    (&mut r)
        .take(kind.magic.len() as u64 + 1)
        .read_until(b'\n', &mut magic)
        .map_err(|e| ContainerError::Io(p.clone(), e))?;
    if magic.strip_suffix(b"\n") != Some(kind.magic.as_bytes()) {
        return Err(wrong());
    }
    let mut line = Vec::new();
    (&mut r)
        .take(1 << 20)
        .read_until(b'\n', &mut line)
        .map_err(|e| ContainerError::Io(p.clone(), e))?;
    let env: Envelope<H> =
        serde_json::from_slice(&line).map_err(|e| ContainerError::BadHeader {
            path: p.clone(),
            reason: e.to_string(),
        })?;
    let mut body = Vec::with_capacity(env.body_len.min(1 << 32));
    r.read_to_end(&mut body)
        .map_err(|e| ContainerError::Io(p.clone(), e))?;
    if body.len() != env.body_len {
        return Err(ContainerError::BadLength {
            path: p,
            got: body.len(),
            expected: env.body_len,
        });
    }
    if hex::encode(Sha256::digest(&body)) != env.body_sha256 {
        return Err(ContainerError::BadChecksum { path: p });
    }
    Ok((env.header, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Kind = Kind {
        magic: "TEST-KIND v1",
        what: "test",
    };

    #[test]
    fn round_trips_and_rejects_wrong_kind_truncation_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write(&path, &K, &serde_json::json!({"a": 1}), b"hello body").unwrap();
        let (h, body): (serde_json::Value, _) = read(&path, &K).unwrap();
        assert_eq!(h["a"], 1);
        assert_eq!(body, b"hello body");

        let other = Kind {
            magic: "OTHER v1",
            what: "other",
        };
        assert!(matches!(
            read::<serde_json::Value>(&path, &other),
            Err(ContainerError::WrongKind { .. })
        ));

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert!(matches!(
            read::<serde_json::Value>(&path, &K),
            Err(ContainerError::BadLength { .. })
        ));

        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(
            read::<serde_json::Value>(&path, &K),
            Err(ContainerError::BadChecksum { .. })
        ));
    }
}
