//! Measures what one layer of proof aggregation would buy on-chain: a
//! bundled model's proof (made with the Poseidon transcript an in-circuit
//! verifier replays) is verified inside snark-verifier-sdk's
//! `AggregationCircuit` at outer degree `k`, and the outer proof's Solidity
//! verifier is run in the embedded EVM. Prints the outer layout, times, peak
//! memory is left to `/usr/bin/time -v`, and the verify gas.
//!
//! `cargo run --manifest-path benches/aggregation-probe/Cargo.toml -- mlp 21`
//!
//! The SRS is sampled here (insecure, for measuring only); the inner SRS is
//! the outer one cut down, as the accumulator check requires.

use std::sync::Arc;
use std::time::Instant;

use halo2_proofs::circuit::Layouter;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2curves::bn256::{Bn256, Fr};
use revm::primitives::{Address, U256};
use snark_verifier_sdk::evm::{gen_evm_proof_shplonk, gen_evm_verifier_sol_code};
use snark_verifier_sdk::halo2::aggregation::{
    AggregationCircuit, AggregationConfigParams, VerifierUniversality,
};
use snark_verifier_sdk::halo2::gen_snark_shplonk;
use snark_verifier_sdk::snark_verifier::halo2_base::gates::circuit::CircuitBuilderStage;
use snark_verifier_sdk::{gen_pk, CircuitExt, Snark, SHPLONK};
use zkinfer_circuits::{CircuitParams, ModelCircuit};
use zkinfer_verifier_contract::evm::Evm;
use zkinfer_verifier_contract::instance_loop::roll_instance_loops;
use zkinfer_verifier_contract::verifier::{calldata, compile_verifier};

/// The model circuit, with the instance description the SDK asks for.
#[derive(Clone)]
struct Inner(ModelCircuit);

impl Circuit<Fr> for Inner {
    type Config = <ModelCircuit as Circuit<Fr>>::Config;
    type FloorPlanner = <ModelCircuit as Circuit<Fr>>::FloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        Inner(self.0.without_witnesses())
    }
    fn params(&self) -> CircuitParams {
        self.0.params()
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, p: CircuitParams) -> Self::Config {
        ModelCircuit::configure_with_params(meta, p)
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        ModelCircuit::configure(meta)
    }
    fn synthesize(&self, config: Self::Config, layouter: impl Layouter<Fr>) -> Result<(), Error> {
        self.0.synthesize(config, layouter)
    }
}

impl CircuitExt<Fr> for Inner {
    fn num_instance(&self) -> Vec<usize> {
        vec![self.0.instances().len()]
    }
    fn instances(&self) -> Vec<Vec<Fr>> {
        vec![self.0.instances()]
    }
}

fn aggregation(
    stage: CircuitBuilderStage,
    config: AggregationConfigParams,
    params: &ParamsKZG<Bn256>,
    snark: &Snark,
) -> AggregationCircuit {
    let mut circuit = AggregationCircuit::new::<SHPLONK>(
        stage,
        config,
        params,
        [snark.clone()],
        VerifierUniversality::None,
    );
    // The model's public words stay public, after the accumulator's limbs.
    circuit.expose_previous_instances(false);
    circuit
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("mlp", String::as_str);
    let outer_k: u32 = args
        .get(2)
        .map_or(21, |s| s.parse().expect("k is a number"));
    let bundled = zkinfer_prover::bundled::by_name(name).expect("a bundled model's name");
    let model = zkinfer_prover::pipeline::quantize_bundled(bundled).expect("it quantizes");
    let layout = zkinfer_circuits::plan(&model).expect("it plans");
    let input = zkinfer_quantizer::inputs::parse_input(bundled.input).expect("its input parses");
    let q = zkinfer_quantizer::inputs::quantize_inputs(&model, &input).expect("its input fits");
    let inner = Inner(ModelCircuit::with_inputs(Arc::new(model), q).expect("it runs"));

    let t = Instant::now();
    let params = ParamsKZG::<Bn256>::setup(outer_k, rand::thread_rng());
    println!("SRS k = {outer_k}: {:.1} s", t.elapsed().as_secs_f64());
    let mut inner_params = params.clone();
    inner_params.downsize(layout.k);

    let t = Instant::now();
    let inner_pk = gen_pk(&inner_params, &inner, None);
    let snark = gen_snark_shplonk(&inner_params, &inner_pk, inner, None::<&str>);
    println!(
        "{name}: k = {}, keys and Poseidon-transcript proof {:.1} s, {} B",
        layout.k,
        t.elapsed().as_secs_f64(),
        snark.proof.len()
    );

    let t = Instant::now();
    let start = AggregationConfigParams {
        degree: outer_k,
        lookup_bits: outer_k as usize - 1,
        ..Default::default()
    };
    let mut keygen = aggregation(CircuitBuilderStage::Keygen, start, &params, &snark);
    let config = keygen.calculate_params(Some(10));
    let pk = gen_pk(&params, &keygen, None);
    let break_points = keygen.break_points();
    drop(keygen);
    println!(
        "outer: k = {}, {} advice + {} lookup-advice columns, keygen {:.1} s",
        config.degree,
        config.num_advice,
        config.num_lookup_advice,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let prover = aggregation(CircuitBuilderStage::Prover, config, &params, &snark)
        .use_break_points(break_points);
    let num_instances = prover.num_instance();
    let instances = prover.instances();
    let proof = gen_evm_proof_shplonk(&params, &pk, prover, instances.clone());
    println!(
        "outer proof {:.1} s, {} B, {} instances",
        t.elapsed().as_secs_f64(),
        proof.len(),
        num_instances[0]
    );

    let source = gen_evm_verifier_sol_code::<AggregationCircuit, SHPLONK>(
        &params,
        pk.get_vk(),
        num_instances.clone(),
    );
    // zkinfer's own passes where they apply: the instance code rolled into
    // loops (the pass refuses if the accumulator's limbs are read outside
    // them), then a split into contracts that fit EIP-170.
    let omega = pk.get_vk().get_domain().get_omega();
    let (source, rolled) = match roll_instance_loops(&source, num_instances[0], omega) {
        Ok(rolled) => (rolled, true),
        Err(_) => (source, false),
    };
    let parts = compile_verifier(&source).expect("the verifier compiles within EIP-170");
    let calldata = calldata(&instances[0], &proof);

    let mut evm = Evm::new();
    let from = Address::repeat_byte(0x11);
    evm.fund(from, U256::from(10u128.pow(24)));
    // Last part first: each constructor takes its successor's address.
    let mut next = None;
    let mut deploy_gas = 0;
    for part in parts.iter().rev() {
        let deployed = evm
            .deploy(from, part.creation_code(next))
            .expect("every part deploys");
        deploy_gas += deployed.gas_used;
        next = Some(deployed.address);
    }
    let address = next.expect("at least one part");
    let sizes: Vec<usize> = parts.iter().map(|p| p.compiled.runtime.len()).collect();
    let ok = evm
        .call(from, address, calldata.clone())
        .expect("the call runs");
    let mut flipped = calldata.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 1;
    let bad = evm.call(from, address, flipped).expect("the call runs");
    println!(
        "outer verifier: {} contract(s), runtime {sizes:?} B, instance code rolled: {rolled}, deploy {deploy_gas} gas; \
         verify {} gas (whole transaction, {} B calldata), valid {}, flipped byte accepted {}",
        parts.len(),
        ok.gas_used,
        calldata.len(),
        ok.success,
        bad.success
    );
    assert!(
        ok.success && !bad.success,
        "the outer verifier must accept the proof and only it"
    );
}
