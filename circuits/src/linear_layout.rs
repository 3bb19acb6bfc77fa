//! Which layout a linear layer gets, and how many gate-track rows each costs.
//!
//! A linear layer `[T, n] × [n, m]` (`T` tokens) has two layouts:
//!
//! - **direct** ([`crate::chips::linear`]): every product recomputed, each
//!   weight laid out once per token: `T·⌈m/L⌉·(n+1)` rows over `L`
//!   accumulator columns, about `T·n·m` cells;
//! - **Freivalds** ([`crate::chips::freivalds`]): the products committed and
//!   checked at a random point: `⌈T/F⌉·(m+n+1) + ⌈n/F⌉·(m+1)` rows over `F`
//!   second-phase lanes, about `n·m + 2·T·(n+m)` cells, but only in a
//!   circuit configured with second-phase columns (`F > 0`).
//!
//! A layer takes the Freivalds layout exactly when the circuit has the
//! second-phase columns, the layer has at least two tokens, and that layout
//! needs fewer rows. With one token it always costs more cells (`W·ρ` alone
//! is `n·m`, plus `n + m` for the check, against `n·m`); its rows could
//! only come out lower through its one extra lane (`F` may reach `L + 1`),
//! not worth a second phase. From two tokens on it usually wins. Whether the circuit gets second-phase columns at all is
//! the planner's choice ([`mod@crate::plan`]): they cost `F + 1` committed
//! columns and must pay for themselves by lowering `k`.
//!
//! The choice depends on the layer's shape and the circuit parameters
//! alone, so key generation, proving and the planner all make the same one.

use crate::chips::{freivalds, linear};
use crate::rows::LinearShape;

/// How a linear layer is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinearLayout {
    Direct,
    Freivalds,
}

/// The layout of a layer of `shape` in a circuit with `lanes` accumulator
/// columns and `freivalds_lanes` second-phase lanes (0: none).
pub fn choose(shape: LinearShape, lanes: usize, freivalds_lanes: usize) -> LinearLayout {
    if freivalds_lanes > 0
        && shape.tokens >= 2
        && shape.out_features > 0
        && freivalds::rows_needed(shape, freivalds_lanes) < linear::rows_needed(shape, lanes)
    {
        LinearLayout::Freivalds
    } else {
        LinearLayout::Direct
    }
}

/// Gate-track rows of a layer of `shape` in the layout [`choose`] picks.
pub fn rows(shape: LinearShape, lanes: usize, freivalds_lanes: usize) -> usize {
    match choose(shape, lanes, freivalds_lanes) {
        LinearLayout::Direct => linear::rows_needed(shape, lanes),
        LinearLayout::Freivalds => freivalds::rows_needed(shape, freivalds_lanes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(tokens: usize, in_features: usize, out_features: usize) -> LinearShape {
        LinearShape {
            tokens,
            in_features,
            out_features,
        }
    }

    #[test]
    fn one_token_stays_direct() {
        for (n, m) in [(64, 64), (8, 6), (784, 128), (1, 1)] {
            for lanes in [3, 8, 14] {
                // Even with one lane more than the direct layout (64×64 on 3
                // and 4 lanes: 22·65 = 1430 direct rows, 129 + 16·65 = 1169).
                for freivalds_lanes in [lanes, lanes + 1] {
                    assert_eq!(
                        choose(shape(1, n, m), lanes, freivalds_lanes),
                        LinearLayout::Direct
                    );
                }
            }
        }
        assert!(
            freivalds::rows_needed(shape(1, 64, 64), 4) < linear::rows_needed(shape(1, 64, 64), 3)
        );
    }

    #[test]
    fn many_tokens_take_freivalds_when_the_circuit_has_it() {
        let s = shape(16, 64, 64);
        assert_eq!(choose(s, 3, 3), LinearLayout::Freivalds);
        assert_eq!(choose(s, 14, 3), LinearLayout::Freivalds);
        assert_eq!(choose(s, 14, 1), LinearLayout::Direct);
        assert_eq!(choose(s, 3, 0), LinearLayout::Direct);
        // 16·⌈64/3⌉·65 against ⌈16/3⌉·129 + ⌈64/3⌉·65.
        assert_eq!(rows(s, 3, 0), 16 * 22 * 65);
        assert_eq!(rows(s, 3, 3), 6 * 129 + 22 * 65);
    }

    #[test]
    fn ties_and_empty_layers_stay_direct() {
        // 4·1·7 = 28 either way.
        assert_eq!(
            linear::rows_needed(shape(4, 6, 3), 3),
            freivalds::rows_needed(shape(4, 6, 3), 3)
        );
        assert_eq!(choose(shape(4, 6, 3), 3, 3), LinearLayout::Direct);
        assert_eq!(choose(shape(4, 6, 0), 3, 3), LinearLayout::Direct);
        assert_eq!(choose(shape(0, 6, 3), 3, 3), LinearLayout::Direct);
    }
}
