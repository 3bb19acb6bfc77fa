use zkinfer_gpu::Backend;
use zkinfer_quantizer::{Node, Op, TensorInfo};

use super::*;
use crate::keys::ProvingKeyFile;
use crate::progress::Progress;
use crate::prove::prove;
use crate::setup::setup;
use crate::srs::Srs;

/// x → relu → add_const → relu → add_const → add (residual of the first relu).
fn model() -> QuantizedModel {
    let t = |name: &str| TensorInfo {
        name: name.into(),
        shape: vec![4],
        calibrated_max_abs: 1.0,
    };
    let node = |name: &str, op: Op, inputs: Vec<usize>, output: usize| Node {
        name: name.into(),
        onnx_op: op.kind().into(),
        op,
        inputs,
        output,
    };
    let c = || Op::AddConst {
        constant: vec![3, -20, 7, 1],
    };
    QuantizedModel {
        name: "chain".into(),
        scale_bits: 4,
        activation_bits: 12,
        tensors: ["x", "a", "b", "c", "d", "y"].map(t).to_vec(),
        inputs: vec![0],
        outputs: vec![5],
        nodes: vec![
            node("r1", Op::Relu, vec![0], 1),
            node("k1", c(), vec![1], 2),
            node("r2", Op::Relu, vec![2], 3),
            node("k2", c(), vec![3], 4),
            node("res", Op::Add, vec![4, 1], 5),
        ],
    }
}

struct Proved {
    manifest: ChainManifest,
    keys: Vec<VerifyingKeyFile>,
    pks: Vec<ProvingKeyFile>,
    parts: Vec<QuantizedModel>,
    proofs: Vec<ProofFile>,
}

fn prove_chain(x: Vec<i64>) -> Proved {
    let dir = tempfile::tempdir().unwrap();
    let whole = model();
    let (manifest, parts) = write_split(&whole, 2, dir.path()).unwrap();
    assert_eq!(ChainManifest::load(dir.path()).unwrap(), manifest);
    let srs = Srs::dev(10, Some(3));
    let inputs = part_inputs(&manifest, &whole, &[x]).unwrap();
    let (mut keys, mut pks, mut proofs) = (Vec::new(), Vec::new(), Vec::new());
    for (part, input) in parts.iter().zip(inputs) {
        let out = setup(part, &srs, &Progress::hidden()).unwrap();
        let proof = prove(part, &out.pk, input, Backend::Cpu, &Progress::hidden()).unwrap();
        proofs.push(proof.proof);
        keys.push(out.vk);
        pks.push(out.pk);
    }
    Proved {
        manifest,
        keys,
        pks,
        parts,
        proofs,
    }
}

#[test]
fn a_chain_of_honest_proofs_verifies() {
    let p = prove_chain(vec![5, -7, 2, 40]);
    verify_chain(&p.manifest, &p.keys, &p.proofs).unwrap();
}

#[test]
fn a_part_proved_on_other_values_breaks_the_link() {
    let mut p = prove_chain(vec![5, -7, 2, 40]);
    // A valid proof of part 2, but on inputs part 1 did not output.
    let other = part_inputs(&p.manifest, &model(), &[vec![6, -7, 2, 40]]).unwrap();
    p.proofs[1] = prove(
        &p.parts[1],
        &p.pks[1],
        other[1].clone(),
        Backend::Cpu,
        &Progress::hidden(),
    )
    .unwrap()
    .proof;
    verify(&p.keys[1].view(), &p.proofs[1]).unwrap();
    let err = verify_chain(&p.manifest, &p.keys, &p.proofs).unwrap_err();
    assert!(err.to_string().contains("not one inference"), "{err}");
}

#[test]
fn keys_or_proofs_out_of_place_are_rejected() {
    let p = prove_chain(vec![1, 2, 3, 4]);
    let swapped: Vec<ProofFile> = p.proofs.iter().rev().cloned().collect();
    assert!(verify_chain(&p.manifest, &p.keys, &swapped).is_err());
    let keys: Vec<VerifyingKeyFile> = p.keys.into_iter().rev().collect();
    assert!(verify_chain(&p.manifest, &keys, &p.proofs).is_err());
    assert!(verify_chain(&p.manifest, &keys[..1], &p.proofs[..1]).is_err());
}

#[test]
fn a_manifest_that_unlinks_a_part_is_rejected() {
    let mut p = prove_chain(vec![5, -7, 2, 40]);
    check_split_of(&p.manifest, &model()).unwrap();
    // Calling part 2's inputs model inputs would skip their link to part 1.
    for (_, from) in &mut p.manifest.parts[1].inputs {
        *from = None;
    }
    let err = verify_chain(&p.manifest, &p.keys, &p.proofs).unwrap_err();
    assert!(err.to_string().contains("does not allow"), "{err}");
    let mut other = model();
    other.name = "another".into();
    assert!(check_split_of(&p.manifest, &other).is_err());
}
