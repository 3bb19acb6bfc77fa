//! Closes the holes that removed statements leave in a generated verifier's
//! memory.
//!
//! snark-verifier's loader gives every intermediate value its own 32-byte
//! slot at a literal address, so after [`crate::instance_loop`] drops the
//! per-instance values their slots are a hole of ~128 bytes per public
//! instance below everything computed later. EVM memory is paid for up to
//! the highest address touched (quadratically), so the hole alone would
//! cost a 2,048-instance verifier ~200k gas. This pass renumbers the
//! addresses above each freed slot downwards.
//!
//! Only the places where the loader writes memory addresses are rewritten:
//! the first argument of `mload`/`mstore`/`mstore8`, the range of
//! `keccak256`, and the input and output ranges of `staticcall`. A range
//! that would straddle a freed slot, or a remaining access to a freed slot,
//! is an error.

use std::collections::BTreeSet;

use regex::{Captures, Regex};

use crate::instance_loop::{parse_num, RollError};

/// Addresses of freed 32-byte slots and the renumbering they imply.
pub struct Compaction {
    freed: Vec<usize>,
}

impl Compaction {
    pub fn new(freed: &BTreeSet<usize>) -> Self {
        Compaction {
            freed: freed.iter().copied().collect(),
        }
    }

    /// The new address of `addr` (which is not itself freed).
    pub fn of(&self, addr: usize) -> usize {
        addr - 32 * self.freed.partition_point(|&f| f < addr)
    }

    fn is_freed(&self, addr: usize) -> bool {
        self.freed.binary_search(&addr).is_ok()
    }

    fn single(&self, addr: usize, line: &str) -> Result<usize, RollError> {
        if self.is_freed(addr) {
            return Err(RollError::new(format!(
                "a freed slot {addr:#x} is still used: {line}"
            )));
        }
        Ok(self.of(addr))
    }

    fn range(&self, addr: usize, len: usize, line: &str) -> Result<usize, RollError> {
        let straddles = self.freed.iter().any(|&f| f + 32 > addr && f < addr + len);
        if straddles && len > 0 {
            return Err(RollError::new(format!(
                "a memory range over a freed slot: {line}"
            )));
        }
        Ok(self.of(addr))
    }

    /// Rewrites every line's memory addresses.
    pub fn apply(&self, lines: &[String]) -> Result<Vec<String>, RollError> {
        let num = r"(0x[0-9a-f]+|\d+)";
        let single = Regex::new(&format!(r"\b(mload|mstore8?)\({num}")).expect("valid");
        let keccak = Regex::new(&format!(r"keccak256\({num}, {num}\)")).expect("valid");
        let call = Regex::new(&format!(
            r"staticcall\(gas\(\), (\w+), {num}, {num}, {num}, {num}\)"
        ))
        .expect("valid");
        let mut out = Vec::with_capacity(lines.len());
        for line in lines {
            let mut error = None;
            let mut fix = |r: Result<usize, RollError>| match r {
                Ok(a) => format!("{a:#x}"),
                Err(e) => {
                    error.get_or_insert(e);
                    String::new()
                }
            };
            let l = single.replace_all(line, |c: &Captures| {
                format!("{}({}", &c[1], fix(self.single(num_of(&c[2]), line)))
            });
            let l = keccak.replace_all(&l, |c: &Captures| {
                let (a, n) = (num_of(&c[1]), num_of(&c[2]));
                format!("keccak256({}, {})", fix(self.range(a, n, line)), &c[2])
            });
            let l = call.replace_all(&l, |c: &Captures| {
                let (a, n, b, m) = (num_of(&c[2]), num_of(&c[3]), num_of(&c[4]), num_of(&c[5]));
                format!(
                    "staticcall(gas(), {}, {}, {}, {}, {})",
                    &c[1],
                    fix(self.range(a, n, line)),
                    &c[3],
                    fix(self.range(b, m, line)),
                    &c[5]
                )
            });
            if let Some(e) = error {
                return Err(e);
            }
            out.push(l.into_owned());
        }
        Ok(out)
    }
}

// The patterns only match literals that parse; a huge one cannot be an
// address the verifier uses.
fn num_of(s: &str) -> usize {
    parse_num(s).unwrap_or(usize::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn addresses_above_a_hole_move_down() {
        let c = Compaction::new(&[0x100, 0x140].into());
        let out = c
            .apply(&lines(
                "mstore(0x160, mulmod(mload(0x120), mload(0xe0), f_q))\nmstore(384, keccak256(0x80, 64))\nsuccess := staticcall(gas(), 0x5, 0x180, 0xc0, 0x180, 0x20)",
            ))
            .unwrap();
        assert_eq!(
            out[0],
            "mstore(0x120, mulmod(mload(0x100), mload(0xe0), f_q))"
        );
        assert_eq!(out[1], "mstore(0x140, keccak256(0x80, 64))");
        assert_eq!(
            out[2],
            "success := staticcall(gas(), 0x5, 0x140, 0xc0, 0x140, 0x20)"
        );
    }

    #[test]
    fn a_freed_slot_still_in_use_is_an_error() {
        let c = Compaction::new(&[0x100].into());
        assert!(c.apply(&lines("mstore(0x120, mload(0x100))")).is_err());
        assert!(c
            .apply(&lines("mstore(0x200, keccak256(0xe0, 0x60))"))
            .is_err());
        // calldata offsets are not memory.
        assert!(c.apply(&lines("mstore(0xa0, calldataload(0x100))")).is_ok());
    }
}
