//! A model proved as a chain of parts ([`zkinfer_quantizer::split`]): the
//! directory layout, the manifest, and proving and verifying the chain.
//!
//! ```text
//! DIR/split.json      the manifest: the whole model's id, each part's id and
//!                     where each part input comes from
//! DIR/part{i}.zkq     the parts, ordinary models
//! DIR/keys{i}/        each part's pk, vk, settings.json (zkinfer setup)
//! DIR/proof{i}.json   each part's proof (chain prove)
//! ```
//!
//! [`verify_chain`] accepts when every part's proof verifies under that
//! part's key (whose model id the manifest names) and every part input's
//! public values equal the producing part's public output values for the
//! same tensor (model inputs: equal in every part reading them). Then the
//! parts' proofs together prove one inference of the whole model.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkinfer_quantizer::split::split;
use zkinfer_quantizer::{infer, QuantizedModel, TensorId};

use crate::error::ProverError;
use crate::keys::VerifyingKeyFile;
use crate::proof_file::ProofFile;
use crate::verify::verify;
use zkinfer_circuits::public::PublicInput;

pub const CHAIN_FORMAT: &str = "zkinfer-split/v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainManifest {
    pub format: String,
    pub model_name: String,
    /// Id of the whole model the parts were cut from.
    pub model_id: String,
    pub model_inputs: Vec<TensorRef>,
    pub model_outputs: Vec<TensorRef>,
    pub parts: Vec<PartEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorRef {
    pub tensor: TensorId,
    pub name: String,
    pub len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEntry {
    pub model_id: String,
    pub nodes: usize,
    /// In the part's input order, with the part producing each (`None`: a
    /// model input).
    pub inputs: Vec<(TensorRef, Option<usize>)>,
    pub outputs: Vec<TensorRef>,
}

impl ChainManifest {
    pub fn part_model(dir: &Path, i: usize) -> PathBuf {
        dir.join(format!("part{i}.zkq"))
    }

    pub fn part_keys(dir: &Path, i: usize) -> PathBuf {
        dir.join(format!("keys{i}"))
    }

    pub fn part_proof(dir: &Path, i: usize) -> PathBuf {
        dir.join(format!("proof{i}.json"))
    }

    pub fn load(dir: &Path) -> Result<Self, ProverError> {
        let path = dir.join("split.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ProverError::Io(path.display().to_string(), e))?;
        let m: ChainManifest = serde_json::from_str(&text)
            .map_err(|e| ProverError::BadChain(format!("{}: {e}", path.display())))?;
        if m.format != CHAIN_FORMAT {
            return Err(ProverError::BadChain(format!(
                "{} is format '{}', expected '{CHAIN_FORMAT}'",
                path.display(),
                m.format
            )));
        }
        Ok(m)
    }
}

fn tensor_ref(model: &QuantizedModel, t: TensorId) -> TensorRef {
    TensorRef {
        tensor: t,
        name: model.tensors[t].name.clone(),
        len: model.tensors[t].len(),
    }
}

/// Cuts `model` into `parts`, writes them and the manifest into `dir`, and
/// returns the manifest and the part models.
pub fn write_split(
    model: &QuantizedModel,
    parts: usize,
    dir: &Path,
) -> Result<(ChainManifest, Vec<QuantizedModel>), ProverError> {
    let cut = split(model, parts)?;
    std::fs::create_dir_all(dir).map_err(|e| ProverError::Io(dir.display().to_string(), e))?;
    let mut entries = Vec::with_capacity(cut.len());
    for (i, part) in cut.iter().enumerate() {
        part.model.save(&ChainManifest::part_model(dir, i))?;
        entries.push(PartEntry {
            model_id: part.model.id(),
            nodes: part.model.nodes.len(),
            inputs: part
                .model
                .inputs
                .iter()
                .zip(&part.producers)
                .map(|(&t, &p)| (tensor_ref(model, t), p))
                .collect(),
            outputs: part
                .model
                .outputs
                .iter()
                .map(|&t| tensor_ref(model, t))
                .collect(),
        });
    }
    let manifest = ChainManifest {
        format: CHAIN_FORMAT.into(),
        model_name: model.name.clone(),
        model_id: model.id(),
        model_inputs: model.inputs.iter().map(|&t| tensor_ref(model, t)).collect(),
        model_outputs: model
            .outputs
            .iter()
            .map(|&t| tensor_ref(model, t))
            .collect(),
        parts: entries,
    };
    let path = dir.join("split.json");
    let text = serde_json::to_string_pretty(&manifest).expect("the manifest serializes");
    std::fs::write(&path, text).map_err(|e| ProverError::Io(path.display().to_string(), e))?;
    Ok((manifest, cut.into_iter().map(|p| p.model).collect()))
}

/// Each part's quantized inputs, from one integer inference of the whole
/// model on `inputs` (already quantized, in the whole model's input order).
pub fn part_inputs(
    manifest: &ChainManifest,
    model: &QuantizedModel,
    inputs: &[Vec<i64>],
) -> Result<Vec<Vec<Vec<i64>>>, ProverError> {
    if model.id() != manifest.model_id {
        return Err(ProverError::BadChain(format!(
            "the split was cut from model {}, this .zkq is model {}",
            &manifest.model_id[..16],
            &model.id()[..16]
        )));
    }
    let trace = infer::run(model, inputs)?;
    Ok(manifest
        .parts
        .iter()
        .map(|p| {
            p.inputs
                .iter()
                .map(|(t, _)| trace.tensor(t.tensor).to_vec())
                .collect()
        })
        .collect())
}

/// The manifest's links must be the only ones its parts allow: a part input
/// is a model input exactly when the whole model lists it as one, and
/// otherwise comes from an earlier part that outputs it. (Without this, a
/// forged manifest could call a link a model input and skip its check.)
fn check_structure(manifest: &ChainManifest) -> Result<(), ProverError> {
    let is_model_input = |t: TensorId| manifest.model_inputs.iter().any(|m| m.tensor == t);
    for (i, part) in manifest.parts.iter().enumerate() {
        for (t, from) in &part.inputs {
            let ok = match from {
                None => is_model_input(t.tensor),
                Some(p) => {
                    *p < i
                        && !is_model_input(t.tensor)
                        && manifest.parts[*p]
                            .outputs
                            .iter()
                            .any(|o| o.tensor == t.tensor)
                }
            };
            if !ok {
                return Err(ProverError::BadChain(format!(
                    "part {i}'s input '{}' is linked to {from:?}, which the manifest's own \
                     structure does not allow",
                    t.name
                )));
            }
        }
    }
    Ok(())
}

/// Checks that `manifest` is the split of `model` into its number of parts:
/// the same whole-model id and the same part model ids, recomputed.
pub fn check_split_of(manifest: &ChainManifest, model: &QuantizedModel) -> Result<(), ProverError> {
    let parts = split(model, manifest.parts.len())?;
    let same = model.id() == manifest.model_id
        && parts
            .iter()
            .zip(&manifest.parts)
            .all(|(p, e)| p.model.id() == e.model_id);
    if !same {
        return Err(ProverError::BadChain(format!(
            "split.json is not the split of model {} into {} parts",
            &model.id()[..16],
            manifest.parts.len()
        )));
    }
    Ok(())
}

/// Where each tensor's values sit among a part proof's instances.
fn segments<'a>(
    refs: impl Iterator<Item = &'a TensorRef>,
    first: usize,
) -> Vec<(TensorId, std::ops::Range<usize>)> {
    let mut at = first;
    refs.map(|t| {
        let range = at..at + t.len;
        at += t.len;
        (t.tensor, range)
    })
    .collect()
}

/// Verifies every part proof under its key and the links between parts.
/// `keys[i]` and `proofs[i]` belong to part `i`.
pub fn verify_chain(
    manifest: &ChainManifest,
    keys: &[VerifyingKeyFile],
    proofs: &[ProofFile],
) -> Result<(), ProverError> {
    let n = manifest.parts.len();
    if keys.len() != n || proofs.len() != n {
        return Err(ProverError::BadChain(format!(
            "{n} parts, but {} keys and {} proofs",
            keys.len(),
            proofs.len()
        )));
    }
    for (i, (part, key)) in manifest.parts.iter().zip(keys).enumerate() {
        if key.header.model_id != part.model_id {
            return Err(ProverError::BadChain(format!(
                "the key of part {i} is for model {}, the manifest names {}",
                &key.header.model_id[..16],
                &part.model_id[..16]
            )));
        }
        verify(&key.view(), &proofs[i])
            .map_err(|e| ProverError::BadChain(format!("part {i}: {e}")))?;
    }
    check_structure(manifest)?;
    // Every (tensor, producing part or model input) has one set of values.
    let values = (proofs.iter().enumerate())
        .map(|(i, p)| {
            let values = p
                .public_values()
                .map_err(|e| ProverError::BadChain(format!("part {i}: {e}")))?;
            // Parts are tied by their input values: a hashed input hides them.
            let PublicInput::Values(inputs) = values.input else {
                return Err(ProverError::BadChain(format!(
                    "part {i}'s input is hashed: a chain needs every part's input public"
                )));
            };
            Ok([inputs, values.outputs].concat())
        })
        .collect::<Result<Vec<_>, ProverError>>()?;
    let mut seen: Vec<(TensorId, Option<usize>, &[i64])> = Vec::new();
    for (i, part) in manifest.parts.iter().enumerate() {
        let inst = &values[i];
        let ins = segments(part.inputs.iter().map(|(t, _)| t), 0);
        let width: usize = part.inputs.iter().map(|(t, _)| t.len).sum();
        let outs = segments(part.outputs.iter(), width);
        if outs.last().map_or(width, |(_, r)| r.end) != inst.len() {
            return Err(ProverError::BadChain(format!(
                "part {i}'s proof has {} public values, its manifest entry {}",
                inst.len(),
                outs.last().map_or(width, |(_, r)| r.end)
            )));
        }
        for ((t, r), (_, from)) in ins.iter().zip(&part.inputs) {
            let values = &inst[r.clone()];
            match seen.iter().find(|(s, f, _)| s == t && f == from) {
                Some(&(_, _, made)) if made != values => {
                    return Err(ProverError::BadChain(format!(
                        "part {i}'s public values of tensor {t} differ from those of {}: the \
                         proofs are not one inference",
                        from.map_or("the other parts reading this model input".into(), |p| {
                            format!("part {p}, which produced it")
                        })
                    )))
                }
                Some(_) => {}
                None if from.is_none() => seen.push((*t, None, values)),
                None => {
                    return Err(ProverError::BadChain(format!(
                        "part {i} reads tensor {t} from part {from:?}, which does not output it \
                         before part {i}"
                    )))
                }
            }
        }
        for (t, r) in &outs {
            seen.push((*t, Some(i), &inst[r.clone()]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
