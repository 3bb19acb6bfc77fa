//! How close a proved output is to the float model, beyond the largest
//! absolute difference: whether logits still pick the same top-1 entry, and
//! how well hidden states / embeddings keep their direction (cosine
//! similarity). Both work on vectors along an output's last axis (one per
//! token), on the dequantized proved values and the float reference.

/// Figures of the proved outputs against the float reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Accuracy {
    /// Max over all outputs and elements of |proved - float|.
    pub max_abs_error: f64,
    /// Vectors whose argmax agrees, and how many there are (logits only).
    pub top1: Option<(usize, usize)>,
    /// The smallest cosine similarity of a proved vector with its float
    /// counterpart (embeddings only).
    pub min_cosine: Option<f64>,
}

/// Max |a - b| over all outputs.
pub fn max_abs_error(proved: &[Vec<f64>], reference: &[Vec<f64>]) -> f64 {
    proved
        .iter()
        .flatten()
        .zip(reference.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// Pairs of vectors along the last axis of each output: `widths[i]` is the
/// last dimension of output `i`.
fn rows<'a>(
    proved: &'a [Vec<f64>],
    reference: &'a [Vec<f64>],
    widths: &'a [usize],
) -> impl Iterator<Item = (&'a [f64], &'a [f64])> {
    proved
        .iter()
        .zip(reference)
        .zip(widths)
        .flat_map(|((p, r), &w)| p.chunks(w.max(1)).zip(r.chunks(w.max(1))))
}

/// Index of the largest value (the first one on ties).
fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// How many vectors (tokens) have the same argmax in `proved` as in
/// `reference`, out of how many.
pub fn top1_agreement(
    proved: &[Vec<f64>],
    reference: &[Vec<f64>],
    widths: &[usize],
) -> (usize, usize) {
    rows(proved, reference, widths).fold((0, 0), |(agree, total), (p, r)| {
        (agree + usize::from(argmax(p) == argmax(r)), total + 1)
    })
}

/// cos(a, b); two zero vectors count as identical, one zero vector as orthogonal.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let (na, nb) = (
        a.iter().map(|x| x * x).sum::<f64>().sqrt(),
        b.iter().map(|x| x * x).sum::<f64>().sqrt(),
    );
    match (na == 0.0, nb == 0.0) {
        (true, true) => 1.0,
        (false, false) => dot / (na * nb),
        _ => 0.0,
    }
}

/// The smallest cosine similarity over all vectors of all outputs.
pub fn min_cosine(proved: &[Vec<f64>], reference: &[Vec<f64>], widths: &[usize]) -> f64 {
    rows(proved, reference, widths)
        .map(|(p, r)| cosine(p, r))
        .fold(1.0, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top1_counts_tokens_whose_argmax_agrees() {
        // Two outputs: [2 tokens x 3] and [1 x 2].
        let proved = vec![vec![0.1, 0.9, 0.0, 0.5, 0.4, 0.3], vec![1.0, 2.0]];
        let float = vec![vec![0.2, 0.8, 0.1, 0.3, 0.6, 0.0], vec![0.0, 3.0]];
        assert_eq!(top1_agreement(&proved, &float, &[3, 2]), (2, 3));
        assert_eq!(argmax(&[1.0, 1.0, 0.0]), 0, "ties pick the first");
    }

    #[test]
    fn cosine_is_one_for_parallel_vectors_and_takes_the_worst_token() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[0.0, 0.0]), 1.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        let proved = vec![vec![1.0, 0.0, 1.0, 1.0]];
        let float = vec![vec![1.0, 0.0, -1.0, 1.0]];
        assert!(min_cosine(&proved, &float, &[2]).abs() < 1e-12);
        assert_eq!(max_abs_error(&proved, &float), 2.0);
    }
}
