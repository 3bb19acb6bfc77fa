//! The graph compiler proper: walks the model's nodes in order and wires
//! chips together. It owns no constraints of its own beyond the public
//! instance copies; every op is one or two chip calls.
//!
//! Phases: in a circuit with a Freivalds check, every layer is laid out in
//! the first phase, its multi-token linear layers only committing their
//! products ([`crate::chips::freivalds`]); then `next_phase` draws the
//! challenge and the pending checks are laid out. No first-phase cell is
//! assigned after `next_phase`: halo2-axiom's prover has committed those
//! columns by then.
//!
//! Bounds: every activation tensor is a proved signed `B`-bit value. Inputs
//! and the outputs of add/sub/add_const/const_sub are range-checked here;
//! linear/mul/mul_const outputs are bounded by the rescale chip's check; ReLU
//! outputs inherit the bound of their input; Reshape reuses the cells.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::Error;
use halo2curves::bn256::Fr;
use zkinfer_quantizer::{Node, Op, QuantizedModel};

use crate::cell::QCell;
use crate::chips::freivalds::ProductClaim;
use crate::chips::linear::LinearWeights;
use crate::config::ModelConfig;
use crate::linear_layout::{self, LinearLayout};
use crate::rows::{LinearShape, Rows};

/// Lays the whole model out and returns the rows each track used. With
/// `inputs = None` (key generation, measuring) every witness is unknown.
pub(crate) fn lay_out(
    model: &QuantizedModel,
    inputs: Option<&[Vec<i64>]>,
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
) -> Result<Rows, Error> {
    config.range.load_table(layouter)?;
    let mut rows = Rows::default();
    let mut tensors: Vec<Option<Vec<QCell>>> = vec![None; model.tensors.len()];
    let mut pending = Vec::new();
    let mut instance_row = 0;

    for (i, &id) in model.inputs.iter().enumerate() {
        let len = model.tensors[id].len();
        let values: Vec<Value<i128>> = match inputs {
            Some(inputs) => {
                let data = inputs
                    .get(i)
                    .filter(|d| d.len() == len)
                    .ok_or(Error::Synthesis)?;
                data.iter().map(|&v| Value::known(v as i128)).collect()
            }
            None => vec![Value::unknown(); len],
        };
        let cells = load_public_input(config, layouter, &mut rows, &values, instance_row)?;
        instance_row += len;
        config
            .range
            .check_signed(layouter, &mut rows, &cells, config.activation_bits)?;
        tensors[id] = Some(cells);
    }

    for node in &model.nodes {
        let args = node
            .inputs
            .iter()
            .map(|&id| tensors[id].as_deref().ok_or(Error::Synthesis))
            .collect::<Result<Vec<_>, _>>()?;
        let out = lay_out_node(config, layouter, &mut rows, &mut pending, node, &args)?;
        tensors[node.output] = Some(out);
    }

    for &id in &model.outputs {
        for cell in tensors[id].as_deref().ok_or(Error::Synthesis)? {
            layouter.constrain_instance(cell.cell, config.columns.instance, instance_row);
            instance_row += 1;
        }
    }

    if let Some(freivalds) = &config.freivalds {
        layouter.next_phase();
        for claim in &pending {
            freivalds.check(layouter, claim)?;
        }
    }
    Ok(rows)
}

/// One node: the chip calls that compute its output tensor. A linear layer
/// in the Freivalds layout leaves its check in `pending`.
fn lay_out_node<'m>(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    pending: &mut Vec<ProductClaim<'m>>,
    node: &'m Node,
    args: &[&[QCell]],
) -> Result<Vec<QCell>, Error> {
    let (range, ew, bits) = (&config.range, &config.elementwise, config.activation_bits);
    let arg = |k: usize| args.get(k).copied().ok_or(Error::Synthesis);
    let checked =
        |layouter: &mut _, rows: &mut Rows, out: Vec<QCell>| -> Result<Vec<QCell>, Error> {
            range.check_signed(layouter, rows, &out, bits)?;
            Ok(out)
        };
    match &node.op {
        Op::Linear {
            in_features,
            out_features,
            weight,
            bias,
        } => {
            let weights = LinearWeights {
                in_features: *in_features,
                out_features: *out_features,
                weight,
                bias: bias.as_deref(),
            };
            let x = arg(0)?;
            let shape = LinearShape {
                tokens: x.len() / in_features.max(&1),
                in_features: *in_features,
                out_features: *out_features,
            };
            let layout =
                linear_layout::choose(shape, config.linear.lanes(), config.freivalds_lanes());
            let acc = match (layout, &config.freivalds) {
                (LinearLayout::Freivalds, Some(freivalds)) => {
                    let (acc, claim) = freivalds.commit_products(layouter, rows, x, &weights)?;
                    pending.push(claim);
                    acc
                }
                _ => config.linear.linear(layouter, rows, x, &weights)?,
            };
            config.rescale.rescale(layouter, rows, range, &acc)
        }
        Op::Add => {
            let out = ew.add(layouter, rows, arg(0)?, arg(1)?)?;
            checked(layouter, rows, out)
        }
        Op::Sub => {
            let out = ew.sub(layouter, rows, arg(0)?, arg(1)?)?;
            checked(layouter, rows, out)
        }
        Op::AddConst { constant } => {
            let out = ew.add_const(layouter, rows, arg(0)?, constant)?;
            checked(layouter, rows, out)
        }
        Op::ConstSub { constant } => {
            let out = ew.const_sub(layouter, rows, arg(0)?, constant)?;
            checked(layouter, rows, out)
        }
        Op::Mul => {
            let product = ew.mul(layouter, rows, arg(0)?, arg(1)?)?;
            config.rescale.rescale(layouter, rows, range, &product)
        }
        Op::MulConst { constant } => {
            let product = ew.mul_const(layouter, rows, arg(0)?, constant)?;
            config.rescale.rescale(layouter, rows, range, &product)
        }
        Op::Relu => config.relu.relu(layouter, rows, range, arg(0)?),
        Op::Reshape => Ok(arg(0)?.to_vec()),
        // `plan` rejects the ops the compiler cannot lay out yet.
        _ => Err(Error::Synthesis),
    }
}

/// Public inputs: fresh advice cells tied to the instance column by copy
/// constraints. (The caller range-checks them: an unchecked input could be
/// any field element.)
fn load_public_input(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    values: &[Value<i128>],
    first_instance_row: usize,
) -> Result<Vec<QCell>, Error> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let column = config.columns.gate()[0];
    let start = rows.take_gate(values.len());
    let cells = layouter.assign_region(
        || "public input",
        |mut region| {
            Ok(values
                .iter()
                .enumerate()
                .map(|(i, &v)| QCell::assign(&mut region, column, start + i, v))
                .collect::<Vec<_>>())
        },
    )?;
    for (i, cell) in cells.iter().enumerate() {
        layouter.constrain_instance(cell.cell, config.columns.instance, first_instance_row + i);
    }
    Ok(cells)
}
