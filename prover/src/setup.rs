//! `setup`: from a quantized model and an SRS to a proving and a verifying key.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use halo2_proofs::{
    plonk::{keygen_pk, keygen_vk_custom},
    poly::commitment::Params,
};
use zkinfer_circuits::{plan_visible, Layout, ModelCircuit, Visibility};
use zkinfer_quantizer::QuantizedModel;

use crate::error::ProverError;
use crate::keys::{vk_id, KeyHeader, ProvingKeyFile, VerifyingKeyFile};
use crate::progress::Progress;
use crate::srs::Srs;

pub struct SetupOutput {
    pub pk: ProvingKeyFile,
    pub vk: VerifyingKeyFile,
    pub layout: Layout,
    pub elapsed: Duration,
}

/// Rough peak memory of key generation and proving, for the figure printed
/// before setup starts. halo2 holds each column (fixed, advice, the three
/// polynomials of each lookup, permutation products) in Lagrange and
/// coefficient form and evaluates the quotient on the extended domain (4x for
/// this circuit's degree-5 constraints), 32 bytes a value. Within 2x of the
/// measured peak on the bundled models (see `zkinfer bench`).
pub fn estimated_memory_bytes(layout: &Layout) -> u64 {
    let n = 1u64 << layout.k;
    let columns = (layout.fixed_columns + layout.advice_columns + layout.lookups * 3 + 2) as u64;
    const EXTENSION: u64 = 4;
    columns * n * 32 * (2 + EXTENSION) + 2 * n * 64
}

/// Rough wall-clock seconds of `(setup, prove)` on the 2-core machine the
/// figures in the README come from: proportional to the committed columns
/// times the rows, calibrated on the bundled GPT-2 block (k = 16: setup
/// 5.4 s, prove 13.5 s) and within 2x on the other bundled models. More
/// cores shorten both roughly in proportion.
pub fn estimated_seconds(layout: &Layout) -> (f64, f64) {
    let work = (layout.fixed_columns + layout.advice_columns + layout.lookups * 3) as f64
        * (1u64 << layout.k) as f64;
    const SETUP_PER_CELL: f64 = 1.9e-6;
    const PROVE_PER_CELL: f64 = 4.8e-6;
    (work * SETUP_PER_CELL, work * PROVE_PER_CELL)
}

/// Keys with fixed weights and a public input.
pub fn setup(
    model: &QuantizedModel,
    srs: &Srs,
    progress: &Progress,
) -> Result<SetupOutput, ProverError> {
    setup_visible(model, srs, Visibility::default(), progress)
}

/// Keys with `visibility`. With private weights the keys hold no weight:
/// every model of the same architecture and lane widths gets the same keys.
pub fn setup_visible(
    model: &QuantizedModel,
    srs: &Srs,
    visibility: Visibility,
    progress: &Progress,
) -> Result<SetupOutput, ProverError> {
    let start = Instant::now();
    let (vk, circuit, layout) = verifying_key(model, srs, visibility, progress)?;
    progress.stage("generating the proving key");
    let pk = keygen_pk(&vk.params, vk.vk.clone(), &circuit)
        .map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    Ok(SetupOutput {
        pk: ProvingKeyFile {
            header: vk.header.clone(),
            params: vk.params.clone(),
            pk,
        },
        vk,
        layout,
        elapsed: start.elapsed(),
    })
}

/// The verifying key alone, without the (much larger, slower) proving
/// key: enough to generate and deploy a model's verifier contract.
pub fn setup_vk(model: &QuantizedModel, srs: &Srs) -> Result<VerifyingKeyFile, ProverError> {
    setup_vk_visible(model, srs, Visibility::default())
}

/// [`setup_vk`] with `visibility`.
pub fn setup_vk_visible(
    model: &QuantizedModel,
    srs: &Srs,
    visibility: Visibility,
) -> Result<VerifyingKeyFile, ProverError> {
    verifying_key(model, srs, visibility, &Progress::hidden()).map(|(vk, _, _)| vk)
}

fn verifying_key(
    model: &QuantizedModel,
    srs: &Srs,
    visibility: Visibility,
    progress: &Progress,
) -> Result<(VerifyingKeyFile, ModelCircuit, Layout), ProverError> {
    let mut layout = plan_visible(model, visibility)?;
    if srs.params.k() < layout.k {
        return Err(ProverError::SrsTooSmall {
            srs_k: srs.params.k(),
            needed: layout.k,
        });
    }
    progress.stage(&format!("downsizing the SRS to k = {}", layout.k));
    let params = if srs.params.k() == layout.k {
        srs.params.clone()
    } else {
        srs.downsized(layout.k).params
    };
    let circuit = ModelCircuit::for_keygen_visible(Arc::new(model.clone()), visibility)?;
    progress.stage("generating the verifying key");
    // Compressed selectors: fewer fixed columns, so a smaller vk and EVM verifier.
    let vk = keygen_vk_custom(&params, &circuit, true)
        .map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    // The planner's count is an upper bound; after selector compression the
    // constraint system knows the real number.
    layout.fixed_columns = vk.cs().num_fixed_columns();
    let header = KeyHeader::new(
        model,
        circuit.params(),
        layout.k,
        layout.num_instances,
        &srs.meta,
        vk_id(&vk),
    );
    Ok((VerifyingKeyFile { header, params, vk }, circuit, layout))
}

/// Writes `pk`, `vk` and a human-readable `settings.json` into `dir`.
pub fn write_keys(out: &SetupOutput, dir: &Path) -> Result<(), ProverError> {
    std::fs::create_dir_all(dir).map_err(|e| ProverError::Io(dir.display().to_string(), e))?;
    out.pk.save(&dir.join("pk"))?;
    out.vk.save(&dir.join("vk"))?;
    let settings = serde_json::json!({
        "key": &out.vk.header,
        "layout": {
            "k": out.layout.k,
            "lookup_bits": out.layout.lookup_bits,
            "advice_columns": out.layout.advice_columns,
            "fixed_columns": out.layout.fixed_columns,
            "lookups": out.layout.lookups,
            "rows_used": out.layout.rows_used,
            "num_instances": out.layout.num_instances,
        }
    });
    let path = dir.join("settings.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&settings).expect("json") + "\n",
    )
    .map_err(|e| ProverError::Io(path.display().to_string(), e))
}
