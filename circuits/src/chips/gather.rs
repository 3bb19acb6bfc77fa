//! `GatherChip`: the embedding lookup `y[t, j] = E[id_t, j]` of
//! [`zkinfer_quantizer::Op::Gather`], for token ids `id_t` and a fixed
//! embedding matrix `E` (`[vocab, dim]`).
//!
//! # Construction
//!
//! `E` is loaded into the [`PointwiseChip`]'s shared lookup as one more
//! table ([`LookupTable::embedding`]): row `id·dim + j` holds `E[id, j]`,
//! under its own table id. Sharing the pointwise lookup instead of adding
//! one costs no extra lookup argument (each adds commitments, evaluations
//! and EVM verifier code). For each token and column:
//!
//! ```text
//! id + 0          ∈ [0, 2^b)          range chip, b = bits(vocab − 1)
//! id + 2^b − vocab ∈ [0, 2^b)          so 0 ≤ id < vocab
//! x = dim·id + j                       elementwise gate, fixed dim and j
//! y = embedding(x)                     pointwise chip over E's table
//! ```
//!
//! # Soundness
//!
//! The two range checks make `id` an integer in `[0, vocab)` (the second is
//! `id < vocab` once the first makes `id` a small integer). Then `x` is the
//! integer `id·dim + j ∈ [0, vocab·dim)`: a signed value of
//! [`index_bits`] bits, the input bound the pointwise chip's argument needs,
//! and an index inside the table, so the pointwise chip proves
//! `y = E_flat[x] = E[id, j]` through its lookup (the in-range branch; the
//! saturation branches would need an index outside `[0, vocab·dim)`).
//! The table id in each pointwise row is a fixed cell, so a row cannot
//! read another table. An id outside the vocabulary has no witness: integer
//! inference reports it before proving, and a forged one fails the range
//! checks.
//!
//! # Cost
//!
//! Per token two range checks; per gathered value one elementwise row, the
//! pointwise chip's three rows and its gap check. The table adds
//! `vocab·dim` rows to the lookup table columns.

use halo2_proofs::circuit::Layouter;
use halo2_proofs::plonk::Error;
use halo2curves::bn256::Fr;

use crate::cell::QCell;
use crate::chips::elementwise::{Coeffs, ElementwiseChip, Term};
use crate::chips::nonlinear::{bits_for, NonlinearError};
use crate::chips::pointwise::{LoadedTable, LookupTable, PointwiseChip, PointwiseWitness};
use crate::chips::private_gather::{PrivateGatherChip, PrivateTable};
use crate::chips::range::RangeChip;
use crate::rows::Rows;

#[derive(Clone, Debug)]
pub struct GatherChip {
    elementwise: ElementwiseChip,
    pointwise: PointwiseChip,
}

/// Signed width of the flat index `id·dim + j < vocab·dim`.
pub fn index_bits(vocab: usize, dim: usize) -> u32 {
    bits_for((vocab * dim) as u128) + 1
}

impl GatherChip {
    /// Uses the circuit's elementwise and pointwise chips; no gates of its own.
    pub fn new(elementwise: ElementwiseChip, pointwise: PointwiseChip) -> Self {
        GatherChip {
            elementwise,
            pointwise,
        }
    }

    /// Checks the shapes and that the embedding values can be proved.
    pub fn validate(
        table: &LookupTable,
        vocab: usize,
        dim: usize,
        activation_bits: u32,
    ) -> Result<(), NonlinearError> {
        let len = vocab.saturating_mul(dim);
        if vocab == 0 || dim == 0 || table.len() != len || table.lo != 0 || table.in_shift != 0 {
            return Err(NonlinearError::Shape {
                len: table.len(),
                row_len: dim,
            });
        }
        if index_bits(vocab, dim) > 62 {
            return Err(NonlinearError::BadWidths(format!(
                "an embedding of {vocab}×{dim} values is too large to index"
            )));
        }
        PointwiseChip::validate(table, index_bits(vocab, dim), activation_bits).map(|_| ())
    }

    /// The rows of `table` (loaded from [`LookupTable::embedding`]) for each
    /// token id in `ids`, token-major: `ids.len()·dim` cells.
    #[allow(clippy::too_many_arguments)]
    pub fn gather(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        table: &LoadedTable,
        ids: &[QCell],
        vocab: usize,
        dim: usize,
    ) -> Result<Vec<QCell>, Error> {
        self.gather_with(layouter, rows, range, table, ids, vocab, dim, &|_, _| {})
    }

    /// [`Self::gather`] where `tamper(i, w)` may rewrite the pointwise
    /// witness of the `i`-th gathered value (tests forge witnesses with it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gather_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        table: &LoadedTable,
        ids: &[QCell],
        vocab: usize,
        dim: usize,
        tamper: &dyn Fn(usize, &mut PointwiseWitness),
    ) -> Result<Vec<QCell>, Error> {
        Self::validate(table.table(), vocab, dim, 64).map_err(|_| Error::Synthesis)?;
        let index = self.indices(layouter, rows, range, ids, vocab, dim)?;
        self.pointwise.apply_with(
            layouter,
            rows,
            range,
            table,
            &index,
            index_bits(vocab, dim),
            tamper,
        )
    }
}

impl GatherChip {
    /// The proved flat indices `dim·id + j` of every token's row, after
    /// proving `0 ≤ id < vocab` for each id.
    fn indices(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        ids: &[QCell],
        vocab: usize,
        dim: usize,
    ) -> Result<Vec<QCell>, Error> {
        if vocab == 0 || dim == 0 {
            return Err(Error::Synthesis);
        }
        let id_bits = bits_for(vocab as u128 - 1);
        range.check(layouter, rows, ids, id_bits, 0)?;
        range.check(
            layouter,
            rows,
            ids,
            id_bits,
            (1i128 << id_bits) - vocab as i128,
        )?;
        let terms: Vec<Term<'_>> = ids
            .iter()
            .flat_map(|id| {
                (0..dim).map(move |j| Term {
                    a: id,
                    b: None,
                    coeffs: Coeffs {
                        a: dim as i128,
                        constant: j as i128,
                        ..Coeffs::default()
                    },
                })
            })
            .collect();
        self.elementwise.apply(layouter, rows, &terms)
    }

    /// [`Self::gather`] over a private embedding table: the same proved
    /// indices, looked up in `private`'s advice table ([`PrivateGatherChip`]).
    /// The caller range-checks the results to the activation width.
    #[allow(clippy::too_many_arguments)]
    pub fn gather_private(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        private: &PrivateGatherChip,
        table: &PrivateTable,
        table_values: &[QCell],
        ids: &[QCell],
        vocab: usize,
        dim: usize,
    ) -> Result<Vec<QCell>, Error> {
        if table_values.len() != vocab * dim {
            return Err(Error::Synthesis);
        }
        let index = self.indices(layouter, rows, range, ids, vocab, dim)?;
        private.lookup(layouter, rows, table, table_values, &index)
    }
}

#[cfg(test)]
mod tests;
