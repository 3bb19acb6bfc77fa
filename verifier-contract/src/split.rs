//! Splits a generated verifier that is over EIP-170 into a chain of
//! contracts, each under the limit.
//!
//! The generated verifier is one assembly block whose state between
//! top-level statements is memory plus the `success` flag (every other Yul
//! variable is scoped to a block, which this module checks). So it can be
//! cut between any two top-level statements after the last read of
//! calldata (the proof is read, and the transcript replayed, first): part k
//! runs its statements, reverts if a check already failed, and otherwise
//! `staticcall`s part k+1 with its memory, in place, as calldata; part k+1
//! copies it back and goes on. Only the last part decides; a revert
//! anywhere propagates to the caller of the first part, which is the
//! verifier's address for everyone else (the market, `zkinfer evm verify`).
//! A later part called directly proves nothing (it trusts the memory it is
//! given): only the first part is a verifier.
//!
//! Each part but the last learns its successor's address from its
//! constructor (an immutable), so the parts are deployed last to first.

use crate::instance_loop::{max_address, round_up, RollError};

/// One contract of a split verifier, in calling order.
#[derive(Clone, Debug)]
pub struct PartSource {
    /// The contract's name: `Halo2Verifier` for the entry, then
    /// `Halo2VerifierPart1`, ...
    pub name: String,
    pub source: String,
    /// Whether its constructor takes the next part's address.
    pub has_next: bool,
}

/// The verifier's text cut into `parts` contracts of roughly equal code.
pub fn split_verifier(
    code: &str,
    entry_name: &str,
    parts: usize,
) -> Result<Vec<PartSource>, RollError> {
    let lines: Vec<&str> = code.lines().collect();
    let layout = Layout::parse(&lines)?;
    let cuts = layout.cuts(&lines, parts)?;
    let mut out = Vec::with_capacity(parts);
    let mut image_in = 0usize;
    for (k, range) in cuts.iter().enumerate() {
        let body: Vec<String> = lines[range.clone()].iter().map(|l| l.to_string()).collect();
        let name = if k == 0 {
            entry_name.to_string()
        } else {
            format!("{entry_name}Part{k}")
        };
        let has_next = k + 1 < cuts.len();
        // What the next part needs: memory up to the highest address any
        // part so far touched.
        let upto: Vec<String> = lines[layout.body.start..range.end]
            .iter()
            .map(|l| l.to_string())
            .collect();
        let image_out = round_up(max_address(&upto).max(0xa0), 0x20) - 0x80;
        let mut src = String::new();
        for (i, line) in lines[..layout.body.start].iter().enumerate() {
            if i == layout.contract_line {
                src.push_str(&format!("contract {name} {{\n"));
                if has_next {
                    src.push_str("    address immutable next;\n\n    constructor(address next_part) {\n        next = next_part;\n    }\n\n");
                }
                continue;
            }
            if i == layout.assembly_line && has_next {
                src.push_str("        address next_part = next;\n");
            }
            src.push_str(line);
            src.push('\n');
        }
        if k > 0 {
            src.push_str(&format!(
                "            // The previous part's memory.\n            calldatacopy(0x80, 0, {image_in:#x})\n"
            ));
        }
        for line in &body {
            src.push_str(line);
            src.push('\n');
        }
        if has_next {
            src.push_str(&format!(
                "            if iszero(success) {{ revert(0, 0) }}
            // On to the next part, with this part's memory.
            success := staticcall(gas(), next_part, 0x80, {image_out:#x}, 0, 0)
"
            ));
        }
        for line in &lines[layout.body.end..] {
            src.push_str(line);
            src.push('\n');
        }
        out.push(PartSource {
            name,
            source: src,
            has_next,
        });
        image_in = image_out;
    }
    Ok(out)
}

/// Where the generated contract's pieces are.
struct Layout {
    contract_line: usize,
    assembly_line: usize,
    /// The top-level statements after the prelude (constants, function)
    /// and before the final revert-or-return.
    body: std::ops::Range<usize>,
}

impl Layout {
    fn parse(lines: &[&str]) -> Result<Self, RollError> {
        let find = |what: &str, from: usize| {
            (from..lines.len())
                .find(|&i| lines[i].contains(what))
                .ok_or_else(|| RollError::new(format!("no `{what}` in the verifier")))
        };
        let contract_line = find("contract ", 0)?;
        let assembly_line = find("assembly", contract_line)?;
        let function = find("function validate_ec_point", assembly_line)?;
        // The function ends where its braces balance.
        let mut depth = 0i64;
        let mut end = None;
        for (i, line) in lines.iter().enumerate().skip(function) {
            depth += braces(line);
            if depth == 0 && i > function {
                end = Some(i + 1);
                break;
            }
        }
        let start = end.ok_or_else(|| RollError::new("validate_ec_point does not end".into()))?;
        let stop = find("// Revert if anything fails", start)?;
        Ok(Layout {
            contract_line,
            assembly_line,
            body: start..stop,
        })
    }

    /// `parts` consecutive ranges of the body, cut between top-level
    /// statements at roughly equal shares of the text.
    fn cuts(&self, lines: &[&str], parts: usize) -> Result<Vec<std::ops::Range<usize>>, RollError> {
        let mut boundaries = Vec::new();
        let mut depth = 0i64;
        let mut chars = 0usize;
        for i in self.body.clone() {
            if depth == 0 {
                if lines[i].trim_start().starts_with("let ") {
                    return Err(RollError::new(format!(
                        "a top-level variable would cross a cut: {}",
                        lines[i].trim()
                    )));
                }
                boundaries.push((i, chars));
            }
            depth += braces(lines[i]);
            chars += lines[i].trim().len();
        }
        if depth != 0 {
            return Err(RollError::new(
                "unbalanced braces in the verifier body".into(),
            ));
        }
        let total = chars.max(1);
        // Later parts get no calldata of the caller's: every read of it
        // stays in the first part.
        let after_reads = (self.body.clone())
            .rev()
            .find(|&i| lines[i].contains("calldataload"))
            .map_or(self.body.start, |i| i + 1);
        let mut ranges = Vec::with_capacity(parts);
        let mut start = self.body.start;
        for k in 1..parts {
            let target = total * k / parts;
            let cut = boundaries
                .iter()
                .find(|&&(i, c)| c >= target && i > start && i >= after_reads)
                .map(|&(i, _)| i)
                .ok_or_else(|| {
                    RollError::new(format!("no place to cut the verifier into {parts}"))
                })?;
            ranges.push(start..cut);
            start = cut;
        }
        ranges.push(start..self.body.end);
        Ok(ranges)
    }
}

fn braces(line: &str) -> i64 {
    let code = line.split("//").next().unwrap_or("");
    code.matches('{').count() as i64 - code.matches('}').count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOY: &str = "pragma solidity 0.8.19;
contract Halo2Verifier {
    fallback(bytes calldata) external returns (bytes memory) {
        assembly (\"memory-safe\") {
            let success := true
            function validate_ec_point(x, y) -> valid {
                valid := 1
            }
            mstore(0xa0, 1)
            {
                let x := mload(0xa0)
                mstore(0xc0, x)
            }
            mstore(0xe0, mload(0xc0))
            mstore(0x100, mload(0xe0))
            // Revert if anything fails
            if iszero(success) { revert(0, 0) }
            return(0, 0)
        }
    }
}
";

    #[test]
    fn parts_hand_over_memory_and_chain_to_the_next() {
        let parts = split_verifier(TOY, "Halo2Verifier", 2).unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].has_next && !parts[1].has_next);
        assert!(parts[0].source.contains("contract Halo2Verifier {"));
        assert!(parts[0].source.contains("staticcall(gas(), next_part"));
        assert!(parts[1].source.contains("contract Halo2VerifierPart1 {"));
        assert!(parts[1].source.contains("calldatacopy(0x80, 0, 0x"));
        // Every body statement is in exactly one part.
        for stmt in [
            "mstore(0xa0, 1)",
            "mstore(0xc0, x)",
            "mstore(0x100, mload(0xe0))",
        ] {
            let n = parts.iter().filter(|p| p.source.contains(stmt)).count();
            assert_eq!(n, 1, "{stmt}");
        }
        // A block is never cut.
        let holder = parts
            .iter()
            .find(|p| p.source.contains("let x := mload(0xa0)"))
            .unwrap();
        assert!(holder.source.contains("mstore(0xc0, x)"));
    }

    #[test]
    fn calldata_is_read_only_in_the_first_part() {
        let code = TOY.replace(
            "mstore(0xe0, mload(0xc0))",
            "mstore(0xe0, calldataload(0x20))",
        );
        let parts = split_verifier(&code, "Halo2Verifier", 2).unwrap();
        assert!(parts[0].source.contains("calldataload(0x20)"));
        assert!(!parts[1].source.contains("calldataload"));
    }

    #[test]
    fn a_top_level_variable_cannot_be_cut_across() {
        let code = TOY.replace("mstore(0xa0, 1)", "let y := 1");
        assert!(split_verifier(&code, "Halo2Verifier", 2).is_err());
    }
}
