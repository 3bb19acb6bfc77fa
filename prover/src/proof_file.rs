//! The proof file: JSON a person can read and a contract call can be built from.
//!
//! `proof` is the EVM-transcript SHPLONK proof as 0x-hex; `instances` are the
//! public instances as decimal field elements, exactly as the verifier
//! receives them: the model's input values then its output values, packed
//! `lane_bits` wide several to an instance ([`zkinfer_circuits::public`]; 0,
//! in files written before packing: one value per instance). `output` is the
//! dequantized output, for people; the verifier never reads it.

use std::path::Path;

use halo2curves::{bn256::Fr, ff::PrimeField};
use num_bigint::BigUint;
use serde::{Deserialize, Serialize};

use zkinfer_circuits::public::{PublicLayout, PublicValues};
use zkinfer_circuits::{InputVisibility, WeightVisibility};

use crate::error::ProverError;

pub const PROOF_FORMAT: &str = "zkinfer-proof/v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProofFile {
    pub format: String,
    pub zkinfer_version: String,
    pub model_id: String,
    pub vk_id: String,
    /// "kzg-bn254-shplonk, keccak256 evm transcript"
    pub scheme: String,
    pub insecure_srs: bool,
    pub proof: String,
    pub instances: Vec<String>,
    /// Input and output *values* (not instances).
    pub num_inputs: usize,
    pub num_outputs: usize,
    #[serde(default)]
    pub lane_bits: u32,
    /// Fixed: `model_id` is the SHA-256 of the .zkq and the vk holds the
    /// weights. Private: the first instance is the model commitment, which
    /// `model_id` repeats as 0x-hex.
    #[serde(default)]
    pub weights: WeightVisibility,
    /// Hashed: the input instance is the input commitment.
    #[serde(default)]
    pub input_visibility: InputVisibility,
    /// Dequantized outputs, one flat vector per model output.
    pub output: Vec<Vec<f64>>,
}

pub fn fr_to_decimal(x: &Fr) -> String {
    BigUint::from_bytes_le(x.to_repr().as_ref()).to_string()
}

pub fn fr_from_decimal(s: &str) -> Result<Fr, ProverError> {
    let bad = |why: &str| ProverError::BadProofFile(format!("instance '{s}' {why}"));
    let n: BigUint = s.parse().map_err(|_| bad("is not a decimal number"))?;
    let bytes = n.to_bytes_le();
    if bytes.len() > 32 {
        return Err(bad("is larger than the BN254 scalar field"));
    }
    let mut repr = [0u8; 32];
    repr[..bytes.len()].copy_from_slice(&bytes);
    Option::from(Fr::from_repr(repr))
        .ok_or_else(|| bad("is not below the BN254 scalar field modulus"))
}

impl ProofFile {
    pub fn proof_bytes(&self) -> Result<Vec<u8>, ProverError> {
        let h = self.proof.strip_prefix("0x").unwrap_or(&self.proof);
        hex::decode(h)
            .map_err(|e| ProverError::BadProofFile(format!("proof is not valid hex: {e}")))
    }

    pub fn instance_values(&self) -> Result<Vec<Fr>, ProverError> {
        self.instances.iter().map(|s| fr_from_decimal(s)).collect()
    }

    /// Where the values sit among the instances.
    pub fn public_layout(&self) -> PublicLayout {
        PublicLayout {
            lane_bits: self.lane_bits,
            num_inputs: self.num_inputs,
            num_outputs: self.num_outputs,
            model_commitment: self.weights == WeightVisibility::Private,
            hashed_input: self.input_visibility == InputVisibility::Hashed,
        }
    }

    /// What the instances carry: commitments, input and output values.
    pub fn public_values(&self) -> Result<PublicValues, ProverError> {
        (self.public_layout().unpack(&self.instance_values()?))
            .map_err(|e| ProverError::BadProofFile(e.to_string()))
    }

    /// The instances that carry the inputs (their words or their
    /// commitment): what a request commits to.
    pub fn input_instances(&self) -> Result<Vec<Fr>, ProverError> {
        let all = self.instance_values()?;
        Ok(all
            .get(self.public_layout().input_range())
            .unwrap_or_default()
            .to_vec())
    }

    /// The instances that carry the outputs.
    pub fn output_instances(&self) -> Result<Vec<Fr>, ProverError> {
        let all = self.instance_values()?;
        Ok(all[self.public_layout().output_start().min(all.len())..].to_vec())
    }

    /// The model commitment the proof carries (private weights only).
    pub fn model_commitment(&self) -> Result<Option<Fr>, ProverError> {
        if self.weights != WeightVisibility::Private {
            return Ok(None);
        }
        let all = self.instance_values()?;
        all.first()
            .copied()
            .map(Some)
            .ok_or_else(|| ProverError::BadProofFile("no instances, so no model commitment".into()))
    }

    pub fn save(&self, path: &Path) -> Result<(), ProverError> {
        let json = serde_json::to_string_pretty(self).expect("proof files always serialize");
        std::fs::write(path, json + "\n")
            .map_err(|e| ProverError::Io(path.display().to_string(), e))
    }

    pub fn load(path: &Path) -> Result<Self, ProverError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProverError::Io(path.display().to_string(), e))?;
        let file: ProofFile = serde_json::from_str(&text)
            .map_err(|e| ProverError::BadProofFile(format!("{}: {e}", path.display())))?;
        if file.format != PROOF_FORMAT {
            return Err(ProverError::BadProofFile(format!(
                "{}: format '{}' is not '{PROOF_FORMAT}'",
                path.display(),
                file.format
            )));
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trip_and_rejects_values_outside_the_field() {
        for x in [Fr::from(0), Fr::from(12345), -Fr::from(7)] {
            assert_eq!(fr_from_decimal(&fr_to_decimal(&x)).unwrap(), x);
        }
        // p itself is not a canonical field element.
        let p = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
        assert!(fr_from_decimal(p).is_err());
        assert!(fr_from_decimal("12a").is_err());
        assert!(fr_from_decimal(&"9".repeat(100)).is_err());
    }
}
