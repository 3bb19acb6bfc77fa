//! Benchmarks live in `benches/` (criterion); this crate has no library code.
