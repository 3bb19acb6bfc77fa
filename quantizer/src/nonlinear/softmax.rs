//! Softmax of one row, in integers.
//!
//! For a row `x` (scale `2^s`) whose first `valid` entries are unmasked (a
//! causal mask leaves `valid = i + 1` in row `i`):
//!
//! ```text
//! m   = max_{j < valid} x_j                      (the max is one of the entries)
//! d_j = x_j − m ≤ 0
//! e_j = exp_table(d_j)                           (scale 2^s; exp(0) = 2^s, so S ≥ 2^s)
//! S   = Σ_{j < valid} e_j
//! y_j = floor(e_j · 2^s / S),  e_j·2^s = y_j·S + r_j,  0 ≤ r_j < S
//! y_j = 0 for masked j ≥ valid
//! ```
//!
//! So `Σ y_j ∈ (2^s − valid, 2^s]`: a row sums to one within `valid` steps.

use super::table::PointwiseTable;

/// The intermediate values a softmax chip lays out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftmaxWitness {
    pub max: i64,
    pub exps: Vec<i64>,
    pub sum: i64,
    pub outputs: Vec<i64>,
    pub remainders: Vec<i64>,
}

pub fn softmax_row(
    x: &[i64],
    valid: usize,
    exp: &PointwiseTable,
    scale_bits: u32,
) -> SoftmaxWitness {
    assert!(
        valid >= 1 && valid <= x.len(),
        "a softmax row needs at least one unmasked entry"
    );
    let max = *x[..valid].iter().max().expect("valid >= 1");
    let exps: Vec<i64> = x[..valid].iter().map(|&v| exp.eval(v - max)).collect();
    let sum: i64 = exps.iter().sum();
    let one = 1i128 << scale_bits;
    let mut outputs = vec![0; x.len()];
    let mut remainders = vec![0; valid];
    for (j, &e) in exps.iter().enumerate() {
        let num = e as i128 * one;
        outputs[j] = (num / sum as i128) as i64;
        remainders[j] = (num % sum as i128) as i64;
    }
    SoftmaxWitness {
        max,
        exps,
        sum,
        outputs,
        remainders,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nonlinear::table::{Nonlinearity, Saturation};

    fn exp_table(s: u32) -> PointwiseTable {
        PointwiseTable::build(
            Nonlinearity::Exp,
            s,
            0,
            -(16 << s),
            0,
            Saturation::Const(0),
            Saturation::Const(1 << s),
        )
    }

    #[test]
    fn rows_are_normalized_and_track_the_float_softmax() {
        let s = 10;
        let exp = exp_table(s);
        let x: Vec<i64> = [0.3, -1.2, 2.5, 0.0, 1.1]
            .iter()
            .map(|v: &f64| (v * 1024.0).round() as i64)
            .collect();
        let w = softmax_row(&x, x.len(), &exp, s);
        let total: i64 = w.outputs.iter().sum();
        assert!(total <= 1024 && total > 1024 - 5, "sum {total}");
        let fx: Vec<f64> = x.iter().map(|&v| v as f64 / 1024.0).collect();
        let z: f64 = fx.iter().map(|v| v.exp()).sum();
        for (j, &y) in w.outputs.iter().enumerate() {
            assert!(
                (y as f64 / 1024.0 - fx[j].exp() / z).abs() < 3e-3,
                "entry {j}"
            );
        }
        for (j, &r) in w.remainders.iter().enumerate() {
            assert_eq!(
                w.exps[j] as i128 * 1024,
                w.outputs[j] as i128 * w.sum as i128 + r as i128
            );
            assert!((0..w.sum).contains(&r));
        }
    }

    #[test]
    fn masked_entries_are_zero_and_ignored() {
        let s = 8;
        let x = vec![10, 20, 5000, 6000];
        let w = softmax_row(&x, 2, &exp_table(s), s);
        assert_eq!(w.max, 20, "the max is over unmasked entries only");
        assert_eq!(&w.outputs[2..], &[0, 0]);
        assert!(w.outputs[1] > w.outputs[0]);
    }
}
