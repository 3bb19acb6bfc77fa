//! Rolls the per-instance code of snark-verifier's generated verifier into
//! loops, so that the contract's size no longer grows with the number of
//! public values.
//!
//! snark-verifier's EVM loader writes straight-line Yul: for each of the N
//! public instances it emits a load, a Lagrange numerator and denominator,
//! two steps of a batch inversion, a fraction and a term of the instance
//! evaluation `sum_i inst_i * L_i(z)`: about 180 bytes of runtime code per
//! value, which puts any model with more than ~50 public values over EIP-170.
//! This pass recognises exactly those statements and replaces them with two
//! constant-size loops that compute the same value:
//!
//! - the N instance loads become one `for` loop (same memory, same
//!   reduction mod r, so the transcript's Keccak input is unchanged);
//! - the instance evaluation is recomputed from `z`, `(z^n - 1)/n` and ω
//!   with its own batch inversion in scratch memory above everything the
//!   verifier uses, and stored where the straight-line sum stored it;
//! - Lagrange values that only fed that sum are dropped, together with
//!   their place in the generated batch inversion, which is re-emitted for
//!   the remaining denominators.
//!
//! The pass checks what it removes against the protocol instead of trusting
//! the layout: every removed numerator must be `(z^n - 1)/n * ω^i` and every
//! denominator `z - ω^i` for the instance index i that the sum pairs it with,
//! and nothing removed may be read anywhere else. Any mismatch (a different
//! snark-verifier, say) is an error, never a silently different verifier.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use halo2curves::bn256::Fr;
use halo2curves::ff::{Field, PrimeField};
use regex::Regex;

use crate::compact_memory::Compaction;

/// Why the generated code could not be rolled.
#[derive(Debug, thiserror::Error)]
#[error("verifier code not in the expected shape: {0}")]
pub struct RollError(String);

impl RollError {
    pub(crate) fn new(msg: String) -> Self {
        RollError(msg)
    }
}

fn fail<T>(msg: impl Into<String>) -> Result<T, RollError> {
    Err(RollError(msg.into()))
}

/// Rewrites `code` (a verifier for `num_instances` instances over a domain
/// with generator `omega`) with constant-size instance loops.
pub fn roll_instance_loops(
    code: &str,
    num_instances: usize,
    omega: Fr,
) -> Result<String, RollError> {
    if num_instances == 0 {
        return Ok(code.to_string());
    }
    let mut lines: Vec<String> = code.lines().map(str::to_string).collect();
    let base = roll_loads(&mut lines, num_instances)?;
    let sum = find_instance_sum(&lines, base, num_instances)?;
    let defs = Definitions::parse(&lines);
    let lagrange = check_lagrange_terms(&defs, &sum, omega)?;

    let mut remove: BTreeSet<usize> = sum.lines.clone().collect();
    // The sum's fractions, then their numerators and denominators, go
    // when nothing outside what is being removed still reads them.
    let batch = BatchInversion::find(&lines, &lagrange.denominators)?;
    let none = BTreeSet::new();
    let mut dropped_denominators = BTreeSet::new();
    let index = readers_index(&lines);
    for term in &lagrange.terms {
        let readers = |ptr: usize, removed: &BTreeSet<usize>, skip_batch: bool| {
            index
                .get(&ptr)
                .into_iter()
                .flatten()
                .filter(|l| !(removed.contains(l) || skip_batch && batch.lines.contains(l)))
                .count()
        };
        let Some(fraction_def) = defs.sole(term.fraction, &none) else {
            continue;
        };
        if readers(term.fraction, &remove, false) > 0 {
            continue;
        }
        remove.insert(fraction_def);
        if let Some(def) = defs.sole(term.numerator, &none) {
            if readers(term.numerator, &remove, false) == 0 {
                remove.insert(def);
            }
        }
        if let Some(def) = defs.sole(term.denominator, &batch.lines) {
            if readers(term.denominator, &remove, true) == 0 && batch.can_drop(term.denominator) {
                remove.insert(def);
                dropped_denominators.insert(term.denominator);
            }
        }
    }
    let batch_code = batch.emit_without(&dropped_denominators);

    const ROLL_MARKER: &str = "<instance evaluation>";
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i == sum.first_line {
            out.push(ROLL_MARKER.to_string());
        }
        if i == batch.forward.start {
            out.extend(batch_code.0.lines().map(str::to_string));
        }
        if i == batch.backward.start {
            out.extend(batch_code.1.lines().map(str::to_string));
        }
        if remove.contains(&i) || batch.lines.contains(&i) {
            continue;
        }
        out.push(line.clone());
    }

    // What was dropped leaves holes in memory: close them.
    let written_by = defs.by_line();
    let mut freed: BTreeSet<usize> = remove
        .iter()
        .filter_map(|i| written_by.get(i).copied())
        .collect();
    freed.extend(batch.products_of(&dropped_denominators));
    freed.remove(&sum.dest);
    if freed
        .first()
        .is_some_and(|&f| f < base + 32 * num_instances)
    {
        return fail("a dropped value lies among the instances");
    }
    let compaction = Compaction::new(&freed);
    let mut out = compaction.apply(&out)?;

    // Scratch memory above every address the verifier touches.
    let scratch = round_up(max_address(&out) + 0x20, 0x20);
    let at = |a: usize| compaction.of(a);
    let roll = instance_eval_loop(
        (at(lagrange.z), at(lagrange.numer), at(sum.dest), at(base)),
        num_instances,
        omega,
        scratch,
    );
    let Some(marker) = out.iter().position(|l| l == ROLL_MARKER) else {
        return fail("the instance evaluation's place was lost");
    };
    out[marker] = roll;
    let mut code = out.join("\n");
    code.push('\n');
    Ok(code)
}

pub(crate) fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// A numeric literal as the loader prints addresses: hex or decimal.
pub(crate) fn parse_num(s: &str) -> Option<usize> {
    match s.strip_prefix("0x") {
        Some(hex) => usize::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_fr(s: &str) -> Option<Fr> {
    Fr::from_str_vartime(s)
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

/// Replaces the N consecutive instance loads with a loop; returns the
/// memory address of instance 0.
fn roll_loads(lines: &mut Vec<String>, n: usize) -> Result<usize, RollError> {
    let load = re(r"^\s*mstore\((0x[0-9a-f]+), mod\(calldataload\((0x[0-9a-f]+)\), f_q\)\)\s*$");
    let parsed = |line: &str| {
        load.captures(line)
            .and_then(|c| Some((parse_num(&c[1])?, parse_num(&c[2])?)))
    };
    let Some(first) = lines
        .iter()
        .position(|l| parsed(l).is_some_and(|(_, off)| off == 0))
    else {
        return fail("no load of instance 0 from calldata offset 0");
    };
    let base = parsed(&lines[first])
        .map(|(ptr, _)| ptr)
        .unwrap_or_default();
    for i in 0..n {
        match lines.get(first + i).and_then(|l| parsed(l)) {
            Some((ptr, off)) if ptr == base + 32 * i && off == 32 * i => {}
            _ => {
                return fail(format!(
                    "instance {i} is not loaded right after instance {}",
                    i.max(1) - 1
                ))
            }
        }
    }
    let rolled = format!(
        "for {{ let i := 0 }} lt(i, {n}) {{ i := add(i, 1) }} {{ mstore(add({base:#x}, shl(5, i)), mod(calldataload(shl(5, i)), f_q)) }}"
    );
    lines.splice(first..first + n, [rolled]);
    Ok(base)
}

/// The straight-line `sum_i L_i(z) * inst_i` block.
struct InstanceSum {
    first_line: usize,
    lines: std::ops::Range<usize>,
    /// Address of the fraction `L_i(z)` paired with instance i.
    fractions: Vec<usize>,
    dest: usize,
}

fn find_instance_sum(lines: &[String], base: usize, n: usize) -> Result<InstanceSum, RollError> {
    let first = re(r"^\s*let result := mulmod\(mload\((\w+)\), mload\((\w+)\), f_q\)\s*$");
    let next = re(
        r"^\s*result := addmod\(mulmod\(mload\((\w+)\), mload\((\w+)\), f_q\), result, f_q\)\s*$",
    );
    let store = re(r"^\s*mstore\((\w+), result\)\s*$");
    let pair = |a: &str, b: &str, i: usize| -> Option<usize> {
        let (a, b) = (parse_num(a)?, parse_num(b)?);
        let inst = base + 32 * i;
        match (a == inst, b == inst) {
            (false, true) => Some(a),
            (true, false) => Some(b),
            _ => None,
        }
    };
    for (start, line) in lines.iter().enumerate() {
        let Some(c) = first.captures(line) else {
            continue;
        };
        let Some(f0) = pair(&c[1], &c[2], 0) else {
            continue;
        };
        let mut fractions = vec![f0];
        for i in 1..n {
            let p = lines
                .get(start + i)
                .and_then(|l| next.captures(l))
                .and_then(|c| pair(&c[1], &c[2], i));
            match p {
                Some(f) => fractions.push(f),
                None => break,
            }
        }
        if fractions.len() != n {
            continue;
        }
        let end = start + n;
        let Some(dest) = lines
            .get(end)
            .and_then(|l| store.captures(l))
            .and_then(|c| parse_num(&c[1]))
        else {
            return fail("the instance sum does not end with its store");
        };
        // The block's braces: `{` on the line before, `}` after the store.
        let (open, close) = (start.wrapping_sub(1), end + 1);
        if lines.get(open).map(|l| l.trim()) != Some("{")
            || lines.get(close).map(|l| l.trim()) != Some("}")
        {
            return fail("the instance sum is not a block of its own");
        }
        return Ok(InstanceSum {
            first_line: open,
            lines: open..close + 1,
            fractions,
            dest,
        });
    }
    fail(format!("no sum over the {n} instances"))
}

/// Where each address is written by a one-line `mstore(ptr, expr)`: every
/// such line, and the expression of the first.
struct Definitions {
    lines_of: BTreeMap<usize, Vec<usize>>,
    expr_of: BTreeMap<usize, String>,
}

impl Definitions {
    fn parse(lines: &[String]) -> Self {
        let def = re(r"^\s*mstore\((\w+), (.*)\)\s*$");
        let mut lines_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut expr_of = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(c) = def.captures(line) else {
                continue;
            };
            let Some(ptr) = parse_num(&c[1]) else {
                continue;
            };
            lines_of.entry(ptr).or_default().push(i);
            expr_of.entry(ptr).or_insert_with(|| c[2].to_string());
        }
        Definitions { lines_of, expr_of }
    }

    /// The address each definition line writes (first writes only).
    fn by_line(&self) -> BTreeMap<usize, usize> {
        self.lines_of
            .iter()
            .filter_map(|(&ptr, lines)| Some((*lines.first()?, ptr)))
            .collect()
    }

    /// The line that defines `ptr` if every other write to it is in
    /// `rewritten` (lines this pass re-emits).
    fn sole(&self, ptr: usize, rewritten: &BTreeSet<usize>) -> Option<usize> {
        let lines = self.lines_of.get(&ptr)?;
        lines[1..]
            .iter()
            .all(|l| rewritten.contains(l))
            .then_some(lines[0])
    }
}

struct LagrangeTerm {
    fraction: usize,
    numerator: usize,
    denominator: usize,
}

struct Lagrange {
    terms: Vec<LagrangeTerm>,
    denominators: BTreeSet<usize>,
    /// `(z^n - 1)/n` and `z`.
    numer: usize,
    z: usize,
}

/// Checks that fraction i of the sum is `(z^n - 1)/n * ω^i / (z - ω^i)`.
fn check_lagrange_terms(
    defs: &Definitions,
    sum: &InstanceSum,
    omega: Fr,
) -> Result<Lagrange, RollError> {
    let frac = re(r"^mulmod\(mload\((\w+)\), mload\((\w+)\), f_q\)$");
    let numer_re = re(r"^mulmod\(mload\((\w+)\), (\d+), f_q\)$");
    let denom_re = re(r"^addmod\(mload\((\w+)\), (\d+), f_q\)$");
    let expr = |ptr: usize, what: &str| {
        defs.expr_of
            .get(&ptr)
            .map(String::as_str)
            .ok_or_else(|| RollError(format!("{what} at {ptr:#x} has no single definition")))
    };
    let mut terms = Vec::new();
    // (numerator, z) addresses: the same for every term.
    let mut shared: Option<(usize, usize)> = None;
    let mut w = Fr::ONE;
    for (i, &fraction) in sum.fractions.iter().enumerate() {
        let Some(c) = frac.captures(expr(fraction, "L_i(z)")?) else {
            return fail(format!("L_{i}(z) is not a fraction"));
        };
        let (numerator, denominator) = (
            parse_num(&c[1]).unwrap_or_default(),
            parse_num(&c[2]).unwrap_or_default(),
        );
        let n = numer_re.captures(expr(numerator, "a Lagrange numerator")?);
        let d = denom_re.captures(expr(denominator, "a Lagrange denominator")?);
        let (Some(n), Some(d)) = (n, d) else {
            return fail(format!("L_{i}(z) is not (z^n - 1)/n * w / (z - w)"));
        };
        if parse_fr(&n[2]) != Some(w) || parse_fr(&d[2]) != Some(-w) {
            return fail(format!("L_{i}(z) is not taken at omega^{i}"));
        }
        let (Some(np), Some(zp)) = (parse_num(&n[1]), parse_num(&d[1])) else {
            return fail(format!("L_{i}(z) reads no address"));
        };
        if *shared.get_or_insert((np, zp)) != (np, zp) {
            return fail("the instance Lagrange values use different z");
        }
        terms.push(LagrangeTerm {
            fraction,
            numerator,
            denominator,
        });
        w *= omega;
    }
    let denominators = terms.iter().map(|t| t.denominator).collect();
    match shared {
        Some((numer, z)) => Ok(Lagrange {
            terms,
            denominators,
            numer,
            z,
        }),
        None => fail("no z for the instance Lagrange values"),
    }
}

/// For every address, the lines that read it with `mload`.
fn readers_index(lines: &[String]) -> BTreeMap<usize, Vec<usize>> {
    let load = re(r"mload\((0x[0-9a-f]+|\d+)\)");
    let mut index: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        for c in load.captures_iter(line) {
            if let Some(ptr) = parse_num(&c[1]) {
                index.entry(ptr).or_default().push(i);
            }
        }
    }
    index
}

/// The highest memory address the code names (in mload, mstore, or the end
/// of a keccak256 or precompile call's range).
pub(crate) fn max_address(lines: &[String]) -> usize {
    let single = re(r"m(?:load|store8?)\((0x[0-9a-f]+|\d+)");
    let range = re(r"keccak256\((0x[0-9a-f]+|\d+), (0x[0-9a-f]+|\d+)\)");
    let call = re(
        r"staticcall\(gas\(\), \w+, (0x[0-9a-f]+|\d+), (0x[0-9a-f]+|\d+), (0x[0-9a-f]+|\d+), (0x[0-9a-f]+|\d+)\)",
    );
    let mut max = 0;
    for line in lines {
        for c in single.captures_iter(line) {
            max = max.max(parse_num(&c[1]).unwrap_or(0) + 0x20);
        }
        for c in range.captures_iter(line) {
            max = max.max(parse_num(&c[1]).unwrap_or(0) + parse_num(&c[2]).unwrap_or(0));
        }
        for c in call.captures_iter(line) {
            let end = |a: &str, b: &str| parse_num(a).unwrap_or(0) + parse_num(b).unwrap_or(0);
            max = max.max(end(&c[1], &c[2])).max(end(&c[3], &c[4]));
        }
    }
    max
}

/// The loops that compute `sum_i inst_i * (z^n - 1)/n * ω^i / (z - ω^i)`:
/// prefix products of the denominators in scratch memory, one modexp
/// inversion, then a backward pass that peels one inverse per instance.
fn instance_eval_loop(
    (z, numer, dest, base): (usize, usize, usize, usize),
    n: usize,
    omega: Fr,
    scratch: usize,
) -> String {
    let dec = |x: Fr| fr_decimal(&x);
    let omega_inv = omega.invert().unwrap_or(Fr::ZERO);
    let args = scratch + 32 * n;
    let (w, w_inv) = (dec(omega), dec(omega_inv));
    let mut s = String::new();
    let _ = write!(
        s,
        "{{
            // zkinfer: sum_i inst_i * L_i(z) over the {n} instances, in loops:
            // (z^n - 1)/n * sum_i inst_i * w^i / (z - w^i), the denominators
            // inverted together (prefix products in scratch memory).
            let z := mload({z:#x})
            let w := 1
            let prod := 1
            for {{ let i := 0 }} lt(i, {n}) {{ i := add(i, 1) }} {{
                mstore(add({scratch:#x}, shl(5, i)), prod)
                prod := mulmod(prod, add(z, sub(f_q, w)), f_q)
                w := mulmod(w, {w}, f_q)
            }}
            mstore({args:#x}, 0x20)
            mstore({a1:#x}, 0x20)
            mstore({a2:#x}, 0x20)
            mstore({a3:#x}, prod)
            mstore({a4:#x}, sub(f_q, 2))
            mstore({a5:#x}, f_q)
            success := and(eq(staticcall(gas(), 0x5, {args:#x}, 0xc0, {args:#x}, 0x20), 1), success)
            let inv := mload({args:#x})
            let sum := 0
            for {{ let i := {n} }} i {{ }} {{
                i := sub(i, 1)
                w := mulmod(w, {w_inv}, f_q)
                // inv * (prefix product before i) = 1 / (z - w^i)
                sum := addmod(sum, mulmod(mulmod(w, mload(add({base:#x}, shl(5, i))), f_q), mulmod(inv, mload(add({scratch:#x}, shl(5, i))), f_q), f_q), f_q)
                inv := mulmod(inv, add(z, sub(f_q, w)), f_q)
            }}
            mstore({dest:#x}, mulmod(sum, mload({numer:#x}), f_q))
        }}",
        a1 = args + 0x20,
        a2 = args + 0x40,
        a3 = args + 0x60,
        a4 = args + 0x80,
        a5 = args + 0xa0,
    );
    s
}

fn fr_decimal(x: &Fr) -> String {
    // Little-endian bytes to a decimal string, by repeated division.
    let mut digits = x
        .to_repr()
        .as_ref()
        .iter()
        .rev()
        .copied()
        .collect::<Vec<u8>>();
    let mut out = Vec::new();
    while digits.iter().any(|&d| d != 0) {
        let mut rem = 0u32;
        for d in digits.iter_mut() {
            let cur = (rem << 8) | u32::from(*d);
            *d = (cur / 10) as u8;
            rem = cur % 10;
        }
        out.push(b'0' + rem as u8);
    }
    if out.is_empty() {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

/// The loader's batch inversion that includes the instance denominators:
/// a forward block of prefix products, a modexp of the last one, and a
/// backward block writing each inverse in place.
struct BatchInversion {
    /// Denominator addresses, in order; `products[j]` holds the prefix
    /// product up to j (for j = 0, the value itself).
    values: Vec<usize>,
    products: Vec<usize>,
    forward: std::ops::Range<usize>,
    backward: std::ops::Range<usize>,
    backward_inv: String,
    lines: BTreeSet<usize>,
}

impl BatchInversion {
    fn find(lines: &[String], denominators: &BTreeSet<usize>) -> Result<Self, RollError> {
        let start = re(r"^\s*let prod := mload\((\w+)\)\s*$");
        let step = re(r"^\s*prod := mulmod\(mload\((\w+)\), prod, f_q\)\s*$");
        let keep = re(r"^\s*mstore\((\w+), prod\)\s*$");
        let inv_start = re(r"^\s*let inv := (mload\(\w+\))\s*$");
        for (i, line) in lines.iter().enumerate() {
            let Some(c) = start.captures(line) else {
                continue;
            };
            let Some(v0) = parse_num(&c[1]) else { continue };
            let (mut values, mut products) = (vec![v0], vec![v0]);
            let mut j = i + 1;
            loop {
                while lines.get(j).is_some_and(|l| l.trim().is_empty()) {
                    j += 1;
                }
                let Some(v) = lines
                    .get(j)
                    .and_then(|l| step.captures(l))
                    .and_then(|c| parse_num(&c[1]))
                else {
                    break;
                };
                let Some(p) = lines
                    .get(j + 1)
                    .and_then(|l| keep.captures(l))
                    .and_then(|c| parse_num(&c[1]))
                else {
                    return fail("a batch inversion step without its store");
                };
                values.push(v);
                products.push(p);
                j += 2;
            }
            if !denominators.iter().all(|d| values.contains(d)) {
                continue;
            }
            if lines.get(i.wrapping_sub(1)).map(|l| l.trim()) != Some("{")
                || lines.get(j).map(|l| l.trim()) != Some("}")
            {
                return fail("the batch inversion's forward pass is not a block of its own");
            }
            let forward = i - 1..j + 1;
            // The backward pass: the next block starting with `let inv :=`.
            let Some(inv_line) = (j..lines.len()).find(|&k| inv_start.is_match(&lines[k])) else {
                return fail("a batch inversion without its backward pass");
            };
            let backward_inv = inv_start
                .captures(&lines[inv_line])
                .map(|c| c[1].to_string())
                .unwrap_or_default();
            let closing = format!("mstore({v0:#x}, inv)");
            let Some(end) = (inv_line..lines.len()).find(|&k| lines[k].trim() == closing) else {
                return fail("the batch inversion's backward pass does not end in place");
            };
            let close = (end + 1..lines.len()).find(|&k| !lines[k].trim().is_empty());
            let open = (0..inv_line).rev().find(|&k| !lines[k].trim().is_empty());
            let (Some(open), Some(close)) = (open, close) else {
                return fail("the batch inversion's backward pass is not a block");
            };
            if lines[open].trim() != "{" || lines[close].trim() != "}" {
                return fail("the batch inversion's backward pass is not a block of its own");
            }
            // Its statements must be exactly the ones re-emitted.
            let body: Vec<&str> = lines[inv_line + 1..end]
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .collect();
            if body.len() != 1 + 3 * (values.len() - 1) {
                return fail("the batch inversion's backward pass has an unexpected shape");
            }
            let backward = open..close + 1;
            let lines_set = forward.clone().chain(backward.clone()).collect();
            return Ok(BatchInversion {
                values,
                products,
                forward,
                backward,
                backward_inv,
                lines: lines_set,
            });
        }
        fail("no batch inversion of the instance denominators")
    }

    /// The first value seeds the chain and the last one's product is what
    /// the modexp reads: both stay.
    fn can_drop(&self, value: usize) -> bool {
        self.values.first() != Some(&value) && self.values.last() != Some(&value)
    }

    /// The prefix-product slots of the `dropped` values.
    fn products_of<'a>(&'a self, dropped: &'a BTreeSet<usize>) -> impl Iterator<Item = usize> + 'a {
        self.values
            .iter()
            .zip(&self.products)
            .filter(|(v, _)| dropped.contains(v))
            .map(|(_, &p)| p)
    }

    /// Forward and backward blocks over the values not in `dropped`.
    fn emit_without(&self, dropped: &BTreeSet<usize>) -> (String, String) {
        let kept: Vec<usize> = (0..self.values.len())
            .filter(|&j| !dropped.contains(&self.values[j]))
            .collect();
        let mut fwd = format!("{{\n            let prod := mload({:#x})\n", self.values[0]);
        for &j in &kept[1..] {
            let _ = writeln!(
                fwd,
                "                prod := mulmod(mload({:#x}), prod, f_q)\n                mstore({:#x}, prod)",
                self.values[j], self.products[j]
            );
        }
        fwd.push_str("        }\n");
        let mut bwd = format!(
            "{{\n            let inv := {}\n            let v\n",
            self.backward_inv
        );
        for pair in kept.windows(2).rev() {
            let (before, j) = (pair[0], pair[1]);
            let _ = writeln!(
                bwd,
                "                v := mload({v:#x})\n                mstore({v:#x}, mulmod(mload({p:#x}), inv, f_q))\n                inv := mulmod(v, inv, f_q)",
                v = self.values[j],
                p = self.products[before],
            );
        }
        let _ = writeln!(
            bwd,
            "            mstore({:#x}, inv)\n        }}",
            self.values[0]
        );
        (fwd, bwd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_of_field_elements() {
        assert_eq!(fr_decimal(&Fr::ZERO), "0");
        assert_eq!(fr_decimal(&Fr::from(1234567890123u64)), "1234567890123");
        assert_eq!(
            fr_decimal(&-Fr::ONE),
            "21888242871839275222246405745257275088548364400416034343698204186575808495616"
        );
        assert_eq!(parse_fr(&fr_decimal(&Fr::from(77))), Some(Fr::from(77)));
    }

    #[test]
    fn code_without_instance_loads_is_refused() {
        let err = roll_instance_loops("mstore(0x80, 1)\n", 3, Fr::from(5)).unwrap_err();
        assert!(err.to_string().contains("instance 0"), "{err}");
    }

    #[test]
    fn loads_must_be_consecutive() {
        let code = "mstore(0xa0, mod(calldataload(0x0), f_q))\nmstore(0xe0, mod(calldataload(0x20), f_q))\n";
        let err = roll_instance_loops(code, 2, Fr::from(5)).unwrap_err();
        assert!(err.to_string().contains("instance 1"), "{err}");
    }
}
