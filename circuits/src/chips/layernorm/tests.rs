use halo2_proofs::circuit::Layouter;
use zkinfer_quantizer::nonlinear::layernorm_row;

use super::*;
use crate::chips::nonlinear::testing::{
    known, random_values, verify, witness_cells, NonlinearConfig, Scenario, ACTIVATION_BITS,
    SCALE_BITS,
};
use crate::chips::pointwise::LoadedTable;
use crate::testing::{assert_rejected, Kind};

/// Rewrites a row's statistics from the row and its honest statistics.
type Forge = fn(&[i128], &LayerNormStats) -> LayerNormStats;

const EPS: i64 = 3;

#[derive(Clone)]
struct LayerNorm {
    inputs: Vec<i128>,
    gamma: Vec<i64>,
    beta: Vec<i64>,
    forge: Option<(usize, Forge)>,
}

impl Scenario for LayerNorm {
    fn run(
        &self,
        config: &NonlinearConfig,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        _tables: &[LoadedTable],
    ) -> Result<(), Error> {
        let x = witness_cells(config, layouter, rows, &self.inputs)?;
        let n = self.gamma.len();
        let inputs = &self.inputs;
        let forge = self.forge;
        let tamper = move |r: usize, stats: &mut LayerNormStats| {
            if let Some((at, f)) = forge {
                if r == at {
                    *stats = f(&inputs[r * n..(r + 1) * n], stats);
                }
            }
        };
        let y = config.layernorm.layernorm_with(
            layouter,
            rows,
            &config.range,
            &x,
            &self.gamma,
            &self.beta,
            EPS,
            None,
            &tamper,
        )?;
        if forge.is_none() {
            let want: Vec<i128> = self
                .inputs
                .chunks(n)
                .flat_map(|row| {
                    let row: Vec<i64> = row.iter().map(|&v| v as i64).collect();
                    layernorm_row(&row, &self.gamma, &self.beta, EPS, SCALE_BITS).outputs
                })
                .map(i128::from)
                .collect();
            assert_eq!(known(&y), want);
        }
        Ok(())
    }
}

/// `rows` rows of `n`: random rows, a constant row (variance 0: `ρ` is
/// largest) and a row spanning the activation range.
fn layer(n: usize, rows: usize, seed: u64) -> LayerNorm {
    let half = 1i128 << (ACTIVATION_BITS - 1);
    let mut inputs = random_values(seed, (rows - 2) * n, -2000, 2000);
    inputs.extend(std::iter::repeat_n(-77, n));
    inputs.extend((0..n).map(|i| if i % 2 == 0 { -half } else { half - 1 }));
    let wide = |seed, lo, hi| {
        random_values(seed, n, lo, hi)
            .into_iter()
            .map(|v| v as i64)
            .collect()
    };
    LayerNorm {
        inputs,
        gamma: wide(seed + 1, -128, 128),
        beta: wide(seed + 2, -200, 200),
        forge: None,
    }
}

fn forged(forge: Forge) -> LayerNorm {
    LayerNorm {
        forge: Some((1, forge)),
        ..layer(6, 3, 40)
    }
}

/// The statistics with `mean`, `var`, `rstd` claimed and the rest following.
fn claim(x: &[i128], mean: i128, var: i128, rstd: i128) -> LayerNormStats {
    LayerNormStats::with(x, EPS, SCALE_BITS, mean, var, rstd)
}

fn variance(x: &[i128], mean: i128) -> i128 {
    x.iter().map(|&v| (v - mean) * (v - mean)).sum::<i128>() / x.len() as i128
}

#[test]
fn honest_rows_match_the_spec() {
    // n = 6 needs two checks per remainder, n = 8 one; n = 1 has no variance.
    for (n, rows, seed) in [(6, 4, 1), (8, 3, 2), (1, 3, 3)] {
        assert_eq!(verify(layer(n, rows, seed)), Ok(()), "n = {n}");
    }
}

#[test]
fn honest_statistics_agree_with_the_spec() {
    let x: Vec<i128> = random_values(9, 7, -3000, 3000);
    let stats = LayerNormStats::honest(&x, EPS, SCALE_BITS);
    let spec = layernorm_row(
        &x.iter().map(|&v| v as i64).collect::<Vec<_>>(),
        &[64; 7],
        &[0; 7],
        EPS,
        SCALE_BITS,
    );
    assert_eq!(
        (stats.mean, stats.mean_rem),
        (spec.mean as i128, spec.mean_rem as i128)
    );
    assert_eq!((stats.var, stats.var_rem), (spec.var, spec.var_rem));
    assert_eq!(stats.rstd, spec.rstd as i128);
    assert!(stats.lo >= 0 && stats.hi >= 0);
}

#[test]
fn a_wrong_mean_fails_its_remainder_bound() {
    // μ + 1 with everything downstream consistent: r_μ = Σx − (μ+1)·n < 0.
    let up: Forge = |x, s| {
        let mean = s.mean + 1;
        let var = variance(x, mean);
        claim(x, mean, var, rstd(var + EPS as i128, SCALE_BITS))
    };
    assert_rejected(verify(forged(up)), &[Kind::Lookup]);
    // μ − 1: r_μ ≥ n.
    let down: Forge = |x, s| {
        let mean = s.mean - 1;
        let var = variance(x, mean);
        claim(x, mean, var, rstd(var + EPS as i128, SCALE_BITS))
    };
    assert_rejected(verify(forged(down)), &[Kind::Lookup]);
    // A wrong mean whose remainder does not follow fails the gate.
    let bare: Forge = |_, s| LayerNormStats {
        mean: s.mean + 1,
        ..*s
    };
    assert_rejected(verify(forged(bare)), &[Kind::Gate]);
}

#[test]
fn a_wrong_variance_fails_its_remainder_bound() {
    let up: Forge = |x, s| {
        claim(
            x,
            s.mean,
            s.var + 1,
            rstd(s.var + 1 + EPS as i128, SCALE_BITS),
        )
    };
    assert_rejected(verify(forged(up)), &[Kind::Lookup]);
    let down: Forge = |x, s| {
        claim(
            x,
            s.mean,
            s.var - 1,
            rstd(s.var - 1 + EPS as i128, SCALE_BITS),
        )
    };
    assert_rejected(verify(forged(down)), &[Kind::Lookup]);
}

#[test]
fn rstd_off_by_one_fails_an_inequality() {
    // ρ + 1: ρ²·w > 2^(4s), so lo < 0.
    let up: Forge = |x, s| claim(x, s.mean, s.var, s.rstd + 1);
    assert_rejected(verify(forged(up)), &[Kind::Lookup]);
    // ρ − 1: (ρ+1)²·w ≤ 2^(4s), so hi < 0.
    let down: Forge = |x, s| claim(x, s.mean, s.var, s.rstd - 1);
    assert_rejected(verify(forged(down)), &[Kind::Lookup]);
}

#[test]
fn validation_names_the_problem() {
    let (s, b) = (SCALE_BITS, ACTIVATION_BITS);
    let widths = LayerNormChip::validate(&[1; 6], &[0; 6], EPS, s, b).unwrap();
    assert_eq!(widths.rem_bits, 3);
    assert_eq!(widths.var_bits, 2 * b);
    assert_eq!(widths.rstd_bits, 2 * s + 1);
    assert!(matches!(
        LayerNormChip::validate(&[1; 6], &[0; 5], EPS, s, b),
        Err(NonlinearError::BadLayerNorm(_))
    ));
    assert!(matches!(
        LayerNormChip::validate(&[1; 6], &[0; 6], 0, s, b),
        Err(NonlinearError::BadLayerNorm(_))
    ));
    assert!(matches!(
        LayerNormChip::validate(&[1; 6], &[0; 6], EPS, 30, 40),
        Err(NonlinearError::BadWidths(_))
    ));
    assert!(matches!(
        LayerNormChip::check_row(&[0; 5], &[1; 6], &[0; 6], EPS, s, b),
        Err(NonlinearError::Shape { .. })
    ));
    // One outlier among 16 normalizes to ≈ √15·2^s ≈ 248: fine in 14 bits,
    // reported (not proved) in 8.
    let mut x = [0i64; 16];
    x[0] = 1600;
    assert_eq!(
        LayerNormChip::check_row(&x, &[64; 16], &[0; 16], EPS, s, b),
        Ok(())
    );
    assert!(matches!(
        LayerNormChip::check_row(&x, &[64; 16], &[0; 16], EPS, s, s + 2),
        Err(NonlinearError::BadLayerNorm(_))
    ));
}

#[test]
fn layout_cost_is_five_gate_rows_per_value_and_three_per_row() {
    #[derive(Clone)]
    struct Cost;
    impl Scenario for Cost {
        fn run(
            &self,
            config: &NonlinearConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
            _tables: &[LoadedTable],
        ) -> Result<(), Error> {
            let (n, r) = (6, 2);
            let x = witness_cells(config, layouter, rows, &random_values(8, n * r, -900, 900))?;
            let before = rows.gate_rows();
            let (gamma, beta) = ([64; 6], [5; 6]);
            let ln = &config.layernorm;
            ln.layernorm(layouter, rows, &config.range, &x, &gamma, &beta, EPS, None)?;
            assert_eq!(rows.gate_rows() - before, 5 * n * r + 3 * r);
            let checks: Vec<(u32, usize)> = rows
                .demand()
                .range_checks
                .iter()
                .map(|(&b, &n)| (b, n))
                .collect();
            let per_value = [(6, 2), (14, 2)]; // two rescale remainders; z, y
            let per_row = [(3, 4), (13, 1), (14, 1), (28, 1), (29, 2)]; // r_μ, r_v twice; ρ; μ; v; lo, hi
            let mut want = std::collections::BTreeMap::new();
            for (b, k) in per_value {
                *want.entry(b).or_insert(0) += k * n * r;
            }
            for (b, k) in per_row {
                *want.entry(b).or_insert(0) += k * r;
            }
            assert_eq!(checks, want.into_iter().collect::<Vec<_>>());
            Ok(())
        }
    }
    assert_eq!(verify(Cost), Ok(()));
}
