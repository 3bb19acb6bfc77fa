//! Private weights and hashed inputs through the graph compiler: the
//! circuit's model commitment is [`crate::commitment::model_commitment`], a
//! changed weight cannot carry the committed one, the key holds no weight,
//! and a hashed input binds the input.

use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use halo2_proofs::plonk::keygen_vk;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use halo2curves::bn256::{Bn256, Fr};
use halo2curves::ff::Field;
use rand::SeedableRng;
use zkinfer_quantizer::{Op, QuantizedModel};

use crate::commitment::model_commitment;
use crate::compiler::ModelCircuit;
use crate::params::{InputVisibility, Visibility, WeightVisibility};
use crate::public::pack_words;
use crate::testing::{test_inputs, test_model};

const PRIVATE: Visibility = Visibility {
    weights: WeightVisibility::Private,
    input: InputVisibility::Public,
};
const HASHED: Visibility = Visibility {
    weights: WeightVisibility::Fixed,
    input: InputVisibility::Hashed,
};
const BOTH: Visibility = Visibility {
    weights: WeightVisibility::Private,
    input: InputVisibility::Hashed,
};

fn circuit(model: &QuantizedModel, visibility: Visibility) -> ModelCircuit {
    ModelCircuit::with_inputs_visible(Arc::new(model.clone()), test_inputs(3), visibility).unwrap()
}

fn mock(
    circuit: &ModelCircuit,
    instances: Vec<Fr>,
) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
    MockProver::run(circuit.layout().k, circuit, vec![instances])
        .unwrap()
        .verify()
}

/// `model` with its first linear weight raised by one.
fn one_weight_changed(model: &QuantizedModel) -> QuantizedModel {
    let mut other = model.clone();
    let weight = other
        .nodes
        .iter_mut()
        .find_map(|n| match &mut n.op {
            Op::Linear { weight, .. } => Some(weight),
            _ => None,
        })
        .unwrap();
    weight[0] += 1;
    other
}

#[test]
fn the_circuit_computes_the_commitment_that_commit_prints() {
    let model = test_model();
    let c = circuit(&model, PRIVATE);
    let instances = c.instances();
    assert_eq!(instances[0], model_commitment(&model));
    assert_eq!(mock(&c, instances.clone()), Ok(()));
    let mut wrong = instances;
    wrong[0] += Fr::ONE;
    assert!(
        mock(&c, wrong).is_err(),
        "another commitment must not verify"
    );
}

#[test]
fn a_changed_weight_cannot_carry_the_registered_commitment() {
    let model = test_model();
    let other = one_weight_changed(&model);
    assert_ne!(model_commitment(&model), model_commitment(&other));
    // Honest for its own weights, the proof names them...
    let c = circuit(&other, PRIVATE);
    let mut instances = c.instances();
    assert_eq!(instances[0], model_commitment(&other));
    assert_eq!(mock(&c, instances.clone()), Ok(()));
    // ...and cannot claim the registered model's commitment.
    instances[0] = model_commitment(&model);
    assert!(mock(&c, instances).is_err());
}

#[test]
fn a_private_key_holds_no_weight() {
    let model = test_model();
    let other = one_weight_changed(&model);
    let k = circuit(&model, PRIVATE).layout().k;
    let params = ParamsKZG::<Bn256>::setup(k, rand_chacha::ChaCha20Rng::seed_from_u64(1));
    let vk_bytes = |m: &QuantizedModel, v: Visibility| {
        let c = ModelCircuit::for_keygen_visible(Arc::new(m.clone()), v).unwrap();
        keygen_vk(&params, &c)
            .unwrap()
            .to_bytes(SerdeFormat::RawBytes)
    };
    assert_eq!(vk_bytes(&model, PRIVATE), vk_bytes(&other, PRIVATE));
    // With fixed weights, the key is the model.
    let fixed = Visibility::default();
    let k_fixed = circuit(&model, fixed).layout().k;
    if k_fixed == k {
        assert_ne!(vk_bytes(&model, fixed), vk_bytes(&other, fixed));
    }
}

#[test]
fn a_hashed_input_verifies_only_with_its_commitment() {
    let model = test_model();
    for visibility in [HASHED, BOTH] {
        let c = circuit(&model, visibility);
        let layout = c.public_layout();
        let instances = c.instances();
        assert_eq!(instances.len(), layout.num_instances());
        let at = layout.input_start();
        let words = pack_words(&test_inputs(3).concat(), layout.lane_bits).unwrap();
        assert_eq!(
            instances[at],
            crate::commitment::input_commitment(&words, layout.lane_bits, Fr::ZERO)
        );
        assert_eq!(mock(&c, instances.clone()), Ok(()));
        // The commitment of another input.
        let mut other_input = test_inputs(3);
        other_input[0][0] += 1;
        let words = pack_words(&other_input.concat(), layout.lane_bits).unwrap();
        let mut wrong = instances;
        wrong[at] = crate::commitment::input_commitment(&words, layout.lane_bits, Fr::ZERO);
        assert!(mock(&c, wrong).is_err(), "{visibility:?}");
    }
}

#[test]
fn a_salted_input_commitment_needs_the_salt() {
    let model = test_model();
    let salt = Fr::from(0x5a17);
    let c =
        ModelCircuit::with_inputs_salted(Arc::new(model), test_inputs(3), HASHED, salt).unwrap();
    let layout = c.public_layout();
    let words = pack_words(&test_inputs(3).concat(), layout.lane_bits).unwrap();
    let at = layout.input_start();
    let mut instances = c.instances();
    assert_eq!(
        instances[at],
        crate::commitment::input_commitment(&words, layout.lane_bits, salt)
    );
    assert_eq!(mock(&c, instances.clone()), Ok(()));
    // The same input without the salt is another commitment.
    instances[at] = crate::commitment::input_commitment(&words, layout.lane_bits, Fr::ZERO);
    assert!(mock(&c, instances).is_err());
}

/// MockProver of a bundled transformer with private weights: the circuit's
/// commitment is the native one, and no other verifies.
fn mock_bundled_private(name: &str) {
    let (model, q) = crate::transformer_tests::bundled(name);
    let fixed = crate::plan::plan(&model).unwrap();
    let c = ModelCircuit::with_inputs_visible(Arc::new(model.clone()), q, PRIVATE).unwrap();
    println!("{name} fixed: {fixed}\n{name} private: {}", c.layout());
    let instances = c.instances();
    assert_eq!(instances[0], model_commitment(&model));
    assert_eq!(mock(&c, instances.clone()), Ok(()));
    let mut wrong = instances;
    wrong[0] += Fr::ONE;
    assert!(mock(&c, wrong).is_err());
}

#[test]
fn the_gpt2_block_proves_its_commitment() {
    mock_bundled_private("gpt2_block");
}

/// A minute in MockProver (k = 19): the private embedding's lookup is
/// covered in CI by `chips::private_gather`'s tests.
#[test]
#[ignore]
fn bert_proves_its_commitment_through_a_private_embedding() {
    mock_bundled_private("bert_tiny");
}

#[test]
#[ignore]
fn print_commitment_sizes() {
    for name in ["gpt2_block", "bert_tiny", "gpt2_2layer"] {
        let (model, _) = crate::transformer_tests::bundled(name);
        let p = crate::commitment::ModelParameters::of(&model);
        let words = crate::commitment::model_words(&p).unwrap().len();
        let c = ModelCircuit::for_keygen_visible(Arc::new(model.clone()), PRIVATE).unwrap();
        println!(
            "{name}: {} weights, {} biases, lanes {:?}, {words} words, hashing rows {} of {}",
            p.weights.len(),
            p.biases.len(),
            p.lane_bits(),
            c.layout().hashing_rows,
            c.layout().gate_rows
        );
    }
}

#[test]
fn hashing_keeps_the_constraint_system_degree() {
    use halo2_proofs::plonk::ConstraintSystem;

    use crate::config::ModelConfig;
    use crate::params::CircuitParams;

    let degree = |weights: WeightVisibility, input: InputVisibility| {
        let params = CircuitParams {
            nonlinear: true,
            freivalds_lanes: 2,
            weights,
            weight_bits: 16,
            bias_bits: 24,
            input,
            ..crate::testing::params(8, 9)
        };
        let mut cs = ConstraintSystem::<Fr>::default();
        ModelConfig::configure(&mut cs, &params);
        cs.degree()
    };
    let fixed = degree(WeightVisibility::Fixed, InputVisibility::Public);
    assert_eq!(
        degree(WeightVisibility::Private, InputVisibility::Hashed),
        fixed
    );
    assert_eq!(
        degree(WeightVisibility::Fixed, InputVisibility::Hashed),
        fixed
    );
}
