//! Row allocation.
//!
//! halo2-axiom's `SimpleFloorPlanner` places every region at row 0: region
//! offsets are absolute rows, and the circuit decides where each region goes.
//! The circuit keeps two independent stacks of rows ("tracks"):
//!
//! - the **range track**, the lookup column of [`crate::chips::range`], where
//!   every range check lives;
//! - the **gate track**, the other advice columns, where every other chip
//!   lays out its rows.
//!
//! The tracks share row numbers but no columns, so a region of one never
//! overlaps a region of the other, and the circuit height is the taller track.
//!
//! The allocator also records the [`Demand`] behind the two parameters that
//! change heights: range checks by width (their rows depend on
//! `lookup_bits`) and linear layers by shape (their rows depend on the number
//! of accumulator columns and Freivalds lanes, see [`crate::linear_layout`])
//! and products of two activations by shape (their rows depend on the lanes).
//! Every other allocation is the same for any parameters, so one synthesis
//! tells the planner every layout's height.
//!
//! A Freivalds check's second-phase cells sit in the gate-track rows its
//! layer reserved when it committed its products, so the two phases share
//! one allocation.

use std::collections::BTreeMap;

/// Next free row of each track, and what was asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    gate: usize,
    range: usize,
    demand: Demand,
}

/// The parameter-dependent part of a layout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Demand {
    /// Number of range checks of each width (bits).
    pub range_checks: BTreeMap<u32, usize>,
    /// Shapes of the linear layers laid out.
    pub linear: Vec<LinearShape>,
    /// Shapes of the products of two activations laid out (always checked
    /// by Freivalds: their rows depend on the lanes only).
    pub matmul: Vec<LinearShape>,
}

/// A linear layer: `tokens` rows of `in_features` inputs, `out_features` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    pub tokens: usize,
    pub in_features: usize,
    pub out_features: usize,
}

impl Rows {
    /// Reserves `n` rows of the gate track and returns the first.
    pub fn take_gate(&mut self, n: usize) -> usize {
        let start = self.gate;
        self.gate += n;
        start
    }

    /// Reserves the gate rows of a linear layer and records its shape.
    pub fn take_linear(&mut self, shape: LinearShape, n: usize) -> usize {
        self.demand.linear.push(shape);
        self.take_gate(n)
    }

    /// Reserves the gate rows of a product of two activations and records
    /// its shape.
    pub fn take_matmul(&mut self, shape: LinearShape, n: usize) -> usize {
        self.demand.matmul.push(shape);
        self.take_gate(n)
    }

    /// Reserves `count` range checks of `bits` bits, `rows_each` rows each,
    /// in the range track and returns the first row.
    pub fn take_range_checks(&mut self, bits: u32, count: usize, rows_each: usize) -> usize {
        *self.demand.range_checks.entry(bits).or_default() += count;
        let start = self.range;
        self.range += count * rows_each;
        start
    }

    /// Rows used so far in the gate track.
    pub fn gate_rows(&self) -> usize {
        self.gate
    }

    /// Rows used so far in the range track.
    pub fn range_rows(&self) -> usize {
        self.range
    }

    pub fn demand(&self) -> &Demand {
        &self.demand
    }
}
