//! Whole transformer models through the graph compiler: the bundled tiny
//! GPT-2 block and BERT encoder, quantized from their ONNX files, planned
//! and checked in MockProver with honest and forged witnesses.

use std::path::PathBuf;
use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;
use zkinfer_quantizer::{inputs, quantize_onnx, QuantizeOptions, QuantizedModel};

use crate::compiler::ModelCircuit;
use crate::plan::plan;

pub(crate) fn bundled(name: &str) -> (QuantizedModel, Vec<Vec<i64>>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../quantizer/models");
    let samples = inputs::load_samples(&dir.join(format!("{name}.samples.json"))).unwrap();
    let opts = QuantizeOptions {
        activation_bits: 20,
        ..QuantizeOptions::default()
    };
    let (model, _) = quantize_onnx(&dir.join(format!("{name}.onnx")), &samples, &opts).unwrap();
    let input = inputs::load_input(&dir.join(format!("{name}.input.json"))).unwrap();
    let q = inputs::quantize_inputs(&model, &input).unwrap();
    (model, q)
}

/// Plans, then runs MockProver with the honest witness (must pass) and with
/// one output instance changed by one (must fail).
fn mock(model: QuantizedModel, q: Vec<Vec<i64>>) {
    let layout = plan(&model).unwrap();
    println!("{}: {layout}", model.name);
    let circuit = ModelCircuit::with_inputs(Arc::new(model), q).unwrap();
    let instances = circuit.instances();
    let prover = MockProver::<Fr>::run(layout.k, &circuit, vec![instances.clone()]).unwrap();
    prover.verify().unwrap();
    let mut forged = instances;
    let last = forged.len() - 1;
    forged[last] += Fr::ONE;
    let prover = MockProver::<Fr>::run(layout.k, &circuit, vec![forged]).unwrap();
    assert!(prover.verify().is_err(), "a changed output must not verify");
}

#[test]
fn gpt2_block_proves_its_output_and_only_it() {
    let (model, q) = bundled("gpt2_block");
    mock(model, q);
}

#[test]
fn bert_encoder_proves_its_output_and_only_it() {
    let (model, q) = bundled("bert_tiny");
    mock(model, q);
}

/// `cargo test -p zkinfer-circuits -- --ignored --nocapture measure_bundled`
/// prints every bundled transformer's layout.
#[test]
#[ignore]
fn measure_bundled_transformers() {
    for name in ["gpt2_block", "bert_tiny", "gpt2_2layer"] {
        let (model, q) = bundled(name);
        mock(model, q);
    }
}
