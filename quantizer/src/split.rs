//! Cutting a model into consecutive parts that are proved separately, for
//! models whose single circuit would not fit in memory (a MiniLM-sized
//! encoder on a 24 GiB machine).
//!
//! Part `p` holds a run of consecutive nodes. Its inputs are the tensors its
//! nodes read that it does not produce (model inputs, or outputs of earlier
//! parts); its outputs are the tensors it produces that a later part reads or
//! that are model outputs. Every part is an ordinary [`QuantizedModel`]
//! (the tensor table is kept whole, so tensor ids mean the same in every
//! part), so it gets its own keys and proofs, and its inputs and outputs are
//! public instances.
//!
//! **Binding.** A chain of proofs is an inference of the whole model exactly
//! when, for every part input, its instance values equal the producing
//! part's output instance values for that tensor (or, for a model input,
//! the same values in every part that reads it). The chain verifier checks
//! those equalities on top of each proof; no value crosses a cut unproved,
//! since every part's outputs are proved activations and its inputs are
//! range-checked again as activations.
//!
//! Cuts go where the fewest values cross (between transformer layers only
//! the residual stream does), near equal shares of the nodes.

use crate::error::QuantizeError;
use crate::model::{QuantizedModel, TensorId};

/// One part: the model and where each of its inputs comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub model: QuantizedModel,
    /// For each of `model.inputs`: the part producing it, or `None` for a
    /// model input.
    pub producers: Vec<Option<usize>>,
}

/// Splits `model` into `parts` consecutive parts (at most one per node).
pub fn split(model: &QuantizedModel, parts: usize) -> Result<Vec<Part>, QuantizeError> {
    model.validate()?;
    let n = model.nodes.len();
    if parts == 0 || parts > n {
        return Err(QuantizeError::BadZkq(format!(
            "cannot cut {n} nodes into {parts} parts"
        )));
    }
    let cuts = choose_cuts(model, parts);
    let bounds: Vec<(usize, usize)> = std::iter::once(0)
        .chain(cuts.iter().copied())
        .zip(cuts.iter().copied().chain(std::iter::once(n)))
        .collect();
    let producer_node = producers(model);
    let part_of_node = |node: usize| bounds.iter().position(|&(a, b)| (a..b).contains(&node));
    let mut out = Vec::with_capacity(parts);
    for (p, &(a, b)) in bounds.iter().enumerate() {
        let nodes = &model.nodes[a..b];
        let produced: Vec<TensorId> = nodes.iter().map(|nd| nd.output).collect();
        let mut inputs: Vec<TensorId> = nodes
            .iter()
            .flat_map(|nd| nd.inputs.iter().copied())
            .filter(|t| !produced.contains(t))
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        let read_later = |t: TensorId| model.nodes[b..].iter().any(|nd| nd.inputs.contains(&t));
        let mut outputs: Vec<TensorId> = produced
            .iter()
            .copied()
            .filter(|&t| read_later(t) || model.outputs.contains(&t))
            .collect();
        outputs.sort_unstable();
        outputs.dedup();
        let producers = inputs
            .iter()
            .map(|&t| producer_node[t].and_then(part_of_node))
            .collect();
        let part = QuantizedModel {
            name: format!("{}.part{}of{}", model.name, p + 1, parts),
            scale_bits: model.scale_bits,
            activation_bits: model.activation_bits,
            tensors: model.tensors.clone(),
            inputs,
            outputs,
            nodes: nodes.to_vec(),
        };
        part.validate()?;
        out.push(Part {
            model: part,
            producers,
        });
    }
    Ok(out)
}

/// The node producing each tensor (`None` for model inputs).
fn producers(model: &QuantizedModel) -> Vec<Option<usize>> {
    let mut p = vec![None; model.tensors.len()];
    for (i, node) in model.nodes.iter().enumerate() {
        p[node.output] = Some(i);
    }
    p
}

/// Values crossing a cut before node `c`: the lengths of the tensors made
/// before `c` and read at or after it.
fn crossing(model: &QuantizedModel, c: usize) -> usize {
    let producer = producers(model);
    let mut crossing: Vec<TensorId> = model.nodes[c..]
        .iter()
        .flat_map(|nd| nd.inputs.iter().copied())
        .filter(|&t| producer[t].is_some_and(|i| i < c))
        .collect();
    crossing.sort_unstable();
    crossing.dedup();
    crossing.iter().map(|&t| model.tensors[t].len()).sum()
}

/// `parts − 1` increasing cut positions: for the `j`-th, the cheapest cut
/// within half a share of `j·n/parts`, the nearest one on ties.
fn choose_cuts(model: &QuantizedModel, parts: usize) -> Vec<usize> {
    let n = model.nodes.len();
    let share = n as f64 / parts as f64;
    let mut cuts = Vec::with_capacity(parts - 1);
    let mut last = 0;
    for j in 1..parts {
        let target = (j as f64 * share).round() as usize;
        let lo = ((j as f64 - 0.5) * share).floor().max((last + 1) as f64) as usize;
        let hi = (((j as f64 + 0.5) * share).ceil() as usize).min(n - (parts - j));
        let best = (lo..=hi.max(lo))
            .min_by_key(|&c| (crossing(model, c), c.abs_diff(target)))
            .unwrap_or(lo);
        cuts.push(best);
        last = best;
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer;
    use crate::model::{Node, Op, TensorInfo};

    /// x → relu → add_const → relu → add_const, a residual add of the first
    /// relu at the end.
    fn chain() -> QuantizedModel {
        let t = |name: &str| TensorInfo {
            name: name.into(),
            shape: vec![3],
            calibrated_max_abs: 1.0,
        };
        let node = |name: &str, op: Op, inputs: Vec<usize>, output: usize| Node {
            name: name.into(),
            onnx_op: op.kind().into(),
            op,
            inputs,
            output,
        };
        let c = || Op::AddConst {
            constant: vec![1, -2, 3],
        };
        QuantizedModel {
            name: "chain".into(),
            scale_bits: 4,
            activation_bits: 12,
            tensors: ["x", "a", "b", "c", "d", "y"].map(t).to_vec(),
            inputs: vec![0],
            outputs: vec![5],
            nodes: vec![
                node("r1", Op::Relu, vec![0], 1),
                node("k1", c(), vec![1], 2),
                node("r2", Op::Relu, vec![2], 3),
                node("k2", c(), vec![3], 4),
                node("res", Op::Add, vec![4, 1], 5),
            ],
        }
    }

    #[test]
    fn parts_compose_to_the_whole_model() {
        let model = chain();
        let x = vec![vec![5, -7, 2]];
        let whole = infer::run(&model, &x).unwrap();
        for parts in 1..=5 {
            let split = split(&model, parts).unwrap();
            assert_eq!(split.len(), parts);
            let mut values: Vec<Option<Vec<i64>>> = vec![None; model.tensors.len()];
            values[0] = Some(x[0].clone());
            for part in &split {
                let inputs: Vec<Vec<i64>> = part
                    .model
                    .inputs
                    .iter()
                    .map(|&t| values[t].clone().expect("produced by an earlier part"))
                    .collect();
                let trace = infer::run(&part.model, &inputs).unwrap();
                for &t in &part.model.outputs {
                    values[t] = Some(trace.tensor(t).to_vec());
                }
            }
            assert_eq!(values[5].as_deref(), Some(whole.tensor(5)), "{parts} parts");
        }
    }

    #[test]
    fn producers_name_the_earlier_part() {
        let split = split(&chain(), 2).unwrap();
        assert_eq!(split[0].producers, vec![None]);
        // The second part reads the residual branch and the main branch,
        // both made by the first part.
        assert!(split[1].producers.iter().all(|&p| p == Some(0)));
        assert_eq!(split[1].model.outputs, vec![5]);
    }

    #[test]
    fn impossible_splits_are_errors() {
        assert!(split(&chain(), 0).is_err());
        assert!(split(&chain(), 6).is_err());
    }
}
