//! Products of two activations (`Q·Kᵀ`, `scores·V`): the right factor is
//! advice, copied into the weight blocks in phase 0.

use halo2_proofs::circuit::Layouter;

use super::*;
use crate::config::ModelConfig;
use crate::params::CircuitParams;
use crate::testing::{
    assert_rejected, assert_values, params, verify, witness_cells, Kind, Scenario,
};

const T: usize = 3;
const N: usize = 4;
const M: usize = 2;
const A: [i128; T * N] = [3, -1, 2, 5, -4, 0, 5, 1, 7, 7, -7, 0];
const B: [i128; N * M] = [1, -2, 3, 4, 0, 5, -1, 2];

fn expected() -> Vec<i128> {
    (0..T)
        .flat_map(|i| (0..M).map(move |j| (0..N).map(|k| A[i * N + k] * B[k * M + j]).sum()))
        .collect()
}

/// Commits `A·B`, rescales the claims, checks them. `witness` rewrites the
/// phase-0 witness; `forge_b` changes the copy of `B[k][j]` in the weight
/// block (the cell the copy constraint ties to `B`).
#[derive(Clone)]
struct MatMul {
    witness: fn(&mut ProductWitness),
    forge_b: Option<(usize, i128)>,
    honest: bool,
}

const HONEST: MatMul = MatMul {
    witness: |_| {},
    forge_b: None,
    honest: true,
};

impl Scenario for MatMul {
    fn run(
        &self,
        config: &ModelConfig,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
    ) -> Result<(), Error> {
        let chip = config.freivalds.as_ref().ok_or(Error::Synthesis)?;
        let a = witness_cells(config, layouter, rows, &A)?;
        let mut b_values = B;
        if let Some((at, v)) = self.forge_b {
            b_values[at] = v;
        }
        let b = witness_cells(config, layouter, rows, &B)?;
        // A forged copy: a cell with another value, standing in for `B`'s.
        let b_used: Vec<QCell> = match self.forge_b {
            Some(_) => {
                let forged = witness_cells(config, layouter, rows, &b_values)?;
                b.iter()
                    .zip(&forged)
                    .map(|(real, fake)| QCell {
                        cell: real.cell,
                        value: fake.value,
                    })
                    .collect()
            }
            None => b,
        };
        let before = rows.gate_rows();
        let (products, claim) =
            chip.commit_matmul_with(layouter, rows, &a, &b_used, N, M, &self.witness)?;
        let shape = LinearShape {
            tokens: T,
            in_features: N,
            out_features: M,
        };
        assert_eq!(rows.gate_rows() - before, chip.rows_needed(shape));
        assert_eq!(rows.demand().matmul, vec![shape]);
        assert!(rows.demand().linear.is_empty());
        if self.honest {
            assert_values(&products, &expected());
        }
        config
            .rescale
            .rescale(layouter, rows, &config.range, &products)?;
        layouter.next_phase();
        chip.check(layouter, &claim)
    }
}

fn with_lanes(lanes: usize) -> CircuitParams {
    CircuitParams {
        freivalds_lanes: lanes,
        ..params(4, 6)
    }
}

#[test]
fn honest_products_of_activations_pass() {
    for lanes in 1..=5 {
        assert_eq!(verify(HONEST, with_lanes(lanes)), Ok(()), "{lanes} lanes");
    }
}

#[test]
fn a_wrong_product_fails_the_check() {
    let forged = MatMul {
        witness: |w| w.products[M + 1] -= 1,
        honest: false,
        ..HONEST
    };
    for lanes in [1, 2, 4] {
        assert_rejected(verify(forged.clone(), with_lanes(lanes)), &[Kind::Gate]);
    }
}

#[test]
fn products_of_a_different_right_factor_fail_the_copy_constraint() {
    // The claims are honest for a `B` with one entry changed, and the
    // weight block reads that changed entry: only the copy constraint to
    // the real `B` catches it.
    let forged = MatMul {
        forge_b: Some((5, 9)),
        honest: false,
        ..HONEST
    };
    assert_rejected(verify(forged, with_lanes(2)), &[Kind::Copy]);
}
