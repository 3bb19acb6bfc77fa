use halo2_proofs::circuit::Layouter;
use zkinfer_quantizer::nonlinear::{Nonlinearity, PointwiseTable, Saturation};

use super::*;
use crate::chips::nonlinear::testing::{
    known, random_values, verify, witness_cells, NonlinearConfig, Scenario, ACTIVATION_BITS,
    SCALE_BITS,
};
use crate::testing::{assert_rejected, Kind};

/// GELU over `[−4, 4)` in steps of 4/64: 0 below, the identity above.
fn gelu() -> PointwiseTable {
    let s = SCALE_BITS;
    PointwiseTable::build(
        Nonlinearity::Gelu,
        s,
        2,
        -64,
        63,
        Saturation::Const(0),
        Saturation::Identity,
    )
}

/// tanh over `[−3.1, 3.1]`, saturating to ±1.
fn tanh() -> PointwiseTable {
    let (s, one) = (SCALE_BITS, 1 << SCALE_BITS);
    PointwiseTable::build(
        Nonlinearity::Tanh,
        s,
        1,
        -100,
        99,
        Saturation::Const(-one),
        Saturation::Const(one),
    )
}

/// exp over `[−4.7, 0]` with no index shift (`t = 0`).
fn exp() -> PointwiseTable {
    let (s, one) = (SCALE_BITS, 1 << SCALE_BITS);
    PointwiseTable::build(
        Nonlinearity::Exp,
        s,
        0,
        -300,
        0,
        Saturation::Const(0),
        Saturation::Const(one),
    )
}

type Forge = fn(&mut PointwiseWitness, &LoadedTable);

/// Applies table `table` of `tables` to `inputs`, forging input `at`'s
/// witness with `forge`; checks honest outputs against `PointwiseTable::eval`.
#[derive(Clone)]
struct Pointwise {
    tables: Vec<PointwiseTable>,
    table: usize,
    inputs: Vec<i128>,
    forge: Option<(usize, Forge)>,
}

impl Scenario for Pointwise {
    fn tables(&self) -> Vec<PointwiseTable> {
        self.tables.clone()
    }

    fn run(
        &self,
        config: &NonlinearConfig,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        tables: &[LoadedTable],
    ) -> Result<(), Error> {
        let x = witness_cells(config, layouter, rows, &self.inputs)?;
        let loaded = &tables[self.table];
        let forge = self.forge;
        let tamper = move |i: usize, w: &mut PointwiseWitness| {
            if let Some((at, f)) = forge {
                if i == at {
                    f(w, loaded);
                }
            }
        };
        let y = config.pointwise.apply_with(
            layouter,
            rows,
            &config.range,
            loaded,
            &x,
            ACTIVATION_BITS,
            &tamper,
        )?;
        if forge.is_none() {
            let want: Vec<i128> = self
                .inputs
                .iter()
                .map(|&v| loaded.table().eval(v as i64) as i128)
                .collect();
            assert_eq!(known(&y), want, "{:?}", loaded.table().name);
        }
        Ok(())
    }
}

/// Random activations plus both ends of the range and of the table.
fn inputs(table: &PointwiseTable, seed: u64) -> Vec<i128> {
    let half = 1i128 << (ACTIVATION_BITS - 1);
    let unit = 1i128 << table.in_shift;
    let (lo, hi) = (table.lo as i128 * unit, (table.hi as i128 + 1) * unit);
    let mut v = vec![-half, half - 1, 0, -1, lo - 1, lo, hi - 1, hi];
    v.extend(random_values(seed, 24, -half, half - 1));
    v.extend(random_values(seed + 1, 8, lo - 2 * unit, hi + 2 * unit));
    v
}

fn scenario(table: PointwiseTable, inputs: Vec<i128>, forge: Option<(usize, Forge)>) -> Pointwise {
    Pointwise {
        tables: vec![gelu(), tanh(), table],
        table: 2,
        inputs,
        forge,
    }
}

#[test]
fn honest_outputs_match_the_tables() {
    for (k, table) in [gelu(), tanh(), exp()].into_iter().enumerate() {
        let x = inputs(&table, 10 + k as u64);
        assert_eq!(verify(scenario(table, x, None)), Ok(()));
    }
}

#[test]
fn every_table_shares_one_lookup() {
    // Two tables laid out in one circuit, each under its own id.
    #[derive(Clone)]
    struct Both;
    impl Scenario for Both {
        fn tables(&self) -> Vec<PointwiseTable> {
            vec![gelu(), exp()]
        }
        fn run(
            &self,
            config: &NonlinearConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
            tables: &[LoadedTable],
        ) -> Result<(), Error> {
            assert_eq!((tables[0].id(), tables[1].id()), (1, 2));
            let x = witness_cells(config, layouter, rows, &[-300, -5, 0, 200])?;
            for t in tables {
                let y = config.pointwise.apply(
                    layouter,
                    rows,
                    &config.range,
                    t,
                    &x,
                    ACTIVATION_BITS,
                )?;
                let want: Vec<i128> = [-300, -5, 0, 200]
                    .iter()
                    .map(|&v| t.table().eval(v) as i128)
                    .collect();
                assert_eq!(known(&y), want);
            }
            Ok(())
        }
    }
    assert_eq!(verify(Both), Ok(()));
    assert_eq!(
        PointwiseChip::table_rows(&[(&gelu()).into(), (&exp()).into()]),
        1 + 128 + 301
    );
}

/// `x = 37`: index 9 of GELU's table, in range.
const IN_RANGE: i128 = 37;
/// `x = −300`: index −75, below GELU's table.
const BELOW: i128 = -300;

fn gelu_forged(x: i128, forge: Forge) -> Pointwise {
    Pointwise {
        tables: vec![gelu()],
        table: 0,
        inputs: vec![5, x, -7],
        forge: Some((1, forge)),
    }
}

#[test]
fn table_value_off_by_one_fails_the_lookup() {
    let forge: Forge = |w, t| *w = PointwiseWitness { y: w.y + 1, ..*w }.with_lookup(t.id());
    assert_rejected(verify(gelu_forged(IN_RANGE, forge)), &[Kind::Lookup]);
    // Without the lookup cells following, the gate v = b_in·y catches it.
    let forge: Forge = |w, _| w.y += 1;
    assert_rejected(verify(gelu_forged(IN_RANGE, forge)), &[Kind::Gate]);
}

#[test]
fn saturating_an_in_range_input_fails_the_comparison() {
    // Claim "below": y = 0 and gap = lo − 1 − i < 0, which the range check rejects.
    let forge: Forge = |w, t| {
        let gap = t.table().lo as i128 - 1 - w.index;
        *w = PointwiseWitness {
            flags: [1, 0, 0],
            y: 0,
            gap,
            ..*w
        }
        .with_lookup(t.id());
    };
    assert_rejected(verify(gelu_forged(IN_RANGE, forge)), &[Kind::Lookup]);
    // Claim "above": y = x (the identity), gap = i − hi − 1 < 0.
    let forge: Forge = |w, t| {
        let gap = w.index - t.table().hi as i128 - 1;
        *w = PointwiseWitness {
            flags: [0, 0, 1],
            y: IN_RANGE,
            gap,
            ..*w
        }
        .with_lookup(t.id());
    };
    assert_rejected(verify(gelu_forged(IN_RANGE, forge)), &[Kind::Lookup]);
}

#[test]
fn looking_up_a_saturated_input_fails_the_table() {
    // Claim "in range" for index −75 < lo: (id, −75, values[0]) is not in the table.
    let forge: Forge = |w, t| {
        *w = PointwiseWitness {
            flags: [0, 1, 0],
            gap: 0,
            y: t.table().values[0] as i128,
            ..*w
        }
        .with_lookup(t.id());
    };
    assert_rejected(verify(gelu_forged(BELOW, forge)), &[Kind::Lookup]);
}

#[test]
fn index_off_by_one_fails_the_remainder_bound() {
    // i + 1 with r − 2^t keeps x = i·2^t + r and reads a real table row.
    let forge: Forge = |w, t| {
        let index = w.index + 1;
        let y = t.table().values[(index - t.table().lo as i128) as usize] as i128;
        *w = PointwiseWitness {
            index,
            rem: w.rem - 4,
            y,
            ..*w
        }
        .with_lookup(t.id());
    };
    assert_rejected(verify(gelu_forged(IN_RANGE, forge)), &[Kind::Lookup]);
}

#[test]
fn wrong_saturation_fails_the_gate() {
    // Above GELU's table the output is x itself.
    let forge: Forge = |w, _| w.y += 1;
    assert_rejected(verify(gelu_forged(1000, forge)), &[Kind::Gate]);
    // Below it, the constant 0.
    assert_rejected(verify(gelu_forged(BELOW, forge)), &[Kind::Gate]);
}

#[test]
fn flags_must_be_one_hot_bits() {
    let forge: Forge = |w, t| {
        *w = PointwiseWitness {
            flags: [1, 1, 0],
            ..*w
        }
        .with_lookup(t.id())
    };
    assert_rejected(verify(gelu_forged(IN_RANGE, forge)), &[Kind::Gate]);
    // b_in = 2, b_hi = −1 sum to one; the lookup cells stay those of the honest row.
    let forge: Forge = |w, _| w.flags = [0, 2, -1];
    assert_rejected(verify(gelu_forged(IN_RANGE, forge)), &[Kind::Gate]);
}

#[test]
fn a_table_without_shift_has_no_remainder() {
    // t = 0: x = −10 claimed as index −11 with remainder 1.
    let forge: Forge = |w, t| {
        let index = w.index - 1;
        let y = t.table().values[(index - t.table().lo as i128) as usize] as i128;
        *w = PointwiseWitness {
            index,
            rem: 1,
            y,
            ..*w
        }
        .with_lookup(t.id());
    };
    assert_rejected(
        verify(scenario(exp(), vec![3, -10], Some((1, forge)))),
        &[Kind::Gate],
    );
}

#[test]
fn the_table_id_is_fixed_per_row() {
    // Read tanh's row (id 2) for an exp input (id 3) at the same index.
    let forge: Forge = |w, _| {
        let other = tanh();
        let y = other.values[(w.index - other.lo as i128) as usize] as i128;
        *w = PointwiseWitness { y, ..*w }.with_lookup(2);
    };
    assert_rejected(
        verify(scenario(exp(), vec![-20], Some((0, forge)))),
        &[Kind::Gate],
    );
}

#[test]
fn validation_names_the_problem() {
    let b = ACTIVATION_BITS;
    assert_eq!(
        PointwiseChip::validate(&(&gelu()).into(), b, b).map(|w| w > 0),
        Ok(true)
    );
    let mut wide = tanh();
    wide.values[3] = 1 << b;
    assert!(matches!(
        PointwiseChip::validate(&(&wide).into(), b, b),
        Err(NonlinearError::TableOutputOutOfRange { value, .. }) if value == 1 << b
    ));
    assert!(matches!(
        PointwiseChip::validate(&(&gelu()).into(), b + 1, b),
        Err(NonlinearError::BadTable { .. })
    ));
    let mut short = exp();
    short.values.pop();
    assert!(matches!(
        PointwiseChip::validate(&(&short).into(), b, b),
        Err(NonlinearError::BadTable { .. })
    ));
}

#[test]
fn comparison_width_covers_the_farthest_input() {
    // GELU, t = 2, 14-bit inputs: i ∈ [−2048, 2047]; below: −65 + 2048, above: 2047 − 64.
    assert_eq!(comparison_bits(&(&gelu()).into(), 14), 11);
    // A table covering every input needs no comparison, but the width stays positive.
    let all = PointwiseTable::build(
        Nonlinearity::Tanh,
        4,
        10,
        -8,
        7,
        Saturation::Const(0),
        Saturation::Const(0),
    );
    assert_eq!(comparison_bits(&(&all).into(), 14), 1);
}

#[test]
fn layout_cost_is_three_gate_rows_and_two_checks_per_value() {
    #[derive(Clone)]
    struct Cost;
    impl Scenario for Cost {
        fn tables(&self) -> Vec<PointwiseTable> {
            vec![gelu()]
        }
        fn run(
            &self,
            config: &NonlinearConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
            tables: &[LoadedTable],
        ) -> Result<(), Error> {
            let x = witness_cells(config, layouter, rows, &[1, 2, 3, 4, 5])?;
            let before = rows.gate_rows();
            config.pointwise.apply(
                layouter,
                rows,
                &config.range,
                &tables[0],
                &x,
                ACTIVATION_BITS,
            )?;
            assert_eq!(rows.gate_rows() - before, 5 * ROWS_PER_VALUE);
            // The remainder (t = 2 bits) and the comparison (11 bits) of each value.
            let checks: Vec<(u32, usize)> = rows
                .demand()
                .range_checks
                .iter()
                .map(|(&b, &n)| (b, n))
                .collect();
            assert_eq!(checks, [(2, 5), (11, 5)]);
            Ok(())
        }
    }
    assert_eq!(verify(Cost), Ok(()));
}
