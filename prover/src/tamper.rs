//! Tampered copies of a proof file, for the demo's and the tests' soundness
//! checks: each must be rejected by `verify`.

use halo2curves::bn256::Fr;
use zkinfer_quantizer::{Op, QuantizedModel};

use crate::proof_file::{fr_from_decimal, fr_to_decimal, ProofFile};

/// One byte of the proof flipped (in the middle, inside a commitment or evaluation).
pub fn flip_proof_byte(p: &ProofFile) -> ProofFile {
    let mut bytes = p
        .proof_bytes()
        .expect("a proof made by zkinfer is valid hex");
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    ProofFile {
        proof: format!("0x{}", hex::encode(bytes)),
        ..p.clone()
    }
}

/// Public instance `index` increased by one.
pub fn bump_instance(p: &ProofFile, index: usize) -> ProofFile {
    let mut q = p.clone();
    let v =
        fr_from_decimal(&q.instances[index]).expect("a proof made by zkinfer has valid instances");
    q.instances[index] = fr_to_decimal(&(v + Fr::one()));
    q
}

/// The first instance that carries the input changed (a word, or the
/// input commitment).
pub fn change_input(p: &ProofFile) -> ProofFile {
    bump_instance(p, p.public_layout().input_start())
}

/// The last public output changed.
pub fn change_output(p: &ProofFile) -> ProofFile {
    bump_instance(p, p.instances.len() - 1)
}

/// Every tampered copy a demo or a flow must see refused, with what was
/// changed: the model commitment (private weights), one proof byte, the
/// input (a word, or its commitment), an output.
pub fn standard(p: &ProofFile) -> Vec<(&'static str, ProofFile)> {
    let layout = p.public_layout();
    let mut out = Vec::new();
    if layout.model_commitment {
        out.push(("the model commitment changed", bump_instance(p, 0)));
    }
    out.push(("one proof byte flipped", flip_proof_byte(p)));
    let input = if layout.hashed_input {
        "the input commitment changed"
    } else {
        "a public input changed"
    };
    out.push((input, change_input(p)));
    out.push(("a public output changed", change_output(p)));
    out
}

/// `model` with its first linear layer's first weight raised by one: another
/// model with the same architecture (and, for small weights, the same lane
/// widths), for tests that a proof or a commitment names *these* weights.
/// `None` for a model without a linear layer.
pub fn one_weight_changed(model: &QuantizedModel) -> Option<QuantizedModel> {
    let mut other = model.clone();
    let weight = other.nodes.iter_mut().find_map(|n| match &mut n.op {
        Op::Linear { weight, .. } => Some(weight),
        _ => None,
    })?;
    *weight.first_mut()? += 1;
    Some(other)
}
