//! The rows a [`super::PointwiseChip`] table holds, whatever they came from:
//! a nonlinearity sampled by the quantizer ([`PointwiseTable`]) or an
//! embedding matrix indexed by `token·dim + j` (see
//! [`crate::chips::gather`]). The chip proves `y = eval(x)` for either; only
//! the name in error messages tells them apart.

use zkinfer_quantizer::nonlinear::table::saturating_lookup;
use zkinfer_quantizer::nonlinear::{PointwiseTable, Saturation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupTable {
    /// What the table computes, for error messages (`GeluTanh`, `embedding`).
    pub name: String,
    /// `t`: the index is `floor(x / 2^t)`.
    pub in_shift: u32,
    /// Smallest and largest index the table holds (inclusive).
    pub lo: i64,
    pub hi: i64,
    pub below: Saturation,
    pub above: Saturation,
    /// Outputs for indices `lo..=hi`.
    pub values: Vec<i64>,
}

impl From<&PointwiseTable> for LookupTable {
    fn from(t: &PointwiseTable) -> Self {
        LookupTable {
            name: format!("{:?}", t.func),
            in_shift: t.in_shift,
            lo: t.lo,
            hi: t.hi,
            below: t.below,
            above: t.above,
            values: t.values.clone(),
        }
    }
}

impl LookupTable {
    /// An embedding matrix `[vocab, dim]` (row-major) as a table indexed by
    /// `token·dim + j`. Indices outside it saturate to 0, but the gather chip
    /// proves every index is inside before it looks one up.
    pub fn embedding(values: &[i64]) -> Self {
        LookupTable {
            name: "embedding".into(),
            in_shift: 0,
            lo: 0,
            hi: values.len() as i64 - 1,
            below: Saturation::Const(0),
            above: Saturation::Const(0),
            values: values.to_vec(),
        }
    }

    /// `floor(x / 2^t)` and the remainder.
    pub fn index(&self, x: i64) -> (i64, i64) {
        let d = 1i64 << self.in_shift;
        (x.div_euclid(d), x.rem_euclid(d))
    }

    /// The output for `x`, saturating outside `[lo, hi]` (what
    /// [`PointwiseTable::eval`] computes for a nonlinearity).
    pub fn eval(&self, x: i64) -> i64 {
        let (i, _) = self.index(x);
        saturating_lookup(x, i, self.lo, [self.below, self.above], &self.values)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Structural checks: at least one row, one value per index, and a shift
    /// small enough for `2^t` to be an `i64`.
    pub fn is_consistent(&self) -> bool {
        self.lo <= self.hi
            && self.in_shift < 40
            && self.values.len() as i128 == self.hi as i128 - self.lo as i128 + 1
    }
}

#[cfg(test)]
mod tests {
    use zkinfer_quantizer::nonlinear::Nonlinearity;

    use super::*;

    #[test]
    fn a_converted_table_evaluates_as_the_quantizer_does() {
        let t = PointwiseTable::build(
            Nonlinearity::Tanh,
            6,
            2,
            -20,
            20,
            Saturation::Const(-64),
            Saturation::Const(64),
        );
        let l = LookupTable::from(&t);
        assert!(l.is_consistent());
        for x in -200..200 {
            assert_eq!(l.eval(x), t.eval(x), "x = {x}");
        }
    }

    #[test]
    fn an_embedding_is_indexed_by_position() {
        let l = LookupTable::embedding(&[5, 6, 7, 8]);
        assert!(l.is_consistent());
        assert_eq!((0..4).map(|x| l.eval(x)).collect::<Vec<_>>(), [5, 6, 7, 8]);
        assert_eq!(l.eval(4), 0);
        assert!(!LookupTable::embedding(&[]).is_consistent());
    }
}
