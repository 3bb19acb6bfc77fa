//! Lookup inputs outside their table, found in an inference trace before
//! proving.
//!
//! Such an input is not an error: the circuit proves the table's saturation
//! (`GELU(x) = x` above, `tanh(x) = ±1`, ...), and integer inference computes
//! the same value. But the table was sized on the calibration samples, so an
//! input beyond it means this input is outside what calibration saw, and
//! the output's accuracy may be worse than the report says: the prover says
//! so, naming the node, the tensor and the value, before it proves.
//!
//! Softmax's exp inputs below its table are not listed when the table
//! saturates to 0 there: the table ends where `exp` rounds to 0, so those
//! are exact.

use crate::fixed::dequantize;
use crate::infer::Trace;
use crate::model::{Op, QuantizedModel};
use crate::nonlinear::{PointwiseTable, Saturation};

/// The inputs of one node outside its table's range.
#[derive(Clone, Debug, PartialEq)]
pub struct Excursion {
    pub node: String,
    /// What the table computes (`GeluTanh`, `Exp`, ...).
    pub func: String,
    pub tensor: String,
    /// How many inputs fell outside, of how many.
    pub count: usize,
    pub of: usize,
    /// The input farthest outside, and the table's input range (real values).
    pub worst: f64,
    pub range: (f64, f64),
}

impl std::fmt::Display for Excursion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "node '{}' ({} table), input '{}': {} of {} values outside the table's range \
             [{:.4}, {:.4}] (farthest {:.4}); they take the table's proved saturation, and \
             accuracy there is not what calibration measured",
            self.node,
            self.func,
            self.tensor,
            self.count,
            self.of,
            self.range.0,
            self.range.1,
            self.worst
        )
    }
}

/// Every table node whose inputs in `trace` leave its table.
pub fn table_excursions(model: &QuantizedModel, trace: &Trace) -> Vec<Excursion> {
    let s = model.scale_bits;
    let mut found = Vec::new();
    for node in &model.nodes {
        let x = trace.tensor(node.inputs[0]);
        let (table, inputs): (&PointwiseTable, Vec<i64>) = match &node.op {
            Op::Pointwise { table } => (table, x.to_vec()),
            Op::Softmax { causal, exp } => {
                let t = model.tensors[node.inputs[0]]
                    .shape
                    .last()
                    .copied()
                    .unwrap_or(1)
                    .max(1);
                (exp, softmax_exp_inputs(x, t, *causal))
            }
            _ => continue,
        };
        let exact_below =
            matches!(node.op, Op::Softmax { .. }) && table.below == Saturation::Const(0);
        let outside: Vec<i64> = inputs
            .iter()
            .copied()
            .filter(|&v| {
                let (i, _) = table.index(v);
                (i < table.lo && !exact_below) || i > table.hi
            })
            .collect();
        if outside.is_empty() {
            continue;
        }
        let unit = 1i64 << table.in_shift;
        let lo = table.lo.saturating_mul(unit);
        let hi = table.hi.saturating_add(1).saturating_mul(unit) - 1;
        let worst = outside
            .iter()
            .copied()
            .max_by_key(|&v| v.saturating_sub(hi).max(lo.saturating_sub(v)))
            .unwrap_or(0);
        found.push(Excursion {
            node: node.name.clone(),
            func: format!("{:?}", table.func),
            tensor: model.tensors[node.inputs[0]].name.clone(),
            count: outside.len(),
            of: inputs.len(),
            worst: dequantize(worst, s),
            range: (dequantize(lo, s), dequantize(hi, s)),
        });
    }
    found
}

/// The exp table's inputs of a softmax: `x_j − max` over each row's
/// unmasked entries.
fn softmax_exp_inputs(x: &[i64], t: usize, causal: bool) -> Vec<i64> {
    x.chunks(t)
        .enumerate()
        .flat_map(|(row, xs)| {
            let valid = if causal { row % t + 1 } else { t };
            let xs = &xs[..valid.min(xs.len())];
            let max = xs.iter().copied().max().unwrap_or(0);
            xs.iter().map(move |&v| v - max).collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, TensorInfo};
    use crate::nonlinear::Nonlinearity;

    fn tanh_model() -> QuantizedModel {
        let t = |name: &str| TensorInfo {
            name: name.into(),
            shape: vec![4],
            calibrated_max_abs: 1.0,
        };
        let table = PointwiseTable::build(
            Nonlinearity::Tanh,
            4,
            0,
            -32,
            31,
            Saturation::Const(-16),
            Saturation::Const(16),
        );
        QuantizedModel {
            name: "tanh".into(),
            scale_bits: 4,
            activation_bits: 12,
            tensors: vec![t("x"), t("y")],
            inputs: vec![0],
            outputs: vec![1],
            nodes: vec![Node {
                name: "act".into(),
                onnx_op: "Tanh".into(),
                op: Op::Pointwise { table },
                inputs: vec![0],
                output: 1,
            }],
        }
    }

    #[test]
    fn inputs_beyond_the_table_are_named() {
        let model = tanh_model();
        let trace = crate::infer::run(&model, &[vec![0, 31, 40, -100]]).unwrap();
        let found = table_excursions(&model, &trace);
        assert_eq!(found.len(), 1);
        let e = &found[0];
        assert_eq!((e.node.as_str(), e.tensor.as_str()), ("act", "x"));
        assert_eq!((e.count, e.of), (2, 4));
        assert_eq!(e.worst, -100.0 / 16.0);
        assert_eq!(e.range, (-2.0, 31.0 / 16.0));
        assert!(e.to_string().contains("2 of 4 values"), "{e}");
    }

    #[test]
    fn inputs_inside_the_table_are_not() {
        let model = tanh_model();
        let trace = crate::infer::run(&model, &[vec![-32, 0, 5, 31]]).unwrap();
        assert!(table_excursions(&model, &trace).is_empty());
    }
}
