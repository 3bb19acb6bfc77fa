//! `model.safetensors`: the checkpoint's tensors by name, widened to f64.
//!
//! Names are looked up with and without the family's prefix
//! (`transformer.` for GPT-2, `bert.` for BERT): a base model
//! (`GPT2Model`, `BertModel`) saves `h.0.ln_1.weight`, a model with a head
//! (`GPT2LMHeadModel`, `BertForMaskedLM`) saves `transformer.h.0.ln_1.weight`.
//! Each tensor's shape is checked against the one the config implies, so a
//! checkpoint that disagrees with its config fails here, naming the tensor,
//! and never inside the graph.
//!
//! Layouts: GPT-2's `Conv1D` stores `[in, out]`, the row-major layout of
//! [`crate::float_graph::FloatOp::Linear`]; `nn.Linear` stores `[out, in]`
//! and is transposed on reading ([`Weights::linear`]).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

use safetensors::tensor::{Dtype, Metadata};
use safetensors::SafeTensors;

use crate::error::QuantizeError;

pub struct Weights {
    /// "folder/model.safetensors", for messages.
    file: String,
    bytes: Vec<u8>,
    /// Where the data section starts in `bytes`.
    data_start: usize,
    metadata: Metadata,
    prefix: &'static str,
    used: RefCell<BTreeSet<String>>,
}

impl Weights {
    /// Reads `folder/model.safetensors`; `prefix` is the family's (without
    /// the dot).
    pub fn open(folder: &Path, prefix: &'static str) -> Result<Self, QuantizeError> {
        let path = folder.join("model.safetensors");
        if !path.is_file() {
            let has = |f: &str| folder.join(f).is_file();
            if has("model.safetensors.index.json") {
                return Err(QuantizeError::UnsupportedCheckpoint(format!(
                    "{} is sharded (model.safetensors.index.json); save it as one model.safetensors",
                    folder.display()
                )));
            }
            let why = if has("pytorch_model.bin") {
                "only safetensors weights are read, not pytorch_model.bin: \
                 save the model with safe_serialization=True"
            } else {
                "a Hugging Face model folder holds config.json and model.safetensors"
            };
            return Err(QuantizeError::BadCheckpoint(format!(
                "{} has no model.safetensors: {why}",
                folder.display()
            )));
        }
        let bytes =
            std::fs::read(&path).map_err(|e| QuantizeError::Io(path.display().to_string(), e))?;
        Self::from_bytes(bytes, &path.display().to_string(), prefix)
    }

    /// The same from a file's contents; `file` names it in messages.
    pub fn from_bytes(
        bytes: Vec<u8>,
        file: &str,
        prefix: &'static str,
    ) -> Result<Self, QuantizeError> {
        // Checks the header, and that every tensor's offsets lie inside the
        // file and match its dtype and shape.
        let (header_len, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| {
            QuantizeError::BadCheckpoint(format!("{file} is not a valid safetensors file: {e}"))
        })?;
        Ok(Weights {
            file: file.to_string(),
            data_start: 8 + header_len,
            bytes,
            metadata,
            prefix,
            used: RefCell::new(BTreeSet::new()),
        })
    }

    /// The stored name of `name`: as given, or with the family prefix.
    fn resolve(&self, name: &str) -> Option<String> {
        let prefixed = format!("{}.{name}", self.prefix);
        [name.to_string(), prefixed]
            .into_iter()
            .find(|n| self.metadata.info(n).is_some())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    /// Tensor `name` (with or without the prefix) as f64, row-major; its
    /// shape must be `shape`.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>, QuantizeError> {
        self.optional(name, shape)?.ok_or_else(|| {
            QuantizeError::BadCheckpoint(format!(
                "{} has no tensor '{name}' (nor '{}.{name}')",
                self.file, self.prefix
            ))
        })
    }

    /// [`Self::tensor`], or `None` if the file does not hold it.
    pub fn optional(&self, name: &str, shape: &[usize]) -> Result<Option<Vec<f64>>, QuantizeError> {
        let Some(stored) = self.resolve(name) else {
            return Ok(None);
        };
        let info = self.metadata.info(&stored).expect("resolve found the name");
        if info.shape != shape {
            return Err(QuantizeError::BadCheckpoint(format!(
                "tensor '{stored}' in {} has shape {:?}, expected {shape:?} from config.json",
                self.file, info.shape
            )));
        }
        let (start, end) = info.data_offsets;
        let raw = &self.bytes[self.data_start + start..self.data_start + end];
        let values = widen(raw, info.dtype).ok_or_else(|| {
            QuantizeError::UnsupportedCheckpoint(format!(
                "tensor '{stored}' in {} has dtype {:?}; weights must be F32, F16, BF16 or F64",
                self.file, info.dtype
            ))
        })?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(QuantizeError::BadCheckpoint(format!(
                "tensor '{stored}' in {} holds {} at #{i}",
                self.file, values[i]
            )));
        }
        self.used.borrow_mut().insert(stored);
        Ok(Some(values))
    }

    /// The weight of `nn.Linear` `module` (stored `[out, in]`), transposed to
    /// the row-major `[in, out]` that `FloatOp::Linear` takes.
    pub fn linear(
        &self,
        module: &str,
        n_in: usize,
        n_out: usize,
    ) -> Result<Vec<f64>, QuantizeError> {
        let w = self.tensor(&format!("{module}.weight"), &[n_out, n_in])?;
        Ok(transpose(&w, n_out, n_in))
    }

    /// A layer norm's gain and offset: `weight` and `bias`, or `gamma` and
    /// `beta` as old BERT checkpoints name them.
    pub fn layer_norm(
        &self,
        module: &str,
        dim: usize,
    ) -> Result<(Vec<f64>, Vec<f64>), QuantizeError> {
        let pick = |new: &str, old: &str| {
            let old_name = format!("{module}.{old}");
            if self.contains(&old_name) {
                self.tensor(&old_name, &[dim])
            } else {
                self.tensor(&format!("{module}.{new}"), &[dim])
            }
        };
        Ok((pick("weight", "gamma")?, pick("bias", "beta")?))
    }

    /// Stored tensors that no lookup read (a task head, buffers), sorted.
    pub fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        let mut names: Vec<String> = self
            .metadata
            .tensors()
            .into_keys()
            .filter(|n| !used.contains(n))
            .collect();
        names.sort();
        names
    }
}

/// `[rows, cols]` row-major -> `[cols, rows]` row-major.
pub fn transpose(w: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// Little-endian floats of `dtype` as f64; `None` for other dtypes.
fn widen(raw: &[u8], dtype: Dtype) -> Option<Vec<f64>> {
    Some(match dtype {
        Dtype::F32 => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        Dtype::F64 => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F16 => raw
            .chunks_exact(2)
            .map(|b| f16_to_f64(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        // bf16 is the top half of an f32.
        Dtype::BF16 => raw
            .chunks_exact(2)
            .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16) as f64)
            .collect(),
        _ => return None,
    })
}

/// IEEE half precision: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let mant = (h & 0x3ff) as f64;
    sign * match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_formats_widen_exactly() {
        // f16: 1.0, -2.0, 65504 (largest), 2^-24 (smallest subnormal), 0.333 (0x3555).
        let f16: Vec<u8> = [0x3c00u16, 0xc000, 0x7bff, 0x0001, 0x3555]
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect();
        let got = widen(&f16, Dtype::F16).unwrap();
        assert_eq!(&got[..4], &[1.0, -2.0, 65504.0, 2f64.powi(-24)]);
        assert!((got[4] - 1.0 / 3.0).abs() < 1e-3);
        assert!(f16_to_f64(0x7c00).is_infinite() && f16_to_f64(0x7e00).is_nan());
        // bf16: 1.0 = 0x3f80, -0.5 = 0xbf00.
        let bf16: Vec<u8> = [0x3f80u16, 0xbf00]
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect();
        assert_eq!(widen(&bf16, Dtype::BF16).unwrap(), vec![1.0, -0.5]);
        assert_eq!(widen(&[0; 8], Dtype::I64), None);
    }

    #[test]
    fn transpose_swaps_axes() {
        // [[1, 2, 3], [4, 5, 6]] -> [[1, 4], [2, 5], [3, 6]].
        let t = transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        assert_eq!(t, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
