//! The on-chain path of one proof in the embedded EVM: the model's verifier
//! checks it (and rejects tampered copies), then the royalty market records
//! the output and releases the fee. `zkinfer demo` prints this; the tests
//! assert on it; `zkinfer bench` reports its gas.

use zkinfer_circuits::public::PublicLayout;
use zkinfer_verifier_contract::evm::{Evm, EvmError, Outcome};
use zkinfer_verifier_contract::market::{
    self, compile_market, request_commitment, Market, Registration,
};
use zkinfer_verifier_contract::{Address, U256};

use crate::error::ProverError;
use crate::evm::{call_verifier, proof_calldata, EvmVerifier, DEPLOYER};
use crate::keys::VerifyingKeyFile;
use crate::proof_file::ProofFile;
use crate::tamper;

pub const CREATOR: Address = Address::repeat_byte(0xc1);
pub const CONSUMER: Address = Address::repeat_byte(0xc2);
pub const PROVER: Address = Address::repeat_byte(0xc3);

/// The demo's market terms: 0.01 ETH per inference, 80% to the creator.
pub const DEMO_FEE_WEI: u128 = 10_000_000_000_000_000;
pub const DEMO_ROYALTY_BPS: u16 = 8_000;

/// Gas and sizes of every step.
#[derive(Clone, Debug, Default)]
pub struct OnchainFigures {
    /// Runtime code of all the verifier's contracts together.
    pub verifier_runtime_bytes: usize,
    /// How many contracts the verifier is (more than one where a single
    /// one would be over EIP-170), and the largest one's runtime size.
    pub verifier_parts: usize,
    pub verifier_largest_part_bytes: usize,
    pub verifier_deploy_gas: u64,
    /// A direct call of the verifier with a valid proof (whole transaction).
    pub verify_gas: u64,
    /// The part of `verify_gas` spent running the verifier (without the
    /// transaction's base and calldata cost).
    pub verify_execution_gas: u64,
    pub market_runtime_bytes: usize,
    pub market_deploy_gas: u64,
    pub register_gas: u64,
    pub request_gas: u64,
    /// `fulfill`: input check, the verifier call, recording the output, credits.
    pub fulfill_gas: u64,
    pub withdraw_gas: u64,
}

/// One soundness check run in the EVM: what was sent and whether it was refused.
#[derive(Clone, Debug)]
pub struct Rejection {
    /// "verifier" (the contract called directly) or "market" (a fulfilment).
    pub contract: &'static str,
    pub what: &'static str,
    pub rejected: bool,
    /// Why, as the contract said it.
    pub reason: String,
}

pub struct OnchainRun {
    pub figures: OnchainFigures,
    pub rejections: Vec<Rejection>,
    /// The output the market recorded, as signed fixed-point integers.
    pub recorded_output: Vec<i128>,
    /// ETH the creator and the prover withdrew.
    pub creator_paid: U256,
    pub prover_paid: U256,
}

impl OnchainRun {
    pub fn all_rejected(&self) -> bool {
        self.rejections.iter().all(|r| r.rejected)
    }
}

fn evm_err(e: EvmError) -> ProverError {
    ProverError::Evm(e.to_string())
}

fn must(step: &str, out: Outcome) -> Result<Outcome, ProverError> {
    if out.success {
        return Ok(out);
    }
    let reason = market::failure_reason(&out);
    let hint = if reason.contains("OutOfGas") {
        format!(
            " (a transaction may use at most {} gas here, near Osaka's per-transaction cap)",
            zkinfer_verifier_contract::evm::TX_GAS_LIMIT
        )
    } else {
        String::new()
    };
    Err(ProverError::Evm(format!("{step} failed: {reason}{hint}")))
}

/// The verifier's figures alone (size, deployment, one valid proof), for
/// models whose market flow does not fit a transaction.
pub fn verifier_figures(
    vk: &VerifyingKeyFile,
    proof: &ProofFile,
) -> Result<OnchainFigures, ProverError> {
    crate::evm::check_proof_matches(vk, proof)?;
    let mut evm = Evm::new();
    evm.fund(DEPLOYER, U256::from(10u128.pow(20)));
    deploy_and_verify(&mut evm, vk, proof).map(|(_, fig)| fig)
}

/// Deploys the verifier of `vk` and checks the valid `proof` with it: its
/// address and the verifier's figures (the market's are left zero).
fn deploy_and_verify(
    evm: &mut Evm,
    vk: &VerifyingKeyFile,
    proof: &ProofFile,
) -> Result<(Address, OnchainFigures), ProverError> {
    let deployed = EvmVerifier::build(vk)?.deploy(evm)?;
    let valid = call_verifier(evm, deployed.address, proof)?;
    if !valid.accepted {
        return Err(ProverError::Evm(
            "the verifier contract rejected a proof that verifies natively".into(),
        ));
    }
    let fig = OnchainFigures {
        verifier_runtime_bytes: deployed.part_sizes.iter().sum(),
        verifier_parts: deployed.part_sizes.len(),
        verifier_largest_part_bytes: deployed.part_sizes.iter().copied().max().unwrap_or(0),
        verifier_deploy_gas: deployed.gas_used,
        verify_gas: valid.gas_used,
        verify_execution_gas: valid.gas_used - valid.intrinsic_gas,
        ..OnchainFigures::default()
    };
    Ok((deployed.address, fig))
}

/// Deploys the verifier of `vk` and the market, and runs one paid inference
/// for `proof` through them, with the tampered proofs the market must refuse.
pub fn run_market_flow(
    vk: &VerifyingKeyFile,
    proof: &ProofFile,
) -> Result<OnchainRun, ProverError> {
    run_market_flow_with(vk, proof, Vec::new())
}

/// [`run_market_flow`] with more proofs that both the verifier and the
/// market must refuse (a proof made for another model, say), sent like the
/// tampered ones.
pub fn run_market_flow_with(
    vk: &VerifyingKeyFile,
    proof: &ProofFile,
    also_refused: Vec<(&'static str, ProofFile)>,
) -> Result<OnchainRun, ProverError> {
    run_market_flow_refusing(vk, proof, also_refused, Vec::new())
}

/// [`run_market_flow_with`], and `other_weights`: valid proofs under the
/// same (private-weights, so shared) verifier for models with other
/// weights. The verifier must accept each, and the market must refuse each
/// for carrying another model commitment than the registered one.
pub fn run_market_flow_refusing(
    vk: &VerifyingKeyFile,
    proof: &ProofFile,
    also_refused: Vec<(&'static str, ProofFile)>,
    other_weights: Vec<(&'static str, ProofFile)>,
) -> Result<OnchainRun, ProverError> {
    crate::evm::check_proof_matches(vk, proof)?;
    let bad_proofs: Vec<(&'static str, ProofFile)> = tamper::standard(proof)
        .into_iter()
        .chain(also_refused)
        .collect();
    let (instances, proof_bytes) = proof_calldata(proof)?;
    let mut evm = Evm::new();
    let fee = U256::from(DEMO_FEE_WEI);
    for who in [CREATOR, CONSUMER, PROVER, DEPLOYER] {
        evm.fund(who, U256::from(10u128.pow(20)));
    }
    let (verifier_at, mut fig) = deploy_and_verify(&mut evm, vk, proof)?;
    let mut rejections = Vec::new();
    for (what, bad) in &bad_proofs {
        let check = call_verifier(&mut evm, verifier_at, bad)?;
        rejections.push(Rejection {
            contract: "verifier",
            what,
            rejected: !check.accepted,
            reason: "verifier reverted".into(),
        });
    }
    for (what, other) in &other_weights {
        if !call_verifier(&mut evm, verifier_at, other)?.accepted {
            return Err(ProverError::Evm(format!(
                "{what}: the verifier refuses it, so it tests nothing about the market"
            )));
        }
    }

    let compiled = compile_market().map_err(|e| ProverError::Evm(e.to_string()))?;
    let (m, deployed) = Market::deploy(&mut evm, DEPLOYER, &compiled).map_err(evm_err)?;
    fig.market_runtime_bytes = deployed.runtime_size;
    fig.market_deploy_gas = deployed.gas_used;

    let layout = proof.public_layout();
    let weights_commitment = market_weights_commitment(&layout, &instances)?;
    // With private weights the vk is shared by every model of the
    // architecture: the model is its commitment, as in the proof file.
    let model_id = match weights_commitment {
        Some(c) => c,
        None => model_id_bytes(&vk.header.model_id)?,
    };
    let registration = Registration {
        model_id,
        verifier: verifier_at,
        fee,
        royalty_bps: DEMO_ROYALTY_BPS,
        payout: CREATOR,
        num_inputs: layout.num_inputs as u32,
        num_outputs: layout.num_outputs as u32,
        lane_bits: market_lane_bits(&layout)?,
        weights_commitment: weights_commitment.unwrap_or([0; 32]),
        input_hashed: layout.hashed_input,
        contributors: vec![],
    };
    fig.register_gas = must(
        "register",
        m.register(&mut evm, CREATOR, &registration)
            .map_err(evm_err)?,
    )?
    .gas_used;

    let commitment = request_commitment(&instances[layout.input_range()], layout.hashed_input);
    let deadline = evm.timestamp() + 3_600;
    let (out, id) = m
        .request(&mut evm, CONSUMER, model_id, commitment, deadline, fee)
        .map_err(evm_err)?;
    fig.request_gas = must("request", out)?.gas_used;
    let id = id.ok_or_else(|| ProverError::Evm("request returned no id".into()))?;

    // Refused fulfilments first: none may move money or close the request.
    let escrow = evm.balance(m.address);
    for (what, bad) in bad_proofs.iter().chain(&other_weights) {
        let (bad_instances, bad_bytes) = proof_calldata(bad)?;
        let out = m
            .fulfill(&mut evm, PROVER, id, &bad_instances, &bad_bytes)
            .map_err(evm_err)?;
        rejections.push(Rejection {
            contract: "market",
            what,
            rejected: !out.success && evm.balance(m.address) == escrow,
            reason: market::failure_reason(&out),
        });
    }

    let out = m
        .fulfill(&mut evm, PROVER, id, &instances, &proof_bytes)
        .map_err(evm_err)?;
    let out = must("fulfill", out)?;
    fig.fulfill_gas = out.gas_used;
    let published = market::published_outputs(&out)
        .filter(|(request, _)| *request == id)
        .map(|(_, outputs)| outputs)
        .ok_or_else(|| ProverError::Evm("fulfill published no outputs".into()))?;
    let replay = m
        .fulfill(&mut evm, PROVER, id, &instances, &proof_bytes)
        .map_err(evm_err)?;
    rejections.push(Rejection {
        contract: "market",
        what: "the same proof replayed",
        rejected: !replay.success,
        reason: market::failure_reason(&replay),
    });

    // What a consumer reads: the stored outputs where the market keeps
    // them, else the published ones, which it must vouch for.
    if !m
        .matches_output(&mut evm, id, &published)
        .map_err(evm_err)?
    {
        return Err(ProverError::Evm(
            "the market does not vouch for the outputs it published".into(),
        ));
    }
    let recorded_output = match m.signed_output_of(&mut evm, id).map_err(evm_err)? {
        Some(stored) => stored,
        None if layout.num_outputs > market::MAX_STORED_OUTPUTS => {
            let values = published_values(&layout, &published)?;
            values.into_iter().map(i128::from).collect()
        }
        None => {
            return Err(ProverError::Evm(
                "the fulfilled request has no recorded output".into(),
            ))
        }
    };

    let before = (evm.balance(CREATOR), evm.balance(PROVER));
    fig.withdraw_gas = must("withdraw", m.withdraw(&mut evm, CREATOR).map_err(evm_err)?)?.gas_used;
    must("withdraw", m.withdraw(&mut evm, PROVER).map_err(evm_err)?)?;
    let creator_paid = evm.balance(CREATOR) - before.0;
    let prover_paid = evm.balance(PROVER) - before.1;
    Ok(OnchainRun {
        figures: fig,
        rejections,
        recorded_output,
        creator_paid,
        prover_paid,
    })
}

/// The output values carried by `words`, as the market publishes them.
pub(crate) fn published_values(
    layout: &PublicLayout,
    words: &[U256],
) -> Result<Vec<i64>, ProverError> {
    let words = (words.iter())
        .map(|&x| {
            fr_from_u256(x).ok_or_else(|| {
                ProverError::Evm(format!("published output word {x} is not a field element"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    (layout.unpack_outputs(&words)).map_err(|e| ProverError::Evm(format!("published outputs: {e}")))
}

/// The model commitment a market registers for a proof with `layout` and
/// `instances` (big-endian, as the contract's `weightsCommitment`): its
/// first instance with private weights, none with fixed weights.
pub fn market_weights_commitment(
    layout: &PublicLayout,
    instances: &[U256],
) -> Result<Option<[u8; 32]>, ProverError> {
    if !layout.model_commitment {
        return Ok(None);
    }
    instances
        .first()
        .map(|c| Some(c.to_be_bytes::<32>()))
        .ok_or_else(|| ProverError::BadProofFile("no instances, so no model commitment".into()))
}

/// The market's `laneBits` for `layout`: it takes packed values only.
pub fn market_lane_bits(layout: &PublicLayout) -> Result<u8, ProverError> {
    u8::try_from(layout.lane_bits)
        .ok()
        .filter(|&b| b > 0)
        .ok_or_else(|| {
            ProverError::BadKey(
                "the key was made before public values were packed, and the market takes packed \
                 values only: run `zkinfer setup` again"
                    .into(),
            )
        })
}

fn fr_from_u256(x: U256) -> Option<halo2_proofs::halo2curves::bn256::Fr> {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let mut repr = [0u8; 32];
    for (dst, src) in repr.iter_mut().zip(x.to_be_bytes::<32>().iter().rev()) {
        *dst = *src;
    }
    Option::from(halo2_proofs::halo2curves::bn256::Fr::from_repr(repr))
}

/// The 32 bytes of a hex model id (SHA-256 of the .zkq).
pub fn model_id_bytes(hex_id: &str) -> Result<[u8; 32], ProverError> {
    let bytes = hex::decode(hex_id.trim_start_matches("0x"))
        .map_err(|e| ProverError::BadKey(format!("model id '{hex_id}' is not hex: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| ProverError::BadKey(format!("model id '{hex_id}' is not 32 bytes")))
}

#[cfg(test)]
mod tests {
    use zkinfer_circuits::{InputVisibility, Visibility, WeightVisibility};
    use zkinfer_gpu::Backend;

    use super::*;
    use crate::bundled;
    use crate::pipeline::run_bundled_visible;
    use crate::progress::Progress;

    /// The embedded-EVM flow with a proof whose weights are private and
    /// whose input is hashed: the market registers the proof's commitment,
    /// the request commits to its input commitment, and the flow pays and
    /// refuses exactly as with fixed weights and a public input.
    #[test]
    fn the_market_flow_takes_private_weights_and_a_hashed_input() {
        let dir = tempfile::tempdir().unwrap();
        let visibility = Visibility {
            weights: WeightVisibility::Private,
            input: InputVisibility::Hashed,
        };
        let run = run_bundled_visible(
            &bundled::MLP,
            dir.path(),
            Backend::Cpu,
            visibility,
            &Progress::hidden(),
        )
        .unwrap();
        let layout = run.proof.public_layout();
        assert!(layout.model_commitment && layout.hashed_input);
        let vk = VerifyingKeyFile::load(&run.artifacts.keys.join("vk")).unwrap();
        let chain = run_market_flow(&vk, &run.proof).unwrap();
        for r in &chain.rejections {
            assert!(
                r.rejected,
                "{} accepted: {} ({})",
                r.contract, r.what, r.reason
            );
        }
        let by_market = |what: &str| {
            let r = chain
                .rejections
                .iter()
                .find(|r| r.contract == "market" && r.what == what);
            r.map(|r| r.reason.clone()).unwrap_or_default()
        };
        assert!(by_market("the input commitment changed").contains("InputMismatch"));
        assert!(by_market("the model commitment changed").contains("ModelMismatch"));
        let outputs: Vec<i128> = (run.proof.public_values().unwrap().outputs)
            .into_iter()
            .map(i128::from)
            .collect();
        assert_eq!(chain.recorded_output, outputs);
        let royalty = DEMO_FEE_WEI * u128::from(DEMO_ROYALTY_BPS) / 10_000;
        assert_eq!(chain.creator_paid, U256::from(royalty));
        assert_eq!(chain.prover_paid, U256::from(DEMO_FEE_WEI - royalty));
    }
}
