//! Fixed-point arithmetic shared by the integer inference and the circuits'
//! witness generation, so both round exactly the same way.

/// `round(v * 2^bits)`, saturating at i64 (callers bound-check afterwards).
pub fn quantize(v: f64, bits: u32) -> i64 {
    (v * (1u64 << bits) as f64).round() as i64
}

pub fn dequantize(q: i64, bits: u32) -> f64 {
    q as f64 / (1u64 << bits) as f64
}

/// Division by `2^s` rounding half up: the unique `(y, r)` with
/// `a + 2^(s-1) = y * 2^s + r` and `0 <= r < 2^s`. This is the relation the
/// rescale chip proves.
pub fn rescale(a: i128, s: u32) -> (i128, i128) {
    let half = 1i128 << (s - 1);
    let d = 1i128 << s;
    let shifted = a + half;
    (shifted.div_euclid(d), shifted.rem_euclid(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_rounds_half_up_for_both_signs() {
        assert_eq!(rescale(5, 1), (3, 0)); // 2.5 -> 3
        assert_eq!(rescale(-5, 1), (-2, 0)); // -2.5 -> -2
        assert_eq!(rescale(-6, 2), (-1, 0)); // -1.5 -> -1
        assert_eq!(rescale(-7, 2), (-2, 3)); // -1.75 -> -2
        let (y, r) = rescale(-1000, 4);
        assert_eq!(y * 16 + r, -1000 + 8);
        assert!((0..16).contains(&r));
    }

    #[test]
    fn quantize_round_trips_within_half_a_step() {
        for v in [-3.3, -0.01, 0.0, 0.49, 7.125] {
            let q = quantize(v, 8);
            assert!((dequantize(q, 8) - v).abs() <= 0.5 / 256.0);
        }
    }
}
