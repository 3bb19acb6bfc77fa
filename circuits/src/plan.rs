//! The planner: chooses the number of advice columns, the Freivalds lanes
//! and `lookup_bits`, and from them the smallest `k`, for a model.
//!
//! The circuit's height is the taller of its two tracks (see [`crate::rows`]),
//! the range table (`2^lookup_bits` rows) and the instance column, plus
//! halo2's blinding rows. The gate track shrinks with more accumulator
//! columns or Freivalds lanes (only its linear layers change, see
//! [`crate::linear_layout`]), the range track with a larger table (only its
//! rows per check change). One measured synthesis (the `measure` module)
//! records the linear shapes and range-check widths, which give both heights
//! for every choice; the planner picks the choice with the smallest
//! estimated cost, `(2^k + 1024) × (number of committed polynomials)` (prover
//! work, with a per-polynomial floor for what every column costs whatever
//! the height), and
//! synthesizes it once more to confirm the prediction. Second-phase columns
//! (Freivalds lanes) are only considered when some layer would use them, so
//! they are chosen only when their rows saved lower `k` enough to pay for
//! the extra columns; a model of single-token layers never gets them.
//!
//! The planner also checks the bound every soundness argument relies on: each
//! pre-rescale accumulator stays below `2^ACCUMULATOR_BOUND_BITS ≪ p/2`.

use std::fmt;

use halo2_proofs::plonk::ConstraintSystem;
use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};
use zkinfer_quantizer::{Op, QuantizedModel};

use crate::chips::freivalds;
use crate::chips::gather::GatherChip;
use crate::chips::layernorm::LayerNormChip;
use crate::chips::pack;
use crate::chips::pointwise::{LookupTable, PointwiseChip};
use crate::chips::poseidon;
use crate::chips::range::{self, MAX_LOOKUP_BITS};
use crate::chips::softmax::SoftmaxChip;
use crate::commitment::{model_words, ModelParameters};
use crate::config::ModelConfig;
use crate::error::CircuitError;
use crate::graph::model_tables;
use crate::linear_layout::{self, LinearLayout};
use crate::measure::{measure, Heights};
use crate::params::{
    CircuitParams, InputVisibility, Visibility, WeightVisibility, MIN_ADVICE_COLUMNS,
    MIN_HASHING_ADVICE_COLUMNS,
};
use crate::public::PublicLayout;
use crate::rows::range_height;

/// Most advice columns the planner uses, first- and second-phase together:
/// the EVM verifier grows with every column and stops fitting in a contract
/// (EIP-170) somewhere past 20.
pub const MAX_ADVICE_COLUMNS: usize = 16;
/// Most lookup columns of the range track (each adds a lookup argument).
pub const MAX_RANGE_LANES: usize = 3;
/// Smallest table the planner considers.
pub const MIN_LOOKUP_BITS: u32 = 4;
/// Largest circuit the planner produces (`2^26` rows).
pub const MAX_K: u32 = 26;
/// Every accumulator and product stays below `2^120` in magnitude: far below
/// `p/2 ≈ 2^253` (no wrap-around) and within `i128` (witness arithmetic).
pub const ACCUMULATOR_BOUND_BITS: u32 = 120;

/// The planner's figures for one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The circuit has `2^k` rows.
    pub k: u32,
    pub lookup_bits: u32,
    /// All advice columns, second-phase ones included.
    pub advice_columns: usize,
    /// Lanes of the Freivalds check (0: none; then every linear layer is
    /// laid out directly). The circuit has `freivalds_lanes + 1`
    /// second-phase columns.
    #[serde(default)]
    pub freivalds_lanes: usize,
    /// Lookup columns of the range track (1 in files written before lanes).
    #[serde(default = "one")]
    pub range_lanes: usize,
    /// Fixed columns once keys are generated: coefficient, range and table
    /// columns plus one per selector (halo2-axiom's `keygen_vk` turns each
    /// selector into a fixed column; `keygen_vk_custom(.., true)` compresses
    /// them into fewer, so this is an upper bound).
    pub fixed_columns: usize,
    /// Selectors, already counted in `fixed_columns`.
    pub selectors: usize,
    pub lookups: usize,
    /// Rows the circuit needs: the tallest of the gate track, the range track,
    /// the table and the instance column.
    pub rows_used: usize,
    /// Rows available at this `k` (`2^k` minus halo2's blinding rows).
    pub usable_rows: usize,
    pub gate_rows: usize,
    pub range_rows: usize,
    /// Public values: every input then every output value.
    pub num_instances: usize,
    /// Gate rows spent on commitments: loading and packing the private
    /// weights and the Poseidon hashes (model commitment, input commitment).
    /// Their range checks are in the range track.
    #[serde(default)]
    pub hashing_rows: usize,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "k = {} ({} of {} usable rows: gates {}, range checks {}, table 2^{}), {} advice + {} fixed columns, \
             {} selectors, {} lookup(s), {} public values",
            self.k,
            self.rows_used,
            self.usable_rows,
            self.gate_rows,
            self.range_rows,
            self.lookup_bits,
            self.advice_columns,
            self.fixed_columns,
            self.selectors,
            self.lookups,
            self.num_instances
        )?;
        if self.range_lanes > 1 {
            write!(f, ", range checks over {} lanes", self.range_lanes)?;
        }
        if self.freivalds_lanes > 0 {
            write!(
                f,
                ", Freivalds checks over {} lanes ({} second-phase columns)",
                self.freivalds_lanes,
                self.freivalds_lanes + 1
            )?;
        }
        if self.hashing_rows > 0 {
            write!(
                f,
                ", {} gate rows hash commitments ({:.0}%)",
                self.hashing_rows,
                100.0 * self.hashing_rows as f64 / self.gate_rows.max(1) as f64
            )?;
        }
        Ok(())
    }
}

fn one() -> usize {
    1
}

/// Plans the circuit of `model` with fixed weights and a public input.
pub fn plan(model: &QuantizedModel) -> Result<Layout, CircuitError> {
    plan_visible(model, Visibility::default())
}

/// Plans the circuit of `model` with `visibility`.
pub fn plan_visible(
    model: &QuantizedModel,
    visibility: Visibility,
) -> Result<Layout, CircuitError> {
    Ok(plan_circuit(model, visibility)?.0)
}

/// The layout and the parameters the circuit is configured with.
pub(crate) fn plan_circuit(
    model: &QuantizedModel,
    visibility: Visibility,
) -> Result<(Layout, CircuitParams), CircuitError> {
    plan_with(model, Layouts::Any, visibility)
}

/// Which linear layouts the planner may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layouts {
    /// The cheapest circuit.
    Any,
    /// No second-phase columns: every linear layer laid out directly.
    #[cfg_attr(not(test), allow(dead_code))]
    DirectOnly,
    /// Second-phase columns, for the layers that take the Freivalds layout
    /// with them, even where the direct layout is cheaper.
    #[cfg_attr(not(test), allow(dead_code))]
    FreivaldsOnly,
}

/// [`plan_circuit`] restricted to `layouts`.
pub(crate) fn plan_with(
    model: &QuantizedModel,
    layouts: Layouts,
    visibility: Visibility,
) -> Result<(Layout, CircuitParams), CircuitError> {
    model.validate()?;
    check_nonlinear(model)?;
    check_magnitudes(model)?;
    let private = visibility.weights == WeightVisibility::Private;
    let (weight_bits, bias_bits) = if private {
        check_private(model)?
    } else {
        (0, 0)
    };
    // Private weights are a right factor of advice: every linear layer is
    // a product checked by Freivalds.
    let has_matmul = model.nodes.iter().any(|n| match n.op {
        Op::MatMul { .. } => true,
        Op::Linear { .. } => private,
        _ => false,
    });
    let min_columns = if private || visibility.input == InputVisibility::Hashed {
        MIN_HASHING_ADVICE_COLUMNS
    } else {
        MIN_ADVICE_COLUMNS
    };
    let nonlinear = model.nodes.iter().any(|n| {
        matches!(
            n.op,
            Op::Pointwise { .. } | Op::Softmax { .. } | Op::LayerNorm { .. } | Op::Gather { .. }
        )
    });
    // The pointwise chip's table columns, like the range table, must fit.
    let table_rows = if nonlinear {
        PointwiseChip::table_rows(&model_tables(model, !private).0)
    } else {
        0
    };
    let params_for = |advice_columns: usize,
                      lookup_bits: u32,
                      freivalds_lanes: usize,
                      range_lanes: usize| CircuitParams {
        k: 0,
        lookup_bits,
        advice_columns,
        scale_bits: model.scale_bits,
        activation_bits: model.activation_bits,
        freivalds_lanes,
        nonlinear,
        range_lanes,
        packed_public: true,
        weights: visibility.weights,
        weight_bits,
        bias_bits,
        input: visibility.input,
    };

    // One synthesis gives every layout's height: only linear layers and
    // products of activations depend on the column count and Freivalds
    // lanes, and only range checks on lookup_bits (see `rows`). Products of
    // activations need a lane to be laid out at all.
    let (probe_columns, probe_bits) = (min_columns, MIN_LOOKUP_BITS);
    let probe_lanes = usize::from(has_matmul);
    let (probe, demand) = measure(
        model,
        &params_for(probe_columns, probe_bits, probe_lanes, 1),
    )?;
    let linear_rows = |columns: usize, freivalds_lanes: usize| -> usize {
        demand
            .linear
            .iter()
            .map(|&s| linear_layout::rows(s, columns - 2, freivalds_lanes))
            .sum()
    };
    let matmul_rows = |freivalds_lanes: usize| -> usize {
        demand
            .matmul
            .iter()
            .map(|&s| freivalds::rows_needed(s, freivalds_lanes))
            .sum()
    };
    // Gate columns are all advice columns but the range track's first lane.
    let pack_rows = |columns: usize| -> usize {
        demand
            .packs
            .iter()
            .map(|&(values, bits)| pack::rows_needed(values, bits, columns - 1))
            .sum::<usize>()
    };
    let other_gate_rows = probe
        .gate
        .checked_sub(
            linear_rows(probe_columns, probe_lanes)
                + matmul_rows(probe_lanes)
                + pack_rows(probe_columns),
        )
        .ok_or_else(|| {
            CircuitError::Synthesis("the gate track is shorter than its recorded layers".into())
        })?;
    let gate_rows = |columns: usize, freivalds_lanes: usize| {
        other_gate_rows
            + linear_rows(columns, freivalds_lanes)
            + matmul_rows(freivalds_lanes)
            + pack_rows(columns)
    };
    // Freivalds lanes worth configuring with `columns` gate-and-lookup
    // columns: each lane's operand is a gate column, the `lanes + 1`
    // second-phase columns count against the maximum, and some layer must
    // use them. Extra range lanes (`range_lanes − 1` columns) count too.
    let freivalds_choices = |columns: usize, range_lanes: usize| -> Vec<usize> {
        let most =
            (columns - 1).min(MAX_ADVICE_COLUMNS.saturating_sub(columns + 1 + (range_lanes - 1)));
        let useful = (1..=most).filter(|&lanes| {
            has_matmul
                || demand.linear.iter().any(|&s| {
                    linear_layout::choose(s, columns - 2, lanes) == LinearLayout::Freivalds
                })
        });
        match layouts {
            Layouts::Any if has_matmul => useful.collect(),
            Layouts::Any => std::iter::once(0).chain(useful).collect(),
            Layouts::DirectOnly => vec![0],
            Layouts::FreivaldsOnly => useful.collect(),
        }
    };
    let range_rows = |bits: u32, range_lanes: usize| -> usize {
        range_height(&demand.range_batches, range_lanes, |b| {
            range::rows_per_check(b, bits)
        })
    };
    if range_rows(probe_bits, 1) != probe.range {
        return Err(CircuitError::Synthesis(
            "the range track does not match its recorded checks".into(),
        ));
    }

    let num_instances = PublicLayout::of(model, &params_for(min_columns, 0, 0, 1)).num_instances();
    let need = |columns: usize, freivalds_lanes: usize, bits: u32, range_lanes: usize| {
        gate_rows(columns, freivalds_lanes)
            .max(range_rows(bits, range_lanes))
            .max(1 << bits)
            .max(table_rows)
            .max(num_instances)
    };
    // (cost, k, range lanes, columns, freivalds lanes, lookup_bits)
    let mut best: Option<(u128, u32, usize, usize, usize, u32)> = None;
    let mut smallest_need = usize::MAX;
    for range_lanes in 1..=MAX_RANGE_LANES {
        let most_columns = MAX_ADVICE_COLUMNS - (range_lanes - 1);
        for columns in min_columns..=most_columns {
            for lanes in freivalds_choices(columns, range_lanes) {
                let cs =
                    constraint_system(&params_for(columns, MIN_LOOKUP_BITS, lanes, range_lanes));
                let reserved = cs.blinding_factors() + 1;
                let polys = committed_polynomials(&cs);
                for bits in MIN_LOOKUP_BITS..=MAX_LOOKUP_BITS {
                    let need = need(columns, lanes, bits, range_lanes);
                    smallest_need = smallest_need.min(need);
                    let Some(k) = smallest_k(need + reserved, cs.minimum_rows()) else {
                        continue;
                    };
                    let key = (cost(polys, k), k, range_lanes, columns, lanes, bits);
                    if best.is_none_or(|b| key < b) {
                        best = Some(key);
                    }
                }
            }
        }
    }
    let Some((_, k, range_lanes, columns, lanes, bits)) = best else {
        return Err(CircuitError::TooLarge {
            rows: smallest_need,
            advice_columns: MAX_ADVICE_COLUMNS,
            max_k: MAX_K,
        });
    };

    let params = CircuitParams {
        k,
        ..params_for(columns, bits, lanes, range_lanes)
    };
    // The chosen layout, synthesized for real, must be what was predicted.
    let (actual, _) = measure(model, &params)?;
    if actual
        != (Heights {
            gate: gate_rows(columns, lanes),
            range: range_rows(bits, range_lanes),
        })
    {
        return Err(CircuitError::Synthesis(format!(
            "the layout uses {actual:?} rows, the planner predicted gate {} and range {}",
            gate_rows(columns, lanes),
            range_rows(bits, range_lanes)
        )));
    }
    let cs = constraint_system(&params);
    let layout = Layout {
        k,
        lookup_bits: bits,
        advice_columns: cs.num_advice_columns(),
        freivalds_lanes: lanes,
        range_lanes,
        fixed_columns: cs.num_fixed_columns() + cs.num_selectors(),
        selectors: cs.num_selectors(),
        lookups: cs.lookups().len(),
        rows_used: need(columns, lanes, bits, range_lanes),
        usable_rows: (1usize << k) - (cs.blinding_factors() + 1),
        gate_rows: actual.gate,
        range_rows: actual.range,
        num_instances,
        hashing_rows: hashing_rows(model, &params, columns - 1),
    };
    Ok((layout, params))
}

/// [`Layout::hashing_rows`] under `params`, with `gate_columns` gate columns.
fn hashing_rows(model: &QuantizedModel, params: &CircuitParams, gate_columns: usize) -> usize {
    let mut rows = 0;
    if params.private_weights() {
        let weights = ModelParameters::of(model);
        let words = model_words(&weights).map_or(0, |w| w.len());
        rows += poseidon::rows_needed(words);
        for (values, bits) in [
            (weights.weights.len(), params.weight_bits),
            (weights.biases.len(), params.bias_bits),
        ] {
            rows += pack::rows_needed(values, bits, gate_columns);
        }
    }
    if params.hashed_input() {
        let layout = PublicLayout::of(model, params);
        // The salt's cell, then the hash of the salt and the words.
        rows += 1 + poseidon::rows_needed(1 + layout.input_value_words());
    }
    rows
}

/// Rows' worth of fixed cost per committed polynomial: what each costs the
/// verifier (an opening, a commitment to read; bytes and gas of the EVM
/// verifier) and the prover's per-column overheads, whatever `k`. Without
/// it the planner would trade a halved `2^k` for more columns and lookups
/// even in circuits of a few hundred rows, where rows cost nothing.
const OVERHEAD_ROWS_PER_POLYNOMIAL: u128 = 1024;

/// The planner's estimate of a layout's cost (prover work, with a floor per
/// polynomial).
fn cost(polys: usize, k: u32) -> u128 {
    polys as u128 * ((1u128 << k) + OVERHEAD_ROWS_PER_POLYNOMIAL)
}

fn constraint_system(params: &CircuitParams) -> ConstraintSystem<Fr> {
    let mut cs = ConstraintSystem::default();
    ModelConfig::configure(&mut cs, params);
    cs
}

/// Polynomials the prover commits to or evaluates over the extended domain:
/// advice and fixed columns (selectors included), 3 per lookup, and the
/// permutation products (one per `degree − 2` columns in the permutation).
fn committed_polynomials(cs: &ConstraintSystem<Fr>) -> usize {
    let chunk = cs.degree().saturating_sub(2).max(1);
    cs.num_advice_columns()
        + cs.num_fixed_columns()
        + cs.num_selectors()
        + 3 * cs.lookups().len()
        + cs.permutation().get_columns().len().div_ceil(chunk)
}

/// Smallest `k <= MAX_K` with `2^k >= rows` and `2^k >= minimum_rows`.
fn smallest_k(rows: usize, minimum_rows: usize) -> Option<u32> {
    let rows = rows.max(minimum_rows);
    (1..=MAX_K).find(|&k| (1usize << k) >= rows)
}

/// Checks the constants of every transformer op against what its chip can
/// prove (tables inside the activation range, layer-norm widths, embedding
/// shapes), naming the node, before anything is laid out.
fn check_nonlinear(model: &QuantizedModel) -> Result<(), CircuitError> {
    let (s, b) = (model.scale_bits, model.activation_bits);
    for node in &model.nodes {
        let checked = match &node.op {
            Op::Pointwise { table } => PointwiseChip::validate(&table.into(), b, b).map(|_| ()),
            Op::Softmax { exp, .. } => {
                let row_len = node
                    .inputs
                    .first()
                    .and_then(|&id| model.tensors[id].shape.last().copied())
                    .unwrap_or(0);
                SoftmaxChip::validate(&exp.into(), row_len, s, b).map(|_| ())
            }
            Op::LayerNorm { gamma, beta, eps } => {
                LayerNormChip::validate(gamma, beta, *eps, s, b).map(|_| ())
            }
            Op::Gather { vocab, dim, table } => {
                GatherChip::validate(&LookupTable::embedding(table), *vocab, *dim, b)
            }
            _ => Ok(()),
        };
        checked.map_err(|e| CircuitError::Nonlinear {
            node: node.name.clone(),
            op: node.op.kind(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// The lane widths of a private model's commitment, `(weight_bits,
/// bias_bits)`, after checking that every product
/// below `2^ACCUMULATOR_BOUND_BITS` for *any* weights of those widths, since
/// the verifier no longer knows the values (only their range checks).
fn check_private(model: &QuantizedModel) -> Result<(u32, u32), CircuitError> {
    let (wb, bb) = ModelParameters::of(model).lane_bits();
    let (b, s) = (model.activation_bits, model.scale_bits);
    let log2 = |n: usize| 64 - (n as u64).leading_zeros();
    for node in &model.nodes {
        let bits = match &node.op {
            // n·2^(B−1)·2^(wb−1) + 2^(bb−1).
            Op::Linear { in_features, .. } => (b + wb + log2(*in_features)).max(bb) + 1,
            Op::MulConst { .. } => b + wb,
            // z·gamma + beta·2^s.
            Op::LayerNorm { .. } => (b + wb).max(wb + s) + 1,
            _ => 0,
        };
        if bits > ACCUMULATOR_BOUND_BITS {
            return Err(CircuitError::Overflow {
                node: node.name.clone(),
                op: node.op.kind(),
                bits,
                limit: ACCUMULATOR_BOUND_BITS,
            });
        }
    }
    Ok((wb, bb))
}

/// Bounds every pre-rescale value by `2^ACCUMULATOR_BOUND_BITS`, given that
/// activations are below `2^(B−1)` in magnitude.
fn check_magnitudes(model: &QuantizedModel) -> Result<(), CircuitError> {
    let act = 1u128 << (model.activation_bits - 1);
    let limit = 1u128 << ACCUMULATOR_BOUND_BITS;
    let bits = |v: u128| 128 - v.leading_zeros();
    for node in &model.nodes {
        let worst = match &node.op {
            Op::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => (0..*out_features)
                .map(|j| {
                    let dot = (0..*in_features).fold(0u128, |s, k| {
                        s.saturating_add(
                            (weight[k * out_features + j].unsigned_abs() as u128)
                                .saturating_mul(act),
                        )
                    });
                    dot.saturating_add(bias.as_ref().map_or(0, |b| b[j].unsigned_abs() as u128))
                })
                .max()
                .unwrap_or(0),
            Op::MulConst { constant } => constant
                .iter()
                .map(|c| c.unsigned_abs() as u128)
                .max()
                .unwrap_or(0)
                .saturating_mul(act),
            Op::Mul => act * act,
            Op::MatMul { k, .. } => (*k as u128).saturating_mul(act * act),
            Op::AddConst { constant } | Op::ConstSub { constant } => {
                constant
                    .iter()
                    .map(|c| c.unsigned_abs() as u128)
                    .max()
                    .unwrap_or(0)
                    + act
            }
            Op::Add | Op::Sub | Op::Relu | Op::Reshape => 2 * act,
            // Products inside the nonlinearity chips are bounded by their
            // own validation (`check_nonlinear`); wiring computes nothing.
            Op::Pointwise { .. }
            | Op::Softmax { .. }
            | Op::LayerNorm { .. }
            | Op::Gather { .. }
            | Op::Transpose { .. }
            | Op::Slice { .. }
            | Op::Concat { .. } => 0,
        };
        if worst >= limit {
            return Err(CircuitError::Overflow {
                node: node.name.clone(),
                op: node.op.kind(),
                bits: bits(worst),
                limit: ACCUMULATOR_BOUND_BITS,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use zkinfer_quantizer::{Node, QuantizeError, TensorInfo};

    use super::*;
    use crate::testing::test_model;

    fn params(advice_columns: usize, lookup_bits: u32) -> CircuitParams {
        CircuitParams {
            k: 0,
            lookup_bits,
            advice_columns,
            scale_bits: 4,
            activation_bits: 12,
            freivalds_lanes: 0,
            nonlinear: false,
            range_lanes: 1,
            packed_public: false,
            ..CircuitParams::default()
        }
    }

    #[test]
    fn small_model_fits_a_small_circuit() {
        let layout = plan(&test_model()).unwrap();
        assert!(layout.k <= 12, "{layout}");
        assert!(layout.rows_used <= layout.usable_rows, "{layout}");
        assert!(1usize << layout.lookup_bits <= layout.rows_used, "{layout}");
        assert!(
            layout.gate_rows <= layout.rows_used && layout.range_rows <= layout.rows_used,
            "{layout}"
        );
        // One lookup per range lane; no pointwise tables in a dense model.
        assert_eq!(layout.lookups, layout.range_lanes);
        assert!((MIN_ADVICE_COLUMNS..=MAX_ADVICE_COLUMNS).contains(&layout.advice_columns));
        // 26 values of 12 bits, packed 21 a word: inputs and outputs one each.
        assert_eq!(layout.num_instances, 2);
        assert!(layout.to_string().starts_with(&format!("k = {}", layout.k)));
    }

    #[test]
    fn measured_rows_match_the_chips_layout() {
        let model = test_model();
        // Gate track with 3 accumulators: inputs 14; fc1 2·2·5 + rescale 12;
        // relu 12; fc2 2·1·7 + rescale 6; add_const, const_sub 6 each; mul 6 +
        // rescale 6; mul_const 6 + rescale 6; add, sub 6 each.
        let (h, _) = measure(&model, &params(5, 4)).unwrap();
        assert_eq!(
            h.gate,
            14 + 20 + 12 + 12 + 14 + 6 + 6 + 6 + 6 + 6 + 6 + 6 + 6 + 6
        );
        // Range track: 80 signed 12-bit checks (14 inputs, 30 rescaled outputs,
        // 12 ReLU, 24 elementwise outputs) and 30 4-bit remainders.
        let rows =
            |bits: u32, l: u32| bits.div_ceil(l) as usize + usize::from(!bits.is_multiple_of(l));
        for l in [3, 4, 5, 12] {
            assert_eq!(
                measure(&model, &params(5, l)).unwrap().0.range,
                80 * rows(12, l) + 30 * rows(4, l),
                "L = {l}"
            );
        }
        // More accumulators shorten only the linear layers: fc1 needs one block of 6.
        assert_eq!(
            measure(&model, &params(8, 4)).unwrap().0.gate,
            h.gate - 2 * 5
        );
    }

    #[test]
    fn oversized_weights_are_rejected() {
        // 2^18 products of 2^39 × (2^63 − 1), plus a bias of 2^63 − 1, reach 2^120.
        let n = 1 << 18;
        let mut model = test_model();
        model.activation_bits = 40;
        model.tensors = vec![
            TensorInfo {
                name: "x".into(),
                shape: vec![n],
                calibrated_max_abs: 1.0,
            },
            TensorInfo {
                name: "y".into(),
                shape: vec![1],
                calibrated_max_abs: 1.0,
            },
        ];
        model.inputs = vec![0];
        model.outputs = vec![1];
        model.nodes = vec![Node {
            name: "huge".into(),
            onnx_op: "Gemm".into(),
            op: Op::Linear {
                in_features: n,
                out_features: 1,
                weight: vec![i64::MAX; n],
                bias: Some(vec![i64::MAX]),
            },
            inputs: vec![0],
            output: 1,
        }];
        let err = plan(&model).unwrap_err();
        assert!(
            matches!(err, CircuitError::Overflow { ref node, .. } if node == "huge"),
            "{err}"
        );
    }

    #[test]
    fn inconsistent_model_is_an_error() {
        let mut model = test_model();
        model.nodes[0].inputs = vec![11];
        assert!(matches!(
            plan(&model),
            Err(CircuitError::Model(QuantizeError::BadZkq(_)))
        ));
    }
}
