//! The shared pool of columns.
//!
//! All chips lay out their cells in the same few columns (halo2-base style),
//! each with its own selectors and gates over the pool. The number of columns
//! and lookups, not rows, is what makes the EVM verifier large, so the pool is
//! kept small and sized only by [`crate::CircuitParams`].
//!
//! - `advice[0]`: the lookup column, used by the range chip alone (the range
//!   track, see [`crate::rows`]);
//! - `advice[1..]`: the gate columns every other chip shares;
//! - `fixed`: coefficient columns (linear weights, elementwise constants),
//!   read only on rows whose chip selector is on;
//! - `instance`: the public inputs then outputs;
//! - `second_phase`: only in circuits with a Freivalds check
//!   ([`crate::chips::freivalds`]): advice committed after the challenge is
//!   drawn, `x` then the lanes' accumulators. Allocated last, so a circuit
//!   without them has exactly the columns it had before they existed.
//!
//! - `extra_lookup`: the range track's lanes after the first
//!   ([`crate::chips::range`]), allocated after everything else for the same
//!   reason.
//!
//! Equality is enabled on every advice column and on the instance column, so
//! any proved value can be copied anywhere.

use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance, SecondPhase};
use halo2curves::bn256::Fr;

#[derive(Clone, Debug)]
pub struct Columns {
    pub advice: Vec<Column<Advice>>,
    pub fixed: Vec<Column<Fixed>>,
    pub instance: Column<Instance>,
    pub second_phase: Vec<Column<Advice>>,
    pub extra_lookup: Vec<Column<Advice>>,
}

impl Columns {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        num_advice: usize,
        num_fixed: usize,
        num_second_phase: usize,
        num_extra_lookup: usize,
    ) -> Self {
        let advice: Vec<_> = (0..num_advice).map(|_| meta.advice_column()).collect();
        for &column in &advice {
            meta.enable_equality(column);
        }
        let fixed = (0..num_fixed).map(|_| meta.fixed_column()).collect();
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let second_phase: Vec<_> = (0..num_second_phase)
            .map(|_| meta.advice_column_in(SecondPhase))
            .collect();
        for &column in &second_phase {
            meta.enable_equality(column);
        }
        let extra_lookup: Vec<_> = (0..num_extra_lookup)
            .map(|_| meta.advice_column())
            .collect();
        for &column in &extra_lookup {
            meta.enable_equality(column);
        }
        Columns {
            advice,
            fixed,
            instance,
            second_phase,
            extra_lookup,
        }
    }

    /// The column the range chip looks up.
    pub fn lookup(&self) -> Column<Advice> {
        self.advice[0]
    }

    /// Every lane of the range track: `lookup()` then the extra ones.
    pub fn lookups(&self) -> Vec<Column<Advice>> {
        std::iter::once(self.advice[0])
            .chain(self.extra_lookup.iter().copied())
            .collect()
    }

    /// The columns every other chip shares.
    pub fn gate(&self) -> &[Column<Advice>] {
        &self.advice[1..]
    }
}
