use std::path::PathBuf;

use crate::bundled;
use crate::keys::fr_to_hex;
use crate::keys::VerifyingKeyFile;
use crate::pipeline::{print_figures, run_bundled_visible};
use crate::progress::Progress;
use crate::report::print_outputs;
use crate::srs::insecure_warning;
use crate::tamper;
use crate::verify::verify;
use clap::Args as ClapArgs;
use zkinfer_gpu::{Backend, BackendChoice};

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// Where to write the demo's files (model, keys, proof).
    #[arg(long, default_value = "zkinfer-demo")]
    dir: PathBuf,
    /// Which bundled model (see `zkinfer bench --list`; the transformers
    /// gpt2_block, gpt2_2layer and bert_tiny take a minute or more).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    backend: String,
    #[command(flatten)]
    visibility: super::visibility::VisibilityArgs,
}

pub fn run(a: Args) -> CliResult {
    let bundled =
        bundled::by_name(&a.model).ok_or_else(|| format!("no bundled model '{}'", a.model))?;
    let backend = Backend::select(a.backend.parse::<BackendChoice>()?)?;
    println!("zkinfer demo: {} — {}", bundled.name, bundled.description);
    println!("files in {}/\n", a.dir.display());
    eprintln!("{}", insecure_warning());
    let progress = Progress::spinner("demo");
    let visibility = a.visibility.get()?;
    let run = run_bundled_visible(bundled, &a.dir, backend, visibility, &progress)?;
    progress.finish();

    println!(
        "== 1. quantize ({} -> {})",
        run.artifacts.onnx.display(),
        run.artifacts.zkq.display()
    );
    print!("{}", run.report);
    println!(
        "\n== 2. setup (dev SRS, k = {}; {} weights, {} input)",
        run.figures.layout.k, visibility.weights, visibility.input
    );
    println!("{}", run.figures.layout);
    if let Some(c) = run.proof.model_commitment()? {
        println!(
            "  the keys hold no weight; model commitment {} (`zkinfer commit`), {} of {} gate rows hash it",
            fr_to_hex(&c),
            run.figures.layout.hashing_rows,
            run.figures.layout.gate_rows
        );
    }
    println!("\n== 3. prove ({})", run.artifacts.proof.display());
    print_outputs(
        &run.model,
        &run.outputs,
        Some(&run.reference),
        &mut std::io::stdout(),
    )?;

    println!("\n== 4. verify");
    let vk = VerifyingKeyFile::load(&run.artifacts.keys.join("vk"))?;
    verify(&vk.view(), &run.proof)?;
    println!("  valid proof                     -> accepted");
    let mut all_rejected = true;
    for (what, bad) in tamper::standard(&run.proof) {
        let rejected = verify(&vk.view(), &bad).is_err();
        all_rejected &= rejected;
        println!(
            "  {what:<31} -> {}",
            if rejected {
                "rejected"
            } else {
                "ACCEPTED (soundness bug!)"
            }
        );
    }

    println!("\n== figures");
    print_figures(&[&run.figures], &mut std::io::stdout())?;
    println!("\n== 5. on-chain, in an embedded EVM (revm)");
    let chain = crate::onchain::run_market_flow(&vk, &run.proof)?;
    let f = &chain.figures;
    let layout = if f.verifier_parts > 1 {
        format!(
            "{} bytes in {} contracts, largest {} (EIP-170: 24576 each)",
            f.verifier_runtime_bytes, f.verifier_parts, f.verifier_largest_part_bytes
        )
    } else {
        format!("{} bytes (EIP-170: 24576)", f.verifier_runtime_bytes)
    };
    println!(
        "  verifier contract {layout}, deploy {} gas, verify {} gas ({} without the transaction's base and calldata)",
        f.verifier_deploy_gas, f.verify_gas, f.verify_execution_gas
    );
    println!(
        "  market contract {} bytes, deploy {} gas; register {} gas, request {} gas, fulfill {} gas, withdraw {} gas",
        f.market_runtime_bytes, f.market_deploy_gas, f.register_gas, f.request_gas, f.fulfill_gas, f.withdraw_gas
    );
    for r in &chain.rejections {
        all_rejected &= r.rejected;
        println!(
            "  {:<8} {:<31} -> {} ({})",
            r.contract,
            r.what,
            if r.rejected {
                "rejected, no money moved"
            } else {
                "ACCEPTED (soundness bug!)"
            },
            r.reason
        );
    }
    const SHOWN: usize = 8;
    let out = &chain.recorded_output;
    let more = if out.len() > SHOWN {
        format!(" ... ({} more)", out.len() - SHOWN)
    } else {
        String::new()
    };
    println!(
        "  output recorded on-chain: {:?}{more}; creator withdrew {} wei, prover {} wei",
        &out[..out.len().min(SHOWN)],
        chain.creator_paid,
        chain.prover_paid
    );
    if !all_rejected {
        return Ok(2);
    }
    Ok(0)
}
