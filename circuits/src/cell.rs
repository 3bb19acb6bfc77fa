//! A proved quantized value: a circuit cell together with its integer value.

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::plonk::{Advice, Column};
use halo2curves::bn256::Fr;

use crate::field::fr_from_i128;

/// A cell holding the field element `value mod p`.
///
/// Chips take and return `QCell`s: the `cell` is what copy constraints tie
/// together, the `value` is the witness the next chip computes from. The value
/// is unknown while generating keys. It is an `i128` because pre-rescale
/// accumulators exceed `i64`; activations always fit in `i64`.
#[derive(Clone, Copy, Debug)]
pub struct QCell {
    pub cell: Cell,
    pub value: Value<i128>,
}

impl QCell {
    /// Assigns `value` to a fresh advice cell. The cell is unconstrained until
    /// a gate, lookup or copy constraint uses it.
    pub fn assign(
        region: &mut Region<'_, Fr>,
        column: Column<Advice>,
        row: usize,
        value: Value<i128>,
    ) -> Self {
        let assigned = region.assign_advice(column, row, value.map(fr_from_i128));
        QCell {
            cell: assigned.cell(),
            value,
        }
    }

    /// Copies this value into a new advice cell and constrains the two cells
    /// to be equal, so the new cell is the same proved value.
    pub fn copy_to(&self, region: &mut Region<'_, Fr>, column: Column<Advice>, row: usize) -> Self {
        let copy = Self::assign(region, column, row, self.value);
        region.constrain_equal(copy.cell, self.cell);
        copy
    }

    /// The value as a field element.
    pub fn fr(&self) -> Value<Fr> {
        self.value.map(fr_from_i128)
    }
}

/// A cell holding any field element: a packed word or a hash, values that
/// do not fit [`QCell`]'s `i128`.
#[derive(Clone, Copy, Debug)]
pub struct FieldCell {
    pub cell: Cell,
    pub value: Value<Fr>,
}
