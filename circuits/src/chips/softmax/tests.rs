use halo2_proofs::circuit::Layouter;
use zkinfer_quantizer::nonlinear::{softmax_row, Nonlinearity, PointwiseTable, Saturation};

use super::*;
use crate::chips::nonlinear::testing::{
    known, random_values, verify, witness_cells, NonlinearConfig, Scenario, ACTIVATION_BITS,
    SCALE_BITS,
};
use crate::testing::{assert_rejected, Kind};

/// exp over `[−8, 0]` (one index per input step), 0 below and 1 above.
fn exp_table() -> PointwiseTable {
    let (s, one) = (SCALE_BITS, 1 << SCALE_BITS);
    PointwiseTable::build(
        Nonlinearity::Exp,
        s,
        0,
        -(8 << s),
        0,
        Saturation::Const(0),
        Saturation::Const(one),
    )
}

/// The quantizer's shape of exp table (`tables::softmax_exp_table`): it ends
/// at index −1 with a shift, and index 0 (the max itself) saturates above to
/// exactly `2^s`.
fn shifted_exp_table() -> PointwiseTable {
    let (s, one) = (SCALE_BITS, 1 << SCALE_BITS);
    PointwiseTable::build(
        Nonlinearity::Exp,
        s,
        2,
        -128,
        -1,
        Saturation::Const(0),
        Saturation::Const(one),
    )
}

const T: usize = 5;

#[derive(Clone, Copy, Debug)]
enum Forge {
    Honest,
    /// Row `row`'s max becomes `to`.
    Max {
        row: usize,
        to: i128,
    },
    /// `y += dy` for one entry; with `adjust`, `r −= dy·S` (and the slack follows).
    Division {
        row: usize,
        entry: usize,
        dy: i128,
        adjust: bool,
    },
    /// A masked output becomes `value`.
    Masked {
        row: usize,
        entry: usize,
        value: i128,
    },
}

impl SoftmaxForgery for Forge {
    fn max(&self, row: usize, max: &mut i128) {
        if let Forge::Max { row: r, to } = *self {
            if r == row {
                *max = to;
            }
        }
    }

    fn division(&self, row: usize, entry: usize, sum: i128, w: &mut DivisionWitness) {
        if let Forge::Division {
            row: r,
            entry: e,
            dy,
            adjust,
        } = *self
        {
            if (r, e) == (row, entry) {
                w.y += dy;
                if adjust {
                    w.rem -= dy * sum;
                    w.slack += dy * sum;
                }
            }
        }
    }

    fn masked(&self, row: usize, entry: usize, y: &mut i128) {
        if let Forge::Masked {
            row: r,
            entry: e,
            value,
        } = *self
        {
            if (r, e) == (row, entry) {
                *y = value;
            }
        }
    }
}

#[derive(Clone)]
struct Softmax {
    table: PointwiseTable,
    inputs: Vec<i128>,
    mask: Mask,
    forge: Forge,
}

impl Scenario for Softmax {
    fn tables(&self) -> Vec<PointwiseTable> {
        vec![self.table.clone()]
    }

    fn run(
        &self,
        config: &NonlinearConfig,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        tables: &[LoadedTable],
    ) -> Result<(), Error> {
        let x = witness_cells(config, layouter, rows, &self.inputs)?;
        let y = config.softmax.softmax_with(
            layouter,
            rows,
            &config.range,
            &tables[0],
            &x,
            T,
            self.mask,
            &self.forge,
        )?;
        if matches!(self.forge, Forge::Honest) {
            let want: Vec<i128> = self
                .inputs
                .chunks(T)
                .enumerate()
                .flat_map(|(r, row)| {
                    let row: Vec<i64> = row.iter().map(|&v| v as i64).collect();
                    softmax_row(&row, self.mask.valid(r, T), &self.table, SCALE_BITS).outputs
                })
                .map(i128::from)
                .collect();
            assert_eq!(known(&y), want);
        }
        Ok(())
    }
}

/// Two `[T, T]` score matrices: rows of close scores (so most exponentials
/// are inside the table), one of spread scores (saturating below), one with
/// a tied max, and random full-range rows.
fn scores() -> Vec<i128> {
    let half = 1i128 << (ACTIVATION_BITS - 1);
    let mut v = random_values(1, 3 * T, -200, 200);
    v.extend([-half, half - 1, 0, 700, -900]);
    v.extend([90, 300, 300, -5, 12]);
    v.extend(random_values(2, T, -half, half - 1));
    v.extend(random_values(3, 4 * T, -400, 300));
    v
}

fn forged(forge: Forge) -> Softmax {
    Softmax {
        table: exp_table(),
        inputs: scores(),
        mask: Mask::None,
        forge,
    }
}

#[test]
fn honest_rows_match_the_spec() {
    for table in [exp_table(), shifted_exp_table()] {
        for mask in [Mask::None, Mask::Causal] {
            let honest = Softmax {
                table: table.clone(),
                inputs: scores(),
                mask,
                forge: Forge::Honest,
            };
            assert_eq!(verify(honest), Ok(()), "{mask:?}, shift {}", table.in_shift);
        }
    }
}

#[test]
fn causal_mask_keeps_a_prefix_of_each_row() {
    assert_eq!(Mask::Causal.valid(0, T), 1);
    assert_eq!(Mask::Causal.valid(T - 1, T), T);
    assert_eq!(Mask::Causal.valid(T + 2, T), 3);
    assert_eq!(Mask::None.valid(3, T), T);
}

#[test]
fn a_max_above_every_entry_fails_the_product() {
    // Row 4 is [90, 300, 300, −5, 12]: 301 dominates every entry but is none of them.
    assert_rejected(
        verify(forged(Forge::Max { row: 4, to: 301 })),
        &[Kind::Gate],
    );
}

#[test]
fn an_entry_below_the_max_fails_the_comparison() {
    // 90 is an entry (the product vanishes) but 300 − 90 > 0 fails d ≤ 0.
    assert_rejected(
        verify(forged(Forge::Max { row: 4, to: 90 })),
        &[Kind::Lookup],
    );
}

#[test]
fn an_output_off_by_one_fails_the_remainder_bounds() {
    // y + 1 with r − S: r < 0.
    let up = Forge::Division {
        row: 0,
        entry: 2,
        dy: 1,
        adjust: true,
    };
    assert_rejected(verify(forged(up)), &[Kind::Lookup]);
    // y − 1 with r + S: r ≥ S, so the slack S − 1 − r < 0.
    let down = Forge::Division {
        row: 4,
        entry: 1,
        dy: -1,
        adjust: true,
    };
    assert_rejected(verify(forged(down)), &[Kind::Lookup]);
    // Without the remainder following, the division gate fails.
    let bare = Forge::Division {
        row: 0,
        entry: 2,
        dy: 1,
        adjust: false,
    };
    assert_rejected(verify(forged(bare)), &[Kind::Gate]);
}

#[test]
fn a_masked_output_must_be_zero() {
    let forge = Forge::Masked {
        row: 2,
        entry: 4,
        value: 1,
    };
    let masked = Softmax {
        table: exp_table(),
        inputs: scores(),
        mask: Mask::Causal,
        forge,
    };
    assert_rejected(verify(masked), &[Kind::Gate]);
}

#[test]
fn validation_names_the_problem() {
    let (s, b) = (SCALE_BITS, ACTIVATION_BITS);
    // Row sums reach 5·2^s = 320 < 2^9.
    assert_eq!(
        SoftmaxChip::validate(&(&exp_table()).into(), T, s, b),
        Ok(9)
    );
    let mut identity = exp_table();
    identity.below = Saturation::Identity;
    assert!(matches!(
        SoftmaxChip::validate(&(&identity).into(), T, s, b),
        Err(NonlinearError::BadExpTable(_)) | Err(NonlinearError::BadTable { .. })
    ));
    let mut negative = exp_table();
    negative.values[0] = -1;
    assert!(matches!(
        SoftmaxChip::validate(&(&negative).into(), T, s, b),
        Err(NonlinearError::BadExpTable(_))
    ));
    let mut vanishing = exp_table();
    *vanishing.values.last_mut().unwrap() = 0;
    assert!(matches!(
        SoftmaxChip::validate(&(&vanishing).into(), T, s, b),
        Err(NonlinearError::BadExpTable(_))
    ));
    assert!(matches!(
        SoftmaxChip::validate(&(&exp_table()).into(), T, s, s + 1),
        Err(NonlinearError::BadWidths(_))
    ));
}

#[test]
fn layout_cost_is_six_gate_rows_and_five_checks_per_unmasked_entry() {
    #[derive(Clone)]
    struct Cost(Mask);
    impl Scenario for Cost {
        fn tables(&self) -> Vec<PointwiseTable> {
            vec![exp_table()]
        }
        fn run(
            &self,
            config: &NonlinearConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
            tables: &[LoadedTable],
        ) -> Result<(), Error> {
            let x = witness_cells(config, layouter, rows, &random_values(5, T * T, -300, 300))?;
            let before = rows.gate_rows();
            let sm = &config.softmax;
            sm.softmax(layouter, rows, &config.range, &tables[0], &x, T, self.0)?;
            let (unmasked, masked) = match self.0 {
                Mask::None => (T * T, 0),
                Mask::Causal => (T * (T + 1) / 2, T * (T - 1) / 2),
            };
            assert_eq!(rows.gate_rows() - before, 6 * unmasked + masked.div_ceil(4));
            // d_j and the exp comparison (14 bits), r_j and S − 1 − r_j
            // (K = 9 bits), y_j (s + 1 = 7 bits); exp has no index shift.
            let checks: Vec<(u32, usize)> = rows
                .demand()
                .range_checks
                .iter()
                .map(|(&b, &n)| (b, n))
                .collect();
            assert_eq!(
                checks,
                [(7, unmasked), (9, 2 * unmasked), (14, 2 * unmasked)]
            );
            Ok(())
        }
    }
    assert_eq!(verify(Cost(Mask::None)), Ok(()));
    assert_eq!(verify(Cost(Mask::Causal)), Ok(()));
}
