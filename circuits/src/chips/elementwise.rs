//! `ElementwiseChip`: add, sub, add_const, const_sub, mul, mul_const.
//!
//! # Constraint
//!
//! One gate covers every op: one row per element over three gate columns
//! `(a, b, c)` and four fixed coefficient columns `(k_a, k_b, k_ab, k_0)`,
//! selector `q`:
//!
//! ```text
//! q · (k_a·a + k_b·b + k_ab·a·b + k_0 − c) = 0
//! ```
//!
//! | op          | k_a | k_b | k_ab | k_0 | c            |
//! |-------------|-----|-----|------|-----|--------------|
//! | add         | 1   | 1   | 0    | 0   | a + b        |
//! | sub         | 1   | −1  | 0    | 0   | a − b        |
//! | add_const   | 1   | 0   | 0    | k   | a + k        |
//! | const_sub   | −1  | 0   | 0    | k   | k − a        |
//! | mul         | 0   | 0   | 1    | 0   | a·b          |
//! | mul_const   | k   | 0   | 0    | 0   | k·a          |
//!
//! The coefficients are fixed cells, so the constants are part of the
//! verifying key. `a` and `b` are copies of the input cells; for the unary ops
//! the `b` cell is multiplied by zero coefficients and carries no meaning.
//!
//! # Soundness
//!
//! The gate determines `c` as a field element from proved inputs. The inputs
//! are bounded activations (`|a|, |b| < 2^39`) and the constants `i64`, so `c`
//! is the integer result (`|c| < 2^103 ≪ p`). The chip does not bound `c`:
//! the compiler range-checks the outputs of add/sub/add_const/const_sub as
//! activations and sends the products of mul/mul_const to the rescale chip,
//! whose checks bound them.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use crate::cell::QCell;
use crate::field::fr_from_i128;
use crate::rows::Rows;

#[derive(Clone, Debug)]
pub struct ElementwiseChip {
    a: Column<Advice>,
    b: Column<Advice>,
    c: Column<Advice>,
    k: [Column<Fixed>; 4],
    q: Selector,
}

/// The fixed coefficients of one row: `c = k_a·a + k_b·b + k_ab·a·b + k_0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coeffs {
    pub a: i128,
    pub b: i128,
    pub ab: i128,
    pub constant: i128,
}

impl Coeffs {
    pub fn eval(&self, a: i128, b: i128) -> i128 {
        self.a * a + self.b * b + self.ab * a * b + self.constant
    }
}

/// One element: the inputs and the coefficients applied to them.
#[derive(Clone, Copy, Debug)]
pub struct Term<'a> {
    pub a: &'a QCell,
    pub b: Option<&'a QCell>,
    pub coeffs: Coeffs,
}

impl ElementwiseChip {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        columns: [Column<Advice>; 3],
        k: [Column<Fixed>; 4],
    ) -> Self {
        let [a, b, c] = columns;
        let q = meta.selector();
        meta.create_gate("elementwise", |meta| {
            let q = meta.query_selector(q);
            let a = meta.query_advice(a, Rotation::cur());
            let b = meta.query_advice(b, Rotation::cur());
            let c = meta.query_advice(c, Rotation::cur());
            let [k_a, k_b, k_ab, k_0] = k.map(|col| meta.query_fixed(col, Rotation::cur()));
            vec![q * (k_a * a.clone() + k_b * b.clone() + k_ab * a * b + k_0 - c)]
        });
        ElementwiseChip { a, b, c, k, q }
    }

    pub fn add(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        b: &[QCell],
    ) -> Result<Vec<QCell>, Error> {
        self.binary(
            layouter,
            rows,
            a,
            b,
            Coeffs {
                a: 1,
                b: 1,
                ..Coeffs::default()
            },
        )
    }

    pub fn sub(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        b: &[QCell],
    ) -> Result<Vec<QCell>, Error> {
        self.binary(
            layouter,
            rows,
            a,
            b,
            Coeffs {
                a: 1,
                b: -1,
                ..Coeffs::default()
            },
        )
    }

    /// Pre-rescale products `a·b`.
    pub fn mul(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        b: &[QCell],
    ) -> Result<Vec<QCell>, Error> {
        self.binary(
            layouter,
            rows,
            a,
            b,
            Coeffs {
                ab: 1,
                ..Coeffs::default()
            },
        )
    }

    /// `a + k`, element by element.
    pub fn add_const(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        k: &[i64],
    ) -> Result<Vec<QCell>, Error> {
        self.unary(layouter, rows, a, k, |k| Coeffs {
            a: 1,
            constant: k,
            ..Coeffs::default()
        })
    }

    /// `k − a`, element by element.
    pub fn const_sub(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        k: &[i64],
    ) -> Result<Vec<QCell>, Error> {
        self.unary(layouter, rows, a, k, |k| Coeffs {
            a: -1,
            constant: k,
            ..Coeffs::default()
        })
    }

    /// Pre-rescale products `k·a`, element by element.
    pub fn mul_const(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        k: &[i64],
    ) -> Result<Vec<QCell>, Error> {
        self.unary(layouter, rows, a, k, |k| Coeffs {
            a: k,
            ..Coeffs::default()
        })
    }

    fn binary(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        b: &[QCell],
        coeffs: Coeffs,
    ) -> Result<Vec<QCell>, Error> {
        if a.len() != b.len() {
            return Err(Error::Synthesis);
        }
        let terms: Vec<_> = a
            .iter()
            .zip(b)
            .map(|(a, b)| Term {
                a,
                b: Some(b),
                coeffs,
            })
            .collect();
        self.apply(layouter, rows, &terms)
    }

    fn unary(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        k: &[i64],
        coeffs: impl Fn(i128) -> Coeffs,
    ) -> Result<Vec<QCell>, Error> {
        if a.len() != k.len() {
            return Err(Error::Synthesis);
        }
        let terms: Vec<_> = a
            .iter()
            .zip(k)
            .map(|(a, &k)| Term {
                a,
                b: None,
                coeffs: coeffs(k as i128),
            })
            .collect();
        self.apply(layouter, rows, &terms)
    }

    /// Lays out one row per term and returns the outputs `c`.
    pub fn apply(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        terms: &[Term<'_>],
    ) -> Result<Vec<QCell>, Error> {
        self.apply_with(layouter, rows, terms, &|_, _| {})
    }

    /// [`Self::apply`] where `tamper(i, c)` may rewrite the `i`-th output
    /// before it is assigned (tests forge witnesses with it).
    pub(crate) fn apply_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        terms: &[Term<'_>],
        tamper: &dyn Fn(usize, &mut i128),
    ) -> Result<Vec<QCell>, Error> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let start = rows.take_gate(terms.len());
        layouter.assign_region(
            || "elementwise",
            |mut region| {
                let mut out = Vec::with_capacity(terms.len());
                for (i, term) in terms.iter().enumerate() {
                    let row = start + i;
                    self.q.enable(&mut region, row)?;
                    let a = term.a.copy_to(&mut region, self.a, row);
                    let b = match term.b {
                        Some(b) => b.copy_to(&mut region, self.b, row).value,
                        None => {
                            QCell::assign(&mut region, self.b, row, Value::known(0));
                            Value::known(0)
                        }
                    };
                    let k = term.coeffs;
                    for (col, coeff) in self.k.iter().zip([k.a, k.b, k.ab, k.constant]) {
                        region.assign_fixed(*col, row, fr_from_i128(coeff));
                    }
                    let c = a.value.zip(b).map(|(a, b)| {
                        let mut c = k.eval(a, b);
                        tamper(i, &mut c);
                        c
                    });
                    out.push(QCell::assign(&mut region, self.c, row, c));
                }
                Ok(out)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::testing::{
        assert_rejected, assert_values, params, verify, witness_cells, Kind, Scenario,
    };

    const A: [i128; 4] = [3, -7, 100, 0];
    const B: [i128; 4] = [5, 2, -50, 9];
    const K: [i64; 4] = [1, -2, 3, 40];

    #[derive(Clone, Copy, Debug)]
    enum OpKind {
        Add,
        Sub,
        AddConst,
        ConstSub,
        Mul,
        MulConst,
    }

    const OPS: [OpKind; 6] = [
        OpKind::Add,
        OpKind::Sub,
        OpKind::AddConst,
        OpKind::ConstSub,
        OpKind::Mul,
        OpKind::MulConst,
    ];

    fn expected(op: OpKind) -> Vec<i128> {
        (0..4)
            .map(|i| {
                let (a, b, k) = (A[i], B[i], K[i] as i128);
                match op {
                    OpKind::Add => a + b,
                    OpKind::Sub => a - b,
                    OpKind::AddConst => a + k,
                    OpKind::ConstSub => k - a,
                    OpKind::Mul => a * b,
                    OpKind::MulConst => k * a,
                }
            })
            .collect()
    }

    #[derive(Clone)]
    struct Elementwise {
        op: OpKind,
        forge: Option<usize>,
    }

    impl Scenario for Elementwise {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let a = witness_cells(config, layouter, rows, &A)?;
            let b = witness_cells(config, layouter, rows, &B)?;
            let coeffs = |k: i64| match self.op {
                OpKind::Add => Coeffs {
                    a: 1,
                    b: 1,
                    ..Coeffs::default()
                },
                OpKind::Sub => Coeffs {
                    a: 1,
                    b: -1,
                    ..Coeffs::default()
                },
                OpKind::AddConst => Coeffs {
                    a: 1,
                    constant: k as i128,
                    ..Coeffs::default()
                },
                OpKind::ConstSub => Coeffs {
                    a: -1,
                    constant: k as i128,
                    ..Coeffs::default()
                },
                OpKind::Mul => Coeffs {
                    ab: 1,
                    ..Coeffs::default()
                },
                OpKind::MulConst => Coeffs {
                    a: k as i128,
                    ..Coeffs::default()
                },
            };
            let binary = matches!(self.op, OpKind::Add | OpKind::Sub | OpKind::Mul);
            let ew = &config.elementwise;
            let out = match self.forge {
                // The public methods, honestly.
                None => match self.op {
                    OpKind::Add => ew.add(layouter, rows, &a, &b)?,
                    OpKind::Sub => ew.sub(layouter, rows, &a, &b)?,
                    OpKind::AddConst => ew.add_const(layouter, rows, &a, &K)?,
                    OpKind::ConstSub => ew.const_sub(layouter, rows, &a, &K)?,
                    OpKind::Mul => ew.mul(layouter, rows, &a, &b)?,
                    OpKind::MulConst => ew.mul_const(layouter, rows, &a, &K)?,
                },
                Some(at) => {
                    let terms: Vec<_> = (0..4)
                        .map(|i| Term {
                            a: &a[i],
                            b: binary.then_some(&b[i]),
                            coeffs: coeffs(K[i]),
                        })
                        .collect();
                    let tamper = move |i: usize, c: &mut i128| {
                        if i == at {
                            *c += 1;
                        }
                    };
                    ew.apply_with(layouter, rows, &terms, &tamper)?
                }
            };
            if self.forge.is_none() {
                assert_values(&out, &expected(self.op));
            }
            Ok(())
        }
    }

    #[test]
    fn honest_outputs_pass() {
        for op in OPS {
            assert_eq!(
                verify(Elementwise { op, forge: None }, params(4, 5)),
                Ok(()),
                "{op:?}"
            );
        }
    }

    #[test]
    fn output_off_by_one_is_rejected() {
        for op in OPS {
            assert_rejected(
                verify(Elementwise { op, forge: Some(1) }, params(4, 5)),
                &[Kind::Gate],
            );
        }
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        #[derive(Clone)]
        struct Mismatch;
        impl Scenario for Mismatch {
            fn run(
                &self,
                config: &ModelConfig,
                layouter: &mut impl Layouter<Fr>,
                rows: &mut Rows,
            ) -> Result<(), Error> {
                let a = witness_cells(config, layouter, rows, &A)?;
                let b = witness_cells(config, layouter, rows, &B[..3])?;
                assert!(matches!(
                    config.elementwise.add(layouter, rows, &a, &b),
                    Err(Error::Synthesis)
                ));
                assert!(matches!(
                    config.elementwise.add_const(layouter, rows, &a, &K[..2]),
                    Err(Error::Synthesis)
                ));
                Ok(())
            }
        }
        assert_eq!(verify(Mismatch, params(4, 5)), Ok(()));
    }
}
