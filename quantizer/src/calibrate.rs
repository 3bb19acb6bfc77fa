//! Choice of the global fixed-point scale from calibrated tensor ranges.
//!
//! The circuits range-check every activation to
//! `[-2^(activation_bits-1), 2^(activation_bits-1))`, so every tensor must
//! stay inside it after scaling by `2^s`. Calibration gives each tensor's
//! largest |value| on the samples; `margin` covers inputs a little beyond
//! the samples and the rounding error the quantized model accumulates. The
//! scale is the largest `s` (most precision) with
//! `max_abs * margin * 2^s < 2^(activation_bits-1)` for every tensor.

use crate::error::QuantizeError;
use crate::float_graph::FloatGraph;

/// Smallest scale considered: below 4 fractional bits results are too
/// coarse to be useful.
pub const MIN_SCALE_BITS: u32 = 4;
/// Largest scale chosen automatically: products live at scale `2s`, and
/// keeping `2s <= 32` keeps the rescale range checks cheap.
pub const MAX_SCALE_BITS: u32 = 16;

/// The ranges that constrain the scale: every tensor's, except token ids,
/// which are integers used unscaled (their entry becomes 0).
pub fn activation_ranges(graph: &FloatGraph, max_abs: &[f64]) -> Vec<f64> {
    let ids = graph.token_id_tensors();
    max_abs
        .iter()
        .zip(ids)
        .map(|(&m, id)| if id { 0.0 } else { m })
        .collect()
}

/// Checks the quantization options that do not depend on the model.
pub fn check_options(activation_bits: u32, margin: f64) -> Result<(), QuantizeError> {
    if !(MIN_SCALE_BITS + 1..=40).contains(&activation_bits) {
        return Err(QuantizeError::Calibration(format!(
            "activation_bits {activation_bits} outside {}..=40",
            MIN_SCALE_BITS + 1
        )));
    }
    if !(margin.is_finite() && margin >= 1.0) {
        return Err(QuantizeError::Calibration(format!(
            "margin {margin} must be a finite number >= 1"
        )));
    }
    Ok(())
}

/// The largest scale in `MIN_SCALE_BITS..=MAX_SCALE_BITS` (and below
/// `activation_bits`) at which every tensor fits; `max_abs` is indexed by
/// tensor id. If none fits, the error names the tensor that is too large and
/// the activation width it would need.
pub fn choose_scale_bits(
    graph: &FloatGraph,
    max_abs: &[f64],
    activation_bits: u32,
    margin: f64,
) -> Result<u32, QuantizeError> {
    check_options(activation_bits, margin)?;
    let top = MAX_SCALE_BITS.min(activation_bits - 1);
    (MIN_SCALE_BITS..=top)
        .rev()
        .find(|&s| worst_tensor(max_abs, s, activation_bits, margin).is_none())
        .ok_or_else(|| too_large(graph, max_abs, MIN_SCALE_BITS, activation_bits, margin))
}

/// Checks a scale the user chose: it must be a valid `.zkq` scale and every
/// tensor must fit at it.
pub fn check_scale_bits(
    graph: &FloatGraph,
    max_abs: &[f64],
    scale_bits: u32,
    activation_bits: u32,
    margin: f64,
) -> Result<u32, QuantizeError> {
    check_options(activation_bits, margin)?;
    if scale_bits == 0 || scale_bits > 24 || scale_bits >= activation_bits {
        return Err(QuantizeError::Calibration(format!(
            "scale_bits {scale_bits} must be in 1..=24 and below activation_bits {activation_bits}"
        )));
    }
    match worst_tensor(max_abs, scale_bits, activation_bits, margin) {
        None => Ok(scale_bits),
        Some(_) => Err(too_large(
            graph,
            max_abs,
            scale_bits,
            activation_bits,
            margin,
        )),
    }
}

/// The tensor with the largest range, if it does not fit at scale `s`.
fn worst_tensor(max_abs: &[f64], s: u32, activation_bits: u32, margin: f64) -> Option<usize> {
    let limit = 2f64.powi(activation_bits as i32 - 1);
    let (id, &m) = max_abs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    (m * margin * 2f64.powi(s as i32) >= limit).then_some(id)
}

fn too_large(
    graph: &FloatGraph,
    max_abs: &[f64],
    s: u32,
    activation_bits: u32,
    margin: f64,
) -> QuantizeError {
    let id = worst_tensor(max_abs, s, activation_bits, margin)
        .expect("called only when a tensor does not fit");
    let m = max_abs[id];
    let needed = m * margin * 2f64.powi(s as i32);
    // Smallest width w with needed < 2^(w-1).
    let bits_needed = needed.log2().floor() as u32 + 2;
    let producer = graph.producer(id).map_or("a model input".to_string(), |n| {
        format!("node '{}' ({})", n.name, n.onnx_op)
    });
    QuantizeError::Calibration(format!(
        "tensor '{}' (produced by {producer}) reaches |{m:.6}| on the calibration samples; at scale 2^{s} \
         with margin {margin} that is {needed:.0}, which does not fit in {activation_bits}-bit activations \
         (limit 2^{}); use at least {bits_needed} activation bits, or scale the model's inputs down",
        graph.tensors[id].name,
        activation_bits - 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float_graph::{FloatNode, FloatOp, FloatTensor};

    fn graph() -> FloatGraph {
        FloatGraph {
            name: "g".into(),
            tensors: vec![
                FloatTensor {
                    name: "x".into(),
                    shape: vec![2],
                },
                FloatTensor {
                    name: "y".into(),
                    shape: vec![2],
                },
            ],
            inputs: vec![0],
            outputs: vec![1],
            nodes: vec![FloatNode {
                name: "/big/Mul".into(),
                onnx_op: "Mul".into(),
                op: FloatOp::MulConst {
                    constant: vec![1.0, 1.0],
                },
                inputs: vec![0],
                output: 1,
            }],
            notes: vec![],
        }
    }

    #[test]
    fn picks_the_largest_scale_that_fits_with_margin() {
        let g = graph();
        // 1.0 * 2 * 2^s < 2^15  <=>  s <= 13.
        assert_eq!(choose_scale_bits(&g, &[1.0, 0.5], 16, 2.0).unwrap(), 13);
        // The largest tensor decides: 3.9 * 2 * 2^12 = 31949 < 2^15, but 2^13 would not fit.
        assert_eq!(choose_scale_bits(&g, &[0.99, 3.9], 16, 2.0).unwrap(), 12);
        assert_eq!(choose_scale_bits(&g, &[0.99, 4.0], 16, 2.0).unwrap(), 11);
        // Tiny ranges are capped at MAX_SCALE_BITS and below activation_bits.
        assert_eq!(
            choose_scale_bits(&g, &[1e-6, 1e-6], 32, 2.0).unwrap(),
            MAX_SCALE_BITS
        );
        assert_eq!(choose_scale_bits(&g, &[1e-6, 1e-6], 12, 2.0).unwrap(), 11);
    }

    #[test]
    fn too_large_names_the_tensor_and_the_bits_needed() {
        let g = graph();
        let err = choose_scale_bits(&g, &[1.0, 5000.0], 16, 2.0)
            .unwrap_err()
            .to_string();
        // 5000 * 2 * 16 = 160000 < 2^18: 19 bits.
        assert!(
            err.contains("tensor 'y' (produced by node '/big/Mul' (Mul))"),
            "{err}"
        );
        assert!(err.contains("at least 19 activation bits"), "{err}");
        assert!(choose_scale_bits(&g, &[1.0, 5000.0], 19, 2.0).is_ok());
    }

    #[test]
    fn a_forced_scale_is_checked() {
        let g = graph();
        assert_eq!(check_scale_bits(&g, &[1.0, 1.0], 10, 16, 2.0).unwrap(), 10);
        let err = check_scale_bits(&g, &[3.0, 1.0], 14, 16, 2.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tensor 'x' (produced by a model input)"),
            "{err}"
        );
        assert!(check_scale_bits(&g, &[0.1, 0.1], 16, 16, 2.0).is_err());
    }

    #[test]
    fn options_are_validated() {
        assert!(check_options(16, 0.5).is_err());
        assert!(check_options(16, f64::NAN).is_err());
        assert!(check_options(4, 2.0).is_err());
        assert!(check_options(41, 2.0).is_err());
        assert!(check_options(16, 1.0).is_ok());
    }
}
