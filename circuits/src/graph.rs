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
//! linear/matmul/mul/mul_const outputs are bounded by the rescale chip's
//! check; ReLU outputs inherit the bound of their input; pointwise, softmax,
//! layer-norm and gather outputs are bounded by their chips (see each
//! chip's soundness notes). Token ids are not checked as activations: the
//! gather chip proves `0 ≤ id < vocab` for each.
//!
//! Wiring ops (reshape, transpose, slice, concat) create no cells: the
//! output tensor is the input cells rearranged, so the next chip's copy
//! constraints tie straight to the original cells.
//!
//! Lookup tables: every pointwise table, softmax exp table and embedding
//! of the model is loaded once into the pointwise chip's table columns
//! (identical tables once), before any node is laid out.
//!
//! Private weights: before any node, every parameter is assigned as advice
//! in the lanes of its commitment words, range-checked and hashed
//! ([`load_private_weights`]); each op then computes with copies of those
//! cells instead of fixed coefficients, and an embedding becomes an advice
//! table ([`crate::chips::private_gather`]).

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::Error;
use halo2curves::bn256::Fr;
use zkinfer_quantizer::wiring::{concat, slice, transpose};
use zkinfer_quantizer::{Node, Op, QuantizedModel};

use crate::cell::{FieldCell, QCell};
use crate::chips::elementwise::{Coeffs, Term};
use crate::chips::freivalds::ProductClaim;
use crate::chips::linear::LinearWeights;
use crate::chips::pointwise::{LoadedTable, LookupTable};
use crate::chips::private_gather::{PrivateGatherChip, PrivateTable};
use crate::chips::softmax::Mask;
use crate::commitment::{input_iv, model_iv, ModelParameters};
use crate::config::{ModelConfig, PrivateWeightChips};
use crate::linear_layout::{self, LinearLayout};
use crate::rows::{LinearShape, Rows};

/// Lays the whole model out and returns the rows each track used. With
/// `inputs = None` (key generation, measuring) every witness is unknown.
pub(crate) fn lay_out(
    model: &QuantizedModel,
    inputs: Option<&[Vec<i64>]>,
    salt: Value<Fr>,
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
) -> Result<Rows, Error> {
    config.range.load_table(layouter)?;
    let node_tables = match &config.nonlinear {
        Some(chips) => {
            let (tables, index) = model_tables(model, config.private.is_none());
            let loaded = chips.pointwise.load_tables(layouter, &tables)?;
            index
                .into_iter()
                .map(|i| i.map(|i| loaded[i].clone()))
                .collect()
        }
        None => vec![None; model.nodes.len()],
    };
    let token_ids = model.token_id_tensors();
    let mut rows = Rows::with_range_lanes(config.range.lanes());
    let private = match &config.private {
        Some(chips) => Some(load_private_weights(
            config, chips, model, layouter, &mut rows,
        )?),
        None => None,
    };
    let mut tensors: Vec<Option<Vec<QCell>>> = vec![None; model.tensors.len()];
    let mut pending = Vec::new();
    let mut instance_row = 0;
    let mut public_inputs = Vec::new();

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
        let cells = match config.pack {
            Some(_) => load_input(config, layouter, &mut rows, &values)?,
            None => load_public_input(config, layouter, &mut rows, &values, instance_row)?,
        };
        instance_row += len;
        // Packing needs every lane bounded, token ids included (the
        // embedding lookup bounds them by the vocabulary, not by B bits).
        if !token_ids[id] || config.pack.is_some() {
            config
                .range
                .check_signed(layouter, &mut rows, &cells, config.activation_bits)?;
        }
        public_inputs.extend(cells.iter().copied());
        tensors[id] = Some(cells);
    }

    for (i, (node, table)) in model.nodes.iter().zip(&node_tables).enumerate() {
        let args = node
            .inputs
            .iter()
            .map(|&id| tensors[id].as_deref().ok_or(Error::Synthesis))
            .collect::<Result<Vec<_>, _>>()?;
        let ctx = NodeCtx {
            model,
            node,
            table: table.as_ref(),
            private: private.as_ref().map(|p| p.of_node(i)),
        };
        let out = lay_out_node(config, layouter, &mut rows, &mut pending, &ctx, &args)?;
        tensors[node.output] = Some(out);
    }

    let mut outputs = Vec::new();
    for &id in &model.outputs {
        outputs.extend_from_slice(tensors[id].as_deref().ok_or(Error::Synthesis)?);
    }
    if let Some(p) = &private {
        layouter.constrain_instance(p.commitment.cell, config.columns.instance, 0);
    }
    publish(config, layouter, &mut rows, &public_inputs, salt, &outputs)?;

    if let Some(freivalds) = &config.freivalds {
        layouter.next_phase();
        for claim in &pending {
            freivalds.check(layouter, claim)?;
        }
    }
    Ok(rows)
}

/// The lookup tables of `model`, each distinct table once, and for each node
/// the index of its table (pointwise, softmax's exp, gather's embedding).
/// Embedding tables are among them only with `embeddings` (fixed weights).
pub(crate) fn model_tables(
    model: &QuantizedModel,
    embeddings: bool,
) -> (Vec<LookupTable>, Vec<Option<usize>>) {
    let mut tables: Vec<LookupTable> = Vec::new();
    let index = model
        .nodes
        .iter()
        .map(|node| {
            let table = match &node.op {
                Op::Pointwise { table } => LookupTable::from(table),
                Op::Softmax { exp, .. } => LookupTable::from(exp),
                Op::Gather { table, .. } if embeddings => LookupTable::embedding(table),
                _ => return None,
            };
            Some(match tables.iter().position(|t| *t == table) {
                Some(i) => i,
                None => {
                    tables.push(table);
                    tables.len() - 1
                }
            })
        })
        .collect();
    (tables, index)
}

/// What one node's layout reads besides its input cells.
struct NodeCtx<'m> {
    model: &'m QuantizedModel,
    node: &'m Node,
    /// The node's loaded lookup table, if it has one.
    table: Option<&'m LoadedTable>,
    /// With private weights: the node's parameter cells.
    private: Option<NodeParameters<'m>>,
}

impl NodeCtx<'_> {
    fn input_shape(&self, k: usize) -> Result<&[usize], Error> {
        let id = *self.node.inputs.get(k).ok_or(Error::Synthesis)?;
        Ok(&self.model.tensors[id].shape)
    }
}

/// One node: the chip calls that compute its output tensor. A linear layer
/// in the Freivalds layout, and every product of two activations, leaves
/// its check in `pending`.
fn lay_out_node<'m>(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    pending: &mut Vec<ProductClaim<'m>>,
    ctx: &NodeCtx<'m>,
    args: &[&[QCell]],
) -> Result<Vec<QCell>, Error> {
    let node = ctx.node;
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
            if let Some(p) = &ctx.private {
                let acc =
                    private_linear(config, layouter, rows, pending, p, x, shape, bias.is_some())?;
                return config.rescale.rescale(layouter, rows, range, &acc);
            }
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
            let out = match &ctx.private {
                Some(p) => ew.add(layouter, rows, arg(0)?, p.weights(0, constant.len())?)?,
                None => ew.add_const(layouter, rows, arg(0)?, constant)?,
            };
            checked(layouter, rows, out)
        }
        Op::ConstSub { constant } => {
            let out = match &ctx.private {
                Some(p) => ew.sub(layouter, rows, p.weights(0, constant.len())?, arg(0)?)?,
                None => ew.const_sub(layouter, rows, arg(0)?, constant)?,
            };
            checked(layouter, rows, out)
        }
        Op::Mul => {
            let product = ew.mul(layouter, rows, arg(0)?, arg(1)?)?;
            config.rescale.rescale(layouter, rows, range, &product)
        }
        Op::MulConst { constant } => {
            let product = match &ctx.private {
                Some(p) => ew.mul(layouter, rows, arg(0)?, p.weights(0, constant.len())?)?,
                None => ew.mul_const(layouter, rows, arg(0)?, constant)?,
            };
            config.rescale.rescale(layouter, rows, range, &product)
        }
        Op::Relu => config.relu.relu(layouter, rows, range, arg(0)?),
        Op::Reshape => Ok(arg(0)?.to_vec()),
        Op::Transpose { perm } => Ok(transpose(arg(0)?, ctx.input_shape(0)?, perm)),
        Op::Slice { axis, start, end } => {
            Ok(slice(arg(0)?, ctx.input_shape(0)?, *axis, *start, *end))
        }
        Op::Concat { axis } => {
            let shapes = (0..args.len())
                .map(|k| ctx.input_shape(k).map(<[usize]>::to_vec))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(concat(args, &shapes, *axis))
        }
        Op::MatMul { m, k, n } => {
            let freivalds = config.freivalds.as_ref().ok_or(Error::Synthesis)?;
            let (a, b) = (arg(0)?, arg(1)?);
            let (m, k, n) = (*m, *k, *n);
            let batch = a.len() / (m * k).max(1);
            if a.len() != batch * m * k || b.len() != batch * k * n {
                return Err(Error::Synthesis);
            }
            let mut out = Vec::with_capacity(batch * m * n);
            for i in 0..batch {
                let a = &a[i * m * k..(i + 1) * m * k];
                let b = &b[i * k * n..(i + 1) * k * n];
                let (products, claim) = freivalds.commit_matmul(layouter, rows, a, b, k, n)?;
                pending.push(claim);
                out.extend(config.rescale.rescale(layouter, rows, range, &products)?);
            }
            Ok(out)
        }
        Op::Pointwise { .. } | Op::Softmax { .. } | Op::LayerNorm { .. } | Op::Gather { .. } => {
            let chips = config.nonlinear.as_ref().ok_or(Error::Synthesis)?;
            let table = || ctx.table.ok_or(Error::Synthesis);
            let x = arg(0)?;
            match &node.op {
                Op::Pointwise { .. } => {
                    chips
                        .pointwise
                        .apply(layouter, rows, range, table()?, x, bits)
                }
                Op::Softmax { causal, .. } => {
                    let row_len = *ctx.input_shape(0)?.last().ok_or(Error::Synthesis)?;
                    let mask = if *causal { Mask::Causal } else { Mask::None };
                    chips
                        .softmax
                        .softmax(layouter, rows, range, table()?, x, row_len, mask)
                }
                Op::LayerNorm { gamma, beta, eps } => {
                    let cells = match &ctx.private {
                        Some(p) => {
                            let n = gamma.len();
                            Some((p.weights(0, n)?, p.weights(n, n)?))
                        }
                        None => None,
                    };
                    chips
                        .layernorm
                        .layernorm(layouter, rows, range, x, gamma, beta, *eps, cells)
                }
                Op::Gather { vocab, dim, .. } if ctx.private.is_some() => {
                    let p = ctx.private.as_ref().ok_or(Error::Synthesis)?;
                    let (chip, table) = p.table.ok_or(Error::Synthesis)?;
                    let values = p.weights(0, vocab * dim)?;
                    let out = chips.gather.gather_private(
                        layouter, rows, range, chip, &table, values, x, *vocab, *dim,
                    )?;
                    checked(layouter, rows, out)
                }
                Op::Gather { vocab, dim, .. } => {
                    chips
                        .gather
                        .gather(layouter, rows, range, table()?, x, *vocab, *dim)
                }
                _ => Err(Error::Synthesis),
            }
        }
    }
}

/// Ties the public values to the instance column: packed, the words of the
/// inputs then of the outputs; unpacked, the outputs after the inputs (which
/// [`load_public_input`] tied already).
fn publish(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    inputs: &[QCell],
    salt: Value<Fr>,
    outputs: &[QCell],
) -> Result<(), Error> {
    let instance = config.columns.instance;
    let Some(pack) = &config.pack else {
        for (i, cell) in outputs.iter().enumerate() {
            layouter.constrain_instance(cell.cell, instance, inputs.len() + i);
        }
        return Ok(());
    };
    // Outputs are activations, but the pack chip's soundness must not rest
    // on every op bounding its own result.
    (config.range).check_signed(layouter, rows, outputs, config.activation_bits)?;
    let mut words = pack.pack(layouter, rows, &config.elementwise, inputs)?;
    if let Some(poseidon) = config.poseidon.as_ref().filter(|_| config.hashed_input) {
        let iv = input_iv(pack.lane_bits(), words.len());
        // The salt is a free witness: it only has to be the requester's for
        // the digest to match the request, and it hides the input.
        let salt = load_field(config, layouter, rows, salt)?;
        let message: Vec<FieldCell> = std::iter::once(salt).chain(words).collect();
        words = vec![poseidon.hash(layouter, rows, iv, &message)?];
    }
    words.extend(pack.pack(layouter, rows, &config.elementwise, outputs)?);
    // After the model commitment, when there is one.
    let first = usize::from(config.private.is_some());
    for (row, word) in words.into_iter().enumerate() {
        layouter.constrain_instance(word.cell, instance, first + row);
    }
    Ok(())
}

/// A private-weights circuit's parameter cells ([`ModelParameters`]'s two
/// groups, in its order) and the model commitment they hash to.
struct PrivateWeights {
    weights: Vec<QCell>,
    biases: Vec<QCell>,
    offsets: Vec<(usize, usize)>,
    /// A proved 1: the extra input column that carries a linear layer's bias.
    one: Option<QCell>,
    /// Each gather node's embedding table.
    tables: Vec<Option<PrivateTable>>,
    gather: Option<PrivateGatherChip>,
    commitment: FieldCell,
}

/// One node's view of [`PrivateWeights`].
struct NodeParameters<'p> {
    weights: &'p [QCell],
    biases: &'p [QCell],
    one: Option<QCell>,
    /// A gather node's embedding, loaded as an advice table.
    table: Option<(&'p PrivateGatherChip, PrivateTable)>,
}

impl PrivateWeights {
    fn of_node(&self, node: usize) -> NodeParameters<'_> {
        let (w, b) = self.offsets[node];
        NodeParameters {
            weights: &self.weights[w..],
            biases: &self.biases[b..],
            one: self.one,
            table: self.gather.as_ref().zip(self.tables[node]),
        }
    }
}

impl NodeParameters<'_> {
    /// `len` weight cells from the node's `start`-th.
    fn weights(&self, start: usize, len: usize) -> Result<&[QCell], Error> {
        self.weights.get(start..start + len).ok_or(Error::Synthesis)
    }
}

/// Assigns every parameter of `model` as advice, range-checks each to its
/// group's lane width, packs the groups and hashes the words into the model
/// commitment ([`crate::commitment`]). The chips then copy these cells, so
/// the weights they compute with are the committed ones.
fn load_private_weights(
    config: &ModelConfig,
    chips: &PrivateWeightChips,
    model: &QuantizedModel,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
) -> Result<PrivateWeights, Error> {
    let poseidon = config.poseidon.as_ref().ok_or(Error::Synthesis)?;
    let params = ModelParameters::of(model);
    let known = |values: &[i64]| -> Vec<Value<i128>> {
        values.iter().map(|&v| Value::known(v as i128)).collect()
    };
    let ew = &config.elementwise;
    // Any cell serves as the operand the pack chip's constant rows ignore.
    let anchor = load_input(config, layouter, rows, &[Value::known(0)])?[0];
    let (mut words, weights) =
        (chips.weights).pack_fresh(layouter, rows, ew, &anchor, &known(&params.weights))?;
    // Fresh lanes: each must be a signed lane-width value, or another split
    // of a word into lanes would reach the same word.
    config
        .range
        .check_signed(layouter, rows, &weights, chips.weight_bits)?;
    let biases = match &chips.biases {
        Some(pack) => {
            let (bias_words, biases) =
                pack.pack_fresh(layouter, rows, ew, &anchor, &known(&params.biases))?;
            config
                .range
                .check_signed(layouter, rows, &biases, chips.bias_bits)?;
            words.extend(bias_words);
            biases
        }
        None if params.biases.is_empty() => Vec::new(),
        None => return Err(Error::Synthesis),
    };
    let iv = model_iv(chips.weight_bits, chips.bias_bits, words.len());
    let commitment = poseidon.hash(layouter, rows, iv, &words)?;
    let one = match weights.first() {
        Some(any) if !biases.is_empty() => Some(
            ew.apply(
                layouter,
                rows,
                &[Term {
                    a: any,
                    b: None,
                    coeffs: Coeffs {
                        constant: 1,
                        ..Coeffs::default()
                    },
                }],
            )?[0],
        ),
        _ => None,
    };
    let mut tables = vec![None; model.nodes.len()];
    for (i, node) in model.nodes.iter().enumerate() {
        if let Op::Gather { vocab, dim, .. } = node.op {
            let chip = chips.gather.as_ref().ok_or(Error::Synthesis)?;
            let start = params.offsets[i].0;
            let values = weights
                .get(start..start + vocab * dim)
                .ok_or(Error::Synthesis)?;
            tables[i] = Some(chip.load_table(layouter, rows, i, values)?);
        }
    }
    Ok(PrivateWeights {
        weights,
        biases,
        offsets: params.offsets,
        one,
        tables,
        gather: chips.gather.clone(),
        commitment,
    })
}

/// A linear layer over private weights: Freivalds' check with the weights as
/// a right factor of advice cells ([`crate::chips::freivalds`]'s product of
/// activations). A bias becomes one more row of the right factor against a
/// proved 1 appended to every token, `[x | 1]·[W; b] = x·W + b`.
#[allow(clippy::too_many_arguments)]
fn private_linear(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    pending: &mut Vec<ProductClaim<'_>>,
    p: &NodeParameters<'_>,
    x: &[QCell],
    shape: LinearShape,
    has_bias: bool,
) -> Result<Vec<QCell>, Error> {
    let freivalds = config.freivalds.as_ref().ok_or(Error::Synthesis)?;
    let (n, m) = (shape.in_features, shape.out_features);
    let weight = p.weights(0, n * m)?;
    let (acc, claim) = if has_bias {
        let one = p.one.ok_or(Error::Synthesis)?;
        let bias = p.biases.get(..m).ok_or(Error::Synthesis)?;
        let a: Vec<QCell> = x
            .chunks(n)
            .flat_map(|token| token.iter().copied().chain(std::iter::once(one)))
            .collect();
        let right: Vec<QCell> = weight.iter().chain(bias).copied().collect();
        freivalds.commit_matmul(layouter, rows, &a, &right, n + 1, m)?
    } else {
        freivalds.commit_matmul(layouter, rows, x, weight, n, m)?
    };
    pending.push(claim);
    Ok(acc)
}

/// A fresh advice cell holding `value`.
fn load_field(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    value: Value<Fr>,
) -> Result<FieldCell, Error> {
    let column = config.columns.gate()[0];
    let row = rows.take_gate(1);
    layouter.assign_region(
        || "salt",
        |mut region| {
            let cell = region.assign_advice(column, row, value).cell();
            Ok(FieldCell { cell, value })
        },
    )
}

/// Inputs: fresh advice cells. In a packed circuit they reach the instance
/// column only through their words. (The caller range-checks them: an
/// unchecked input could be any field element.)
fn load_input(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    values: &[Value<i128>],
) -> Result<Vec<QCell>, Error> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let column = config.columns.gate()[0];
    let start = rows.take_gate(values.len());
    layouter.assign_region(
        || "public input",
        |mut region| {
            Ok(values
                .iter()
                .enumerate()
                .map(|(i, &v)| QCell::assign(&mut region, column, start + i, v))
                .collect::<Vec<_>>())
        },
    )
}

/// Public inputs of an unpacked circuit: [`load_input`]'s cells, each tied
/// to its instance row by a copy constraint.
fn load_public_input(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    values: &[Value<i128>],
    first_instance_row: usize,
) -> Result<Vec<QCell>, Error> {
    let cells = load_input(config, layouter, rows, values)?;
    for (i, cell) in cells.iter().enumerate() {
        layouter.constrain_instance(cell.cell, config.columns.instance, first_instance_row + i);
    }
    Ok(cells)
}
