//! Row allocation.
//!
//! halo2-axiom's `SimpleFloorPlanner` places every region at row 0: region
//! offsets are absolute rows, and the circuit decides where each region goes.
//! The circuit keeps two independent stacks of rows ("tracks"):
//!
//! - the **range track**, the lookup columns of [`crate::chips::range`]
//!   ("lanes", one or more side by side), where every range check lives;
//! - the **gate track**, the other advice columns, where every other chip
//!   lays out its rows.
//!
//! The tracks share row numbers but no columns, so a region of one never
//! overlaps a region of the other, and the circuit height is the taller track.
//!
//! A batch of range checks is cut into `⌈count / lanes⌉`-check chunks, each
//! placed on the lane that is lowest at that moment ([`allocate_checks`]),
//! so the lanes stay level. The planner replays the same allocation on the
//! recorded batches to predict the track's height for any number of lanes.
//!
//! The allocator also records the [`Demand`] behind the two parameters that
//! change heights: range checks by width (their rows depend on
//! `lookup_bits`) and linear layers by shape (their rows depend on the number
//! of accumulator columns and Freivalds lanes, see [`crate::linear_layout`])
//! and products of two activations by shape (their rows depend on the lanes)
//! and groups of packed public values by size (their rows depend on the
//! number of gate columns).
//! Every other allocation is the same for any parameters, so one synthesis
//! tells the planner every layout's height.
//!
//! A Freivalds check's second-phase cells sit in the gate-track rows its
//! layer reserved when it committed its products, so the two phases share
//! one allocation.

use std::collections::BTreeMap;

/// Next free row of each track, and what was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rows {
    gate: usize,
    /// Next free row of each range lane (at least one).
    range: Vec<usize>,
    demand: Demand,
}

impl Default for Rows {
    fn default() -> Self {
        Rows::with_range_lanes(1)
    }
}

/// The parameter-dependent part of a layout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Demand {
    /// Number of range checks of each width (bits).
    pub range_checks: BTreeMap<u32, usize>,
    /// Every batch of range checks, in order: `(bits, count)`.
    pub range_batches: Vec<(u32, usize)>,
    /// Shapes of the linear layers laid out.
    pub linear: Vec<LinearShape>,
    /// Shapes of the products of two activations laid out (always checked
    /// by Freivalds: their rows depend on the lanes only).
    pub matmul: Vec<LinearShape>,
    /// Values in each group of packed public values (their rows depend on
    /// the number of gate columns, see [`crate::chips::pack`]).
    pub packs: Vec<(usize, u32)>,
}

/// A linear layer: `tokens` rows of `in_features` inputs, `out_features` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    pub tokens: usize,
    pub in_features: usize,
    pub out_features: usize,
}

impl Rows {
    /// An empty allocation over `lanes` range lanes (at least one).
    pub fn with_range_lanes(lanes: usize) -> Self {
        Rows {
            gate: 0,
            range: vec![0; lanes.max(1)],
            demand: Demand::default(),
        }
    }

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

    /// Reserves the gate rows of a group of `values` packed public values
    /// and records its size.
    pub fn take_pack(&mut self, values: usize, bits: u32, n: usize) -> usize {
        self.demand.packs.push((values, bits));
        self.take_gate(n)
    }

    /// Reserves the gate rows of a product of two activations and records
    /// its shape.
    pub fn take_matmul(&mut self, shape: LinearShape, n: usize) -> usize {
        self.demand.matmul.push(shape);
        self.take_gate(n)
    }

    /// Reserves `count` range checks of `bits` bits, `rows_each` rows each,
    /// in the range track: chunks `(lane, first row, checks)` covering the
    /// checks in order.
    pub fn take_range_checks(
        &mut self,
        bits: u32,
        count: usize,
        rows_each: usize,
    ) -> Vec<(usize, usize, usize)> {
        *self.demand.range_checks.entry(bits).or_default() += count;
        self.demand.range_batches.push((bits, count));
        allocate_checks(&mut self.range, count, rows_each)
    }

    /// Rows used so far in the gate track.
    pub fn gate_rows(&self) -> usize {
        self.gate
    }

    /// Rows used so far in the range track (its tallest lane).
    pub fn range_rows(&self) -> usize {
        self.range.iter().copied().max().unwrap_or(0)
    }

    pub fn demand(&self) -> &Demand {
        &self.demand
    }
}

/// Places `count` checks of `rows_each` rows on lanes whose next free rows
/// are `lanes`: chunks of `⌈count / lanes⌉` checks, each on the lowest lane
/// (the first of equals). Returns `(lane, first row, checks)` per chunk.
pub fn allocate_checks(
    lanes: &mut [usize],
    count: usize,
    rows_each: usize,
) -> Vec<(usize, usize, usize)> {
    let chunk = count.div_ceil(lanes.len().max(1)).max(1);
    let mut placed = Vec::new();
    let mut left = count;
    while left > 0 {
        let n = chunk.min(left);
        let (lane, &start) = lanes
            .iter()
            .enumerate()
            .min_by_key(|&(i, &h)| (h, i))
            .expect("at least one range lane");
        lanes[lane] = start + n * rows_each;
        placed.push((lane, start, n));
        left -= n;
    }
    placed
}

/// Height of the range track with `lanes` lanes for `batches` of
/// `(bits, count)`, each check taking `rows_each(bits)` rows.
pub fn range_height(
    batches: &[(u32, usize)],
    lanes: usize,
    rows_each: impl Fn(u32) -> usize,
) -> usize {
    let mut heights = vec![0; lanes.max(1)];
    for &(bits, count) in batches {
        allocate_checks(&mut heights, count, rows_each(bits));
    }
    heights.into_iter().max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_spread_over_the_lowest_lanes() {
        let mut lanes = vec![0, 0];
        assert_eq!(
            allocate_checks(&mut lanes, 5, 2),
            vec![(0, 0, 3), (1, 0, 2)]
        );
        assert_eq!(lanes, vec![6, 4]);
        // A single check goes to the lower lane.
        assert_eq!(allocate_checks(&mut lanes, 1, 3), vec![(1, 4, 1)]);
        assert_eq!(lanes, vec![6, 7]);
        assert_eq!(allocate_checks(&mut lanes, 0, 3), vec![]);
    }

    #[test]
    fn one_lane_stacks_every_check() {
        let batches = [(8, 3), (20, 2), (4, 7)];
        assert_eq!(range_height(&batches, 1, |b| b as usize), 24 + 40 + 28);
        assert_eq!(range_height(&batches, 2, |b| b as usize), 12 + 20 + 16);
    }
}
