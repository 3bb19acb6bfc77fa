//! Proving and verifying keys on disk.
//!
//! Both files are self-contained so the CLI needs nothing else: the pk carries
//! the SRS it was made with (the prover needs all of it), and the vk carries
//! only what KZG verification reads (the first G1 power, the Lagrange basis
//! used to commit to public instances, and the two G2 points). The JSON header
//! records the model id, the circuit parameters the constraint system is
//! rebuilt from, and the SRS provenance, so `verify` can say *why* a vk and a
//! proof do not belong together before doing any cryptography.

use std::io::Cursor;
use std::path::Path;

use halo2_proofs::{
    plonk::{ProvingKey, VerifyingKey},
    poly::{commitment::Params, kzg::commitment::ParamsKZG},
    SerdeFormat,
};
use halo2curves::bn256::{Bn256, G1Affine};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkinfer_circuits::public::PublicLayout;
use zkinfer_circuits::{CircuitParams, ModelCircuit};
use zkinfer_quantizer::QuantizedModel;

use crate::container::{self, Kind};
use crate::error::ProverError;

pub const PK_KIND: Kind = Kind {
    magic: "ZKINFER-PK v1",
    what: "zkinfer proving key",
};
pub const VK_KIND: Kind = Kind {
    magic: "ZKINFER-VK v1",
    what: "zkinfer verifying key",
};

const G1_RAW: usize = 64;
const G2_RAW: usize = 128;

/// A tensor's name and shape, as recorded in key headers and proof files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorMeta {
    pub name: String,
    pub shape: Vec<usize>,
}

/// Everything about a key pair that is not the key itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyHeader {
    pub zkinfer_version: String,
    pub model_id: String,
    pub model_name: String,
    pub circuit: CircuitParams,
    pub k: u32,
    pub num_instances: usize,
    pub inputs: Vec<TensorMeta>,
    pub outputs: Vec<TensorMeta>,
    pub scale_bits: u32,
    pub srs_origin: String,
    pub srs_insecure: bool,
    /// SHA-256 of the serialized verifying key: the circuit's identity,
    /// weights included when they are fixed columns.
    pub vk_id: String,
}

/// How a model is named in key headers and proof files: the SHA-256 of its
/// `.zkq` with fixed weights (the key holds them), the model commitment
/// (0x-hex) with private weights (the key holds none; the proof carries
/// the commitment).
pub fn model_identity(model: &QuantizedModel, circuit: &CircuitParams) -> String {
    if circuit.private_weights() {
        fr_to_hex(&zkinfer_circuits::commitment::model_commitment(model))
    } else {
        model.id()
    }
}

/// A field element as 0x-hex, big-endian: how commitments are printed.
pub fn fr_to_hex(x: &halo2curves::bn256::Fr) -> String {
    format!("0x{}", hex::encode(fr_to_be_bytes(x)))
}

/// A field element as 32 big-endian bytes: how a contract reads it.
pub fn fr_to_be_bytes(x: &halo2curves::bn256::Fr) -> [u8; 32] {
    use halo2curves::ff::PrimeField;
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(x.to_repr().as_ref());
    bytes.reverse();
    bytes
}

/// The inverse of [`fr_to_hex`]; `what` names the value in the error.
pub fn fr_from_hex(s: &str, what: &str) -> Result<halo2curves::bn256::Fr, ProverError> {
    use halo2curves::ff::PrimeField;
    let bad = |why: &str| ProverError::BadInput(format!("{what} '{s}' {why}"));
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty() || digits.len() > 64 {
        return Err(bad("is not a 0x-hex value of at most 32 bytes"));
    }
    let mut bytes = hex::decode(format!("{digits:0>64}")).map_err(|_| bad("is not hex"))?;
    bytes.reverse();
    let mut repr = [0u8; 32];
    repr.copy_from_slice(&bytes);
    Option::from(halo2curves::bn256::Fr::from_repr(repr))
        .ok_or_else(|| bad("is not below the BN254 scalar field modulus"))
}

impl KeyHeader {
    pub fn new(
        model: &QuantizedModel,
        circuit: CircuitParams,
        k: u32,
        num_instances: usize,
        srs: &crate::srs::SrsMeta,
        vk_id: String,
    ) -> Self {
        let meta = |ids: &[usize]| {
            ids.iter()
                .map(|&i| TensorMeta {
                    name: model.tensors[i].name.clone(),
                    shape: model.tensors[i].shape.clone(),
                })
                .collect()
        };
        KeyHeader {
            zkinfer_version: env!("CARGO_PKG_VERSION").to_string(),
            model_id: model_identity(model, &circuit),
            model_name: model.name.clone(),
            circuit,
            k,
            num_instances,
            inputs: meta(&model.inputs),
            outputs: meta(&model.outputs),
            scale_bits: model.scale_bits,
            srs_origin: srs.origin.clone(),
            srs_insecure: srs.insecure,
            vk_id,
        }
    }

    pub fn num_input_values(&self) -> usize {
        values(&self.inputs)
    }

    pub fn num_output_values(&self) -> usize {
        values(&self.outputs)
    }

    /// Where the public values sit among the instances.
    pub fn public_layout(&self) -> PublicLayout {
        PublicLayout::new(
            &self.circuit,
            self.num_input_values(),
            self.num_output_values(),
        )
    }
}

fn values(tensors: &[TensorMeta]) -> usize {
    tensors
        .iter()
        .map(|t| t.shape.iter().product::<usize>())
        .sum()
}

pub fn vk_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    let mut out = Vec::new();
    vk.write(&mut out, SerdeFormat::RawBytes)
        .expect("writing to a Vec cannot fail");
    out
}

pub fn vk_id(vk: &VerifyingKey<G1Affine>) -> String {
    hex::encode(Sha256::digest(vk_bytes(vk)))
}

pub struct ProvingKeyFile {
    pub header: KeyHeader,
    pub params: ParamsKZG<Bn256>,
    pub pk: ProvingKey<G1Affine>,
}

pub struct VerifyingKeyFile {
    pub header: KeyHeader,
    pub params: ParamsKZG<Bn256>,
    pub vk: VerifyingKey<G1Affine>,
}

fn params_bytes(params: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut out = Vec::new();
    params
        .write_custom(&mut out, SerdeFormat::RawBytes)
        .expect("writing to a Vec cannot fail");
    out
}

/// Length-prefixed concatenation of two byte strings.
fn pack(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = (a.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

fn unpack<'a>(body: &'a [u8], path: &Path) -> Result<(&'a [u8], &'a [u8]), ProverError> {
    let corrupt = || ProverError::BadKey(format!("{}: corrupt key body", path.display()));
    let len = u64::from_le_bytes(body.get(..8).ok_or_else(corrupt)?.try_into().unwrap()) as usize;
    let rest = &body[8..];
    if len > rest.len() {
        return Err(corrupt());
    }
    Ok(rest.split_at(len))
}

/// The parts of a `ParamsKZG` serialization that verification reads:
/// `k || g[0] || g_lagrange || g2 || s_g2` (raw bytes).
fn verifier_params_bytes(params: &ParamsKZG<Bn256>) -> Vec<u8> {
    let full = params_bytes(params);
    let n = params.n() as usize;
    let g_start = 4;
    let lagrange_start = g_start + n * G1_RAW;
    let mut out = full[..4].to_vec();
    out.extend_from_slice(&full[g_start..g_start + G1_RAW]);
    out.extend_from_slice(&full[lagrange_start..]);
    out
}

/// Inverse of [`verifier_params_bytes`]. The monomial basis is filled with
/// copies of `g[0]`: the KZG verifier never reads past `g[0]`.
fn verifier_params_from_bytes(bytes: &[u8], path: &Path) -> Result<ParamsKZG<Bn256>, ProverError> {
    let corrupt =
        |why: &str| ProverError::BadKey(format!("{}: verifier SRS section {why}", path.display()));
    if bytes.len() < 4 {
        return Err(corrupt("is truncated"));
    }
    let k = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    if k > 28 {
        return Err(corrupt("has an impossible size"));
    }
    let n = 1usize << k;
    if bytes.len() != 4 + G1_RAW + n * G1_RAW + 2 * G2_RAW {
        return Err(corrupt("has the wrong length"));
    }
    let g0 = &bytes[4..4 + G1_RAW];
    let mut full = Vec::with_capacity(4 + 2 * n * G1_RAW + 2 * G2_RAW);
    full.extend_from_slice(&bytes[..4]);
    for _ in 0..n {
        full.extend_from_slice(g0);
    }
    full.extend_from_slice(&bytes[4 + G1_RAW..]);
    ParamsKZG::<Bn256>::read_custom(&mut Cursor::new(full), SerdeFormat::RawBytes)
        .map_err(|e| corrupt(&format!("is invalid: {e}")))
}

impl ProvingKeyFile {
    pub fn save(&self, path: &Path) -> Result<(), ProverError> {
        let mut pk = Vec::new();
        self.pk
            .write(&mut pk, SerdeFormat::RawBytes)
            .expect("writing to a Vec cannot fail");
        container::write(
            path,
            &PK_KIND,
            &self.header,
            &pack(&params_bytes(&self.params), &pk),
        )?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self, ProverError> {
        let (header, body): (KeyHeader, _) = container::read(path, &PK_KIND)?;
        let (params, pk) = unpack(&body, path)?;
        let params = ParamsKZG::<Bn256>::read_custom(
            &mut Cursor::new(params),
            SerdeFormat::RawBytesUnchecked,
        )
        .map_err(|e| ProverError::BadKey(format!("{}: SRS section: {e}", path.display())))?;
        let pk = ProvingKey::<G1Affine>::read::<_, ModelCircuit>(
            &mut Cursor::new(pk),
            SerdeFormat::RawBytesUnchecked,
            header.circuit.clone(),
        )
        .map_err(|e| ProverError::BadKey(format!("{}: proving key: {e}", path.display())))?;
        Ok(ProvingKeyFile { header, params, pk })
    }
}

impl VerifyingKeyFile {
    pub fn save(&self, path: &Path) -> Result<(), ProverError> {
        let body = pack(&verifier_params_bytes(&self.params), &vk_bytes(&self.vk));
        container::write(path, &VK_KIND, &self.header, &body)?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self, ProverError> {
        let (header, body): (KeyHeader, _) = container::read(path, &VK_KIND)?;
        let (params, vk) = unpack(&body, path)?;
        let params = verifier_params_from_bytes(params, path)?;
        let vk = VerifyingKey::<G1Affine>::read::<_, ModelCircuit>(
            &mut Cursor::new(vk),
            SerdeFormat::RawBytes,
            header.circuit.clone(),
        )
        .map_err(|e| ProverError::BadKey(format!("{}: verifying key: {e}", path.display())))?;
        if vk_id(&vk) != header.vk_id {
            return Err(ProverError::BadKey(format!(
                "{}: the key does not match its header's vk_id",
                path.display()
            )));
        }
        Ok(VerifyingKeyFile { header, params, vk })
    }
}

impl ProvingKeyFile {
    pub fn verifier_view(&self) -> crate::verify::VerifierView<'_> {
        crate::verify::VerifierView {
            header: &self.header,
            params: &self.params,
            vk: self.pk.get_vk(),
        }
    }
}

impl VerifyingKeyFile {
    pub fn view(&self) -> crate::verify::VerifierView<'_> {
        crate::verify::VerifierView {
            header: &self.header,
            params: &self.params,
            vk: &self.vk,
        }
    }
}
