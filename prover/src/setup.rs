//! `setup`: from a quantized model and an SRS to a proving and a verifying key.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use halo2_proofs::{
    plonk::{keygen_pk, keygen_vk},
    poly::commitment::Params,
};
use zkinfer_circuits::{plan, Layout, ModelCircuit};
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

/// Rough peak memory of key generation, for the figure printed before it
/// starts: halo2 keeps each fixed and permutation polynomial in coefficient,
/// Lagrange and extended form (extension factor 2^ext_k), 32 bytes a value.
pub fn estimated_memory_bytes(layout: &Layout) -> u64 {
    let n = 1u64 << layout.k;
    let columns = (layout.fixed_columns + layout.advice_columns + layout.lookups * 3 + 2) as u64;
    let ext = 8u64;
    columns * n * 32 * (2 + ext) + 2 * n * 64
}

pub fn setup(model: &QuantizedModel, srs: &Srs, progress: &Progress) -> Result<SetupOutput, ProverError> {
    let layout = plan(model)?;
    if srs.params.k() < layout.k {
        return Err(ProverError::SrsTooSmall { srs_k: srs.params.k(), needed: layout.k });
    }
    let start = Instant::now();
    progress.stage(&format!("downsizing the SRS to k = {}", layout.k));
    let params = if srs.params.k() == layout.k { srs.params.clone() } else { srs.downsized(layout.k).params };
    let circuit = ModelCircuit::for_keygen(Arc::new(model.clone()))?;
    progress.stage("generating the verifying key");
    let vk = keygen_vk(&params, &circuit).map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    progress.stage("generating the proving key");
    let pk = keygen_pk(&params, vk.clone(), &circuit).map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    let header = KeyHeader::new(model, circuit.params(), layout.k, layout.num_instances, &srs.meta, vk_id(&vk));
    Ok(SetupOutput {
        pk: ProvingKeyFile { header: header.clone(), params: params.clone(), pk },
        vk: VerifyingKeyFile { header, params, vk },
        layout,
        elapsed: start.elapsed(),
    })
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
    std::fs::write(&path, serde_json::to_string_pretty(&settings).expect("json") + "\n")
        .map_err(|e| ProverError::Io(path.display().to_string(), e))
}
