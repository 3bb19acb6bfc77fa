use crate::bundled::{self, BundledModel};
use crate::keys::VerifyingKeyFile;
use crate::onchain::{run_market_flow, verifier_figures, OnchainFigures};
use crate::pipeline::{print_figures, run_bundled, run_bundled_visible, RunFigures};
use crate::progress::Progress;
use crate::verify::verify_commitment;
use clap::Args as ClapArgs;
use zkinfer_circuits::commitment::model_commitment;
use zkinfer_circuits::{InputVisibility, Visibility, WeightVisibility};
use zkinfer_gpu::{Backend, BackendChoice};

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// Bundled models to run: names (repeat the option or separate them
    /// with commas) or `all`. Default: the dense models (mlp, mnist_mlp:
    /// seconds) and one transformer block (gpt2_block: about a minute, under
    /// 1 GiB, on 2 cores); the larger transformers gpt2_2layer and bert_tiny
    /// (1-2 minutes and up to ~2 GiB each) run only when named or with
    /// `all`. `--list` shows them all.
    #[arg(long, value_delimiter = ',')]
    model: Vec<String>,
    /// List the bundled models and exit.
    #[arg(long)]
    list: bool,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Skip the on-chain figures (verifier size, deploy and verify gas in
    /// the embedded EVM), which need Node.js for solc-js.
    #[arg(long)]
    no_evm: bool,
    /// Also prove each model with private weights and print what they cost
    /// against fixed weights: prove time, peak memory, and the share of the
    /// gate rows spent on the commitment.
    #[arg(long)]
    private: bool,
}

pub fn run(a: Args) -> CliResult {
    if a.list {
        for m in bundled::ALL {
            println!(
                "{:<12} {}-bit activations{}  {}",
                m.name,
                m.activation_bits,
                if m.in_default_bench {
                    ", default"
                } else {
                    "         "
                },
                m.description
            );
        }
        return Ok(0);
    }
    let backend = Backend::select(a.backend.parse::<BackendChoice>()?)?;
    let models = selected(&a.model)?;
    let tmp = tempfile::tempdir()?;
    let mut figures = Vec::new();
    let mut onchain = Vec::new();
    let mut privates = Vec::new();
    for m in models {
        let progress = Progress::spinner(m.name);
        let run = run_bundled(m, &tmp.path().join(m.name), backend, &progress)?;
        if !a.no_evm {
            progress.stage("on-chain figures (embedded EVM)");
            let vk = VerifyingKeyFile::load(&run.artifacts.keys.join("vk"))?;
            let (figures, note) = match run_market_flow(&vk, &run.proof) {
                Ok(chain) if !chain.all_rejected() => {
                    return Err(format!("{}: the EVM accepted a tampered proof", m.name).into());
                }
                Ok(chain) => (chain.figures, None),
                // The verifier may work where the market's fulfil does not
                // fit a transaction (thousands of outputs to store).
                Err(e) => (verifier_figures(&vk, &run.proof)?, Some(e.to_string())),
            };
            let layout = vk.header.public_layout();
            let public = format!(
                "{}/{}",
                layout.num_inputs + layout.num_outputs,
                vk.header.num_instances
            );
            onchain.push((m.name, public, figures, note));
        }
        if a.private {
            progress.stage("private weights");
            let dir = tmp.path().join(format!("{}-private", m.name));
            let private = run_bundled_visible(m, &dir, backend, PRIVATE, &progress)?;
            verify_commitment(&private.proof, &model_commitment(&private.model))?;
            privates.push((run.figures.clone(), private.figures));
        }
        progress.finish();
        figures.push(run.figures);
    }
    println!("backend: {backend}; dev SRS; times are wall clock on this machine");
    print_figures(&figures.iter().collect::<Vec<_>>(), &mut std::io::stdout())?;
    if !onchain.is_empty() {
        println!(
            "\non-chain, embedded EVM (revm, Prague rules): verify gas is the whole transaction, \
             'of which run' without its 21,000 base and calldata"
        );
        print_onchain(&onchain);
    }
    if !privates.is_empty() {
        println!(
            "\nprivate weights (the key holds none; the proof carries the Poseidon model commitment) \
             against fixed weights; hashing: the share of gate rows spent loading, packing and \
             hashing the weights"
        );
        print_private(&privates);
    }
    Ok(0)
}

const PRIVATE: Visibility = Visibility {
    weights: WeightVisibility::Private,
    input: InputVisibility::Public,
};

fn print_private(rows: &[(RunFigures, RunFigures)]) {
    use crate::measure::human_bytes;
    let mem = |b: Option<u64>| b.map_or("n/a".to_string(), human_bytes);
    println!(
        "{:<12} {:>8} {:>10} {:>10} {:>7} {:>11} {:>11} {:>11} {:>9} {:>10} {:>8}",
        "model",
        "k",
        "fixed s",
        "private s",
        "ratio",
        "fixed mem",
        "private mem",
        "private pk",
        "proof B",
        "gate rows",
        "hashing"
    );
    for (fixed, private) in rows {
        let l = &private.layout;
        println!(
            "{:<12} {:>8} {:>10.2} {:>10.2} {:>6.2}x {:>11} {:>11} {:>11} {:>9} {:>10} {:>7.1}%",
            fixed.model,
            format!("{}/{}", fixed.layout.k, l.k),
            fixed.prove.as_secs_f64(),
            private.prove.as_secs_f64(),
            private.prove.as_secs_f64() / fixed.prove.as_secs_f64(),
            mem(fixed.prove_peak_rss),
            mem(private.prove_peak_rss),
            mem(private.setup_peak_rss),
            private.proof_bytes,
            l.gate_rows,
            100.0 * l.hashing_rows as f64 / l.gate_rows.max(1) as f64
        );
    }
}

fn print_onchain(rows: &[(&str, String, OnchainFigures, Option<String>)]) {
    println!(
        "{:<12} {:>11} {:>9} {:>10} {:>10} {:>11} {:>11} {:>12} {:>11}",
        "model",
        "values/inst",
        "contracts",
        "largest B",
        "total B",
        "deploy gas",
        "verify gas",
        "of which run",
        "fulfill gas"
    );
    for (name, public, f, note) in rows {
        let fulfill = match note {
            None => f.fulfill_gas.to_string(),
            Some(_) => "failed*".to_string(),
        };
        println!(
            "{:<12} {:>11} {:>9} {:>10} {:>10} {:>11} {:>11} {:>12} {:>11}",
            name,
            public,
            f.verifier_parts,
            f.verifier_largest_part_bytes,
            f.verifier_runtime_bytes,
            f.verifier_deploy_gas,
            f.verify_gas,
            f.verify_execution_gas,
            fulfill
        );
    }
    for (name, _, _, note) in rows {
        if let Some(note) = note {
            println!("* {name}: the market flow failed: {note}");
        }
    }
}

/// The models `--model` names, in bundle order for `all` or the default.
fn selected(names: &[String]) -> Result<Vec<&'static BundledModel>, String> {
    if names.is_empty() {
        return Ok(bundled::default_bench().collect());
    }
    if names.iter().any(|n| n == "all") {
        return Ok(bundled::ALL.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            bundled::by_name(n).ok_or_else(|| {
                let known: Vec<&str> = bundled::ALL.iter().map(|m| m.name).collect();
                format!(
                    "no bundled model '{n}' (bundled: {}, or all)",
                    known.join(", ")
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Result<Vec<&'static str>, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        selected(&args).map(|v| v.iter().map(|m| m.name).collect())
    }

    #[test]
    fn the_default_is_the_fast_models_and_one_transformer_block() {
        assert_eq!(names(&[]).unwrap(), ["mlp", "mnist_mlp", "gpt2_block"]);
        assert_eq!(names(&["all"]).unwrap().len(), bundled::ALL.len());
        assert_eq!(names(&["bert_tiny", "mlp"]).unwrap(), ["bert_tiny", "mlp"]);
        assert!(names(&["gpt3"]).unwrap_err().contains("gpt2_2layer"));
    }

    #[test]
    fn transformers_quantize_at_20_bits() {
        for m in [
            &bundled::GPT2_BLOCK,
            &bundled::GPT2_2LAYER,
            &bundled::BERT_TINY,
        ] {
            let opts = m.quantize_options();
            assert_eq!(
                (opts.activation_bits, opts.name.as_deref()),
                (20, Some(m.name))
            );
        }
        assert_eq!(bundled::MLP.quantize_options().activation_bits, 16);
    }
}
