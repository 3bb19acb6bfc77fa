//! Calibration of the lookup tables: which inputs a `Pointwise` or a
//! softmax's exp table holds, and how coarsely.
//!
//! A table ([`PointwiseTable`]) holds `f` at indices `lo..=hi`, where the
//! index of an input `x` (scale `2^s`) is `floor(x / 2^t)`. Every row costs
//! circuit rows, so a table holds only what calibration says is needed:
//!
//! - **Range.** The observed input range `[a, b]` (over the calibration
//!   samples) widened by `margin` (each end moved outward by that factor:
//!   `[-1, 2]` becomes `[-2, 4]`, `[0.5, 2]` becomes `[0.25, 4]`), then clipped where `f` has already saturated: beyond the
//!   points where `f` is within half a step (`2^-(s+1)`) of its saturation
//!   value (GELU: 0 below, `x` above; tanh, erf: ±1; sigmoid: 0 and 1;
//!   exp: 0 below), the saturation the table semantics apply outside
//!   `[lo, hi]` is as exact as a table row would be. Inputs beyond the
//!   widened range but inside the unsaturated region also saturate, which is
//!   an approximation; the report lists each table's observed range against
//!   the range it holds, so that is visible.
//! - **Shift.** `t` is the smallest shift that leaves at most
//!   `2^table_bits` rows. It costs accuracy: every input of a `2^t`-wide
//!   bucket reads `f` at the bucket's centre, so the table's error is up to
//!   `max|f'| · 2^(t-1) · 2^-s` on top of the half step of rounding (GELU,
//!   tanh, erf: slope at most ~1.13; sigmoid 0.25; exp 1). `t = 0` is exact
//!   to the rounding step. Raising `table_bits` by one halves that error and
//!   doubles the rows.
//!
//! The softmax exp table sees `x_j - max_row <= 0` only; it ends just below
//! 0 (`hi = -1`) and index 0 (the row's maximum) saturates to exactly
//! `exp(0) = 2^s`, so every row's largest entry weighs exactly one.

use crate::error::QuantizeError;
use crate::nonlinear::{Nonlinearity, PointwiseTable, Saturation};

/// How tables are sized; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableOptions {
    /// Head room factor over the observed input ranges (>= 1).
    pub margin: f64,
    /// A table has at most `2^table_bits` rows.
    pub table_bits: u32,
}

/// Smallest and largest `table_bits` accepted.
pub const TABLE_BITS: std::ops::RangeInclusive<u32> = 4..=20;

pub fn check_table_bits(table_bits: u32) -> Result<(), QuantizeError> {
    if !TABLE_BITS.contains(&table_bits) {
        return Err(QuantizeError::Calibration(format!(
            "table_bits {table_bits} outside {}..={}",
            TABLE_BITS.start(),
            TABLE_BITS.end()
        )));
    }
    Ok(())
}

/// What `func` returns below and above its table, at scale `2^s`.
pub fn saturation(func: Nonlinearity, s: u32) -> Result<(Saturation, Saturation), QuantizeError> {
    let one = 1i64 << s;
    Ok(match func {
        Nonlinearity::Gelu | Nonlinearity::GeluTanh => (Saturation::Const(0), Saturation::Identity),
        Nonlinearity::Tanh | Nonlinearity::Erf => (Saturation::Const(-one), Saturation::Const(one)),
        Nonlinearity::Sigmoid => (Saturation::Const(0), Saturation::Const(one)),
        Nonlinearity::Exp => {
            return Err(QuantizeError::Calibration(
                "exp has no saturation above; it is supported only inside a softmax".into(),
            ))
        }
    })
}

/// The real inputs below and above which `func` is within half a step of
/// its saturation (`(-inf, inf)` where it never saturates).
pub fn saturation_points(func: Nonlinearity, s: u32) -> (f64, f64) {
    let half = 2f64.powi(-(s as i32) - 1);
    // Past |x| = 1 both distances are monotone (decreasing toward the far end).
    let below = |x: f64| saturation_distance(func, x).0;
    let above = |x: f64| saturation_distance(func, x).1;
    (
        crossing(&below, -1.0, -64.0, half),
        crossing(&above, 1.0, 64.0, half),
    )
}

/// How far `func(x)` is from its saturation value below and above.
fn saturation_distance(func: Nonlinearity, x: f64) -> (f64, f64) {
    let f = func.eval(x);
    match func {
        Nonlinearity::Gelu | Nonlinearity::GeluTanh => (f.abs(), (x - f).abs()),
        Nonlinearity::Tanh | Nonlinearity::Erf => ((f + 1.0).abs(), (1.0 - f).abs()),
        Nonlinearity::Sigmoid => (f, 1.0 - f),
        Nonlinearity::Exp => (f, f64::INFINITY),
    }
}

/// The point between `near` and `far` beyond which `err <= half`, for an
/// `err` that decreases from `near` toward `far`; `far` itself (as an
/// infinity) if it never gets there, `near` if it is already there.
fn crossing(err: &dyn Fn(f64) -> f64, near: f64, far: f64, half: f64) -> f64 {
    if err(near) <= half {
        return near;
    }
    if err(far) > half {
        return far.signum() * f64::INFINITY;
    }
    let (mut inside, mut outside) = (near, far);
    for _ in 0..100 {
        let mid = 0.5 * (inside + outside);
        if err(mid) <= half {
            outside = mid;
        } else {
            inside = mid;
        }
    }
    outside
}

/// `[a, b]` with each end moved outward by the factor `margin`.
fn widen((a, b): (f64, f64), margin: f64) -> (f64, f64) {
    let out = |v: f64| if v < 0.0 { v * margin } else { v / margin };
    (out(a), -out(-b))
}

/// The smallest shift `t` at which the integer inputs `a..=b` span at most
/// `2^table_bits` indices, and that index range.
pub fn covering(a: i64, b: i64, table_bits: u32) -> (u32, i64, i64) {
    let rows = 1i64 << table_bits;
    (0..63)
        .map(|t| (t, a.div_euclid(1 << t), b.div_euclid(1 << t)))
        .find(|&(_, lo, hi)| hi - lo < rows)
        .expect("a shift of 62 leaves at most two rows")
}

/// The table of a `Pointwise` node whose input was observed in `observed`.
pub fn pointwise_table(
    func: Nonlinearity,
    observed: Option<(f64, f64)>,
    s: u32,
    opts: &TableOptions,
) -> Result<PointwiseTable, QuantizeError> {
    let (below, above) = saturation(func, s)?;
    let (a, b) = widen(observed.unwrap_or((0.0, 0.0)), opts.margin);
    let (sat_lo, sat_hi) = saturation_points(func, s);
    // Clip to the unsaturated region; keep at least one row.
    let (a, b) = (a.clamp(sat_lo, sat_hi), b.clamp(sat_lo, sat_hi));
    let unit = 2f64.powi(s as i32);
    let (t, lo, hi) = covering(
        (a * unit).floor() as i64,
        (b * unit).floor() as i64,
        opts.table_bits,
    );
    Ok(PointwiseTable::build(func, s, t, lo, hi, below, above))
}

/// The exp table of a softmax whose `x_j - max_row` was observed down to
/// `observed.0` (see the module doc for its upper end).
pub fn softmax_exp_table(
    observed: Option<(f64, f64)>,
    s: u32,
    opts: &TableOptions,
) -> PointwiseTable {
    let lowest = observed.map_or(0.0, |(a, _)| a.min(0.0)) * opts.margin;
    let (sat_lo, _) = saturation_points(Nonlinearity::Exp, s);
    let a = ((lowest.max(sat_lo) * 2f64.powi(s as i32)).floor() as i64).min(-1);
    let (t, lo, hi) = covering(a, -1, opts.table_bits);
    PointwiseTable::build(
        Nonlinearity::Exp,
        s,
        t,
        lo,
        hi,
        Saturation::Const(0),
        Saturation::Const(1 << s),
    )
}

/// The real input range `[first, end)` a table holds.
pub fn table_range(t: &PointwiseTable, s: u32) -> (f64, f64) {
    let step = 2f64.powi(t.in_shift as i32 - s as i32);
    (t.lo as f64 * step, (t.hi + 1) as f64 * step)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: TableOptions = TableOptions {
        margin: 2.0,
        table_bits: 12,
    };

    #[test]
    fn the_shift_is_the_smallest_that_fits() {
        assert_eq!(covering(0, 4095, 12), (0, 0, 4095));
        assert_eq!(covering(0, 4096, 12), (1, 0, 2048));
        assert_eq!(covering(-5000, 5000, 12), (2, -1250, 1250));
        assert_eq!(covering(-3, -1, 4), (0, -3, -1));
    }

    #[test]
    fn saturation_points_are_where_the_function_is_within_half_a_step() {
        let s = 10;
        let half = 2f64.powi(-11);
        let (lo, hi) = saturation_points(Nonlinearity::Tanh, s);
        assert!((1.0 - hi.tanh() - half).abs() < 1e-9 && (lo + hi).abs() < 1e-9);
        let (lo, hi) = saturation_points(Nonlinearity::Gelu, s);
        let g = |x: f64| Nonlinearity::Gelu.eval(x);
        assert!(g(lo).abs() <= half && g(lo + 0.01).abs() > half, "{lo}");
        assert!(
            (hi - g(hi)).abs() <= half && (hi - 0.01 - g(hi - 0.01)).abs() > half,
            "{hi}"
        );
        let (lo, hi) = saturation_points(Nonlinearity::Exp, s);
        assert!((lo - (half).ln()).abs() < 1e-9 && hi.is_infinite());
    }

    #[test]
    fn a_gelu_table_covers_the_widened_range_with_at_most_2_to_the_bits_rows() {
        let s = 12;
        let t = pointwise_table(Nonlinearity::GeluTanh, Some((-1.5, 2.0)), s, &OPTS).unwrap();
        assert!(t.len() <= 4096);
        let (a, b) = table_range(&t, s);
        // Widened by 2 to [-3, 4], and clipped above where x - GELU(x) < 2^-13.
        let (_, sat) = saturation_points(Nonlinearity::GeluTanh, s);
        assert!(sat > 3.8 && sat < 4.0, "{sat}");
        assert!(a <= -3.0 && b >= sat, "[{a}, {b})");
        // [-3, 3.88] at 2^12 is ~28200 inputs: shift 3 leaves ~3530 rows.
        assert_eq!(t.in_shift, 3);
        let unit = 4096.0;
        for x in [-2.9, -0.5, 0.0, 0.7, 3.9] {
            let got = t.eval((x * unit) as i64) as f64 / unit;
            // Error: half a bucket (2^-10) times the slope (< 1.2), plus rounding.
            assert!(
                (got - Nonlinearity::GeluTanh.eval(x)).abs() < 1.2e-3 + 2.0 / unit,
                "{x}"
            );
        }
    }

    #[test]
    fn wide_observations_are_clipped_where_the_function_saturates() {
        let s = 10;
        let t = pointwise_table(Nonlinearity::Tanh, Some((-100.0, 100.0)), s, &OPTS).unwrap();
        let (a, b) = table_range(&t, s);
        assert!(
            a > -4.5 && b < 4.5,
            "tanh saturates near ±4.16 at s = 10: [{a}, {b})"
        );
        assert_eq!(t.in_shift, 2, "8.3 * 1024 inputs need a shift of 2");
        assert_eq!(t.eval(-100 << s), -(1 << s));
        assert_eq!(t.eval(100 << s), 1 << s);
        // All inputs above the saturation point: still a (one-row) table.
        let t = pointwise_table(Nonlinearity::Gelu, Some((50.0, 60.0)), s, &OPTS).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.eval(55 << s), 55 << s, "identity above");
    }

    #[test]
    fn the_exp_table_ends_below_zero_and_the_max_weighs_one() {
        let s = 12;
        let t = softmax_exp_table(Some((-3.0, 0.0)), s, &OPTS);
        assert_eq!(t.hi, -1);
        assert_eq!(t.eval(0), 1 << s, "exp(0) exactly");
        let (a, _) = table_range(&t, s);
        assert!(a <= -6.0, "widened by the margin: {a}");
        assert!(t.len() <= 4096);
        assert_eq!(t.eval(-100 << s), 0, "below: 0");
        let unit = 4096.0;
        let got = t.eval(-(unit as i64)) as f64 / unit;
        assert!((got - (-1f64).exp()).abs() < 2e-3, "{got}");
        // A softmax over one entry sees only 0: one row.
        assert_eq!(softmax_exp_table(Some((0.0, 0.0)), s, &OPTS).len(), 1);
    }

    #[test]
    fn exp_outside_a_softmax_and_bad_table_bits_are_errors() {
        assert!(pointwise_table(Nonlinearity::Exp, Some((-1.0, 1.0)), 10, &OPTS).is_err());
        assert!(check_table_bits(3).is_err() && check_table_bits(21).is_err());
        assert!(check_table_bits(12).is_ok());
    }
}
