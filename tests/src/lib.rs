//! Cross-crate tests live in `e2e/` (one integration binary, see Cargo.toml).
