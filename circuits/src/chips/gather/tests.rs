use halo2_proofs::circuit::Layouter;

use super::*;
use crate::chips::nonlinear::testing::{
    known, random_values, verify, witness_cells, NonlinearConfig, Scenario, ACTIVATION_BITS,
};
use crate::testing::{assert_rejected, Kind};

const VOCAB: usize = 5;
const DIM: usize = 3;

/// Rewrites the pointwise witness of gathered value `i` (token-major).
type Forge = fn(usize, &mut PointwiseWitness);

#[derive(Clone)]
struct Gather {
    embedding: Vec<i64>,
    ids: Vec<i128>,
    forge: Option<Forge>,
}

fn embedding() -> Vec<i64> {
    let half = 1i128 << (ACTIVATION_BITS - 1);
    random_values(7, VOCAB * DIM, -half, half - 1)
        .into_iter()
        .map(|v| v as i64)
        .collect()
}

fn scenario(ids: &[i128], forge: Option<Forge>) -> Gather {
    Gather {
        embedding: embedding(),
        ids: ids.to_vec(),
        forge,
    }
}

impl Scenario for Gather {
    fn embeddings(&self) -> Vec<LookupTable> {
        vec![LookupTable::embedding(&self.embedding)]
    }

    fn run(
        &self,
        config: &NonlinearConfig,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        tables: &[LoadedTable],
    ) -> Result<(), Error> {
        let ids = witness_cells(config, layouter, rows, &self.ids)?;
        let forge = self.forge;
        let tamper = move |i: usize, w: &mut PointwiseWitness| {
            if let Some(f) = forge {
                f(i, w);
            }
        };
        let y = config.gather.gather_with(
            layouter,
            rows,
            &config.range,
            &tables[0],
            &ids,
            VOCAB,
            DIM,
            &tamper,
        )?;
        let in_vocab = self.ids.iter().all(|&id| (0..VOCAB as i128).contains(&id));
        if forge.is_none() && in_vocab {
            let want: Vec<i128> = self
                .ids
                .iter()
                .flat_map(|&id| (0..DIM).map(move |j| id as usize * DIM + j))
                .map(|at| self.embedding[at] as i128)
                .collect();
            assert_eq!(known(&y), want);
        }
        Ok(())
    }
}

#[test]
fn honest_ids_gather_their_rows() {
    verify(scenario(&[3, 0, 4, 3, 1], None)).unwrap();
}

#[test]
fn a_value_from_another_row_fails_the_lookup() {
    // Token 0 (id 3) reads column 1 of row 2 but claims the index of row 3.
    let forge: Forge = |i, w| {
        if i == 1 {
            w.y = embedding()[2 * DIM + 1] as i128;
            *w = w.with_lookup(1);
        }
    };
    assert_rejected(verify(scenario(&[3, 0], Some(forge))), &[Kind::Lookup]);
}

#[test]
fn an_index_of_another_row_breaks_the_index_gate() {
    // The looked-up pair is a real table row (row 2's), but not `dim·id + j`.
    let forge: Forge = |i, w| {
        if i == 1 {
            w.index = (2 * DIM + 1) as i128;
            w.y = embedding()[2 * DIM + 1] as i128;
            *w = w.with_lookup(1);
        }
    };
    assert_rejected(verify(scenario(&[3, 0], Some(forge))), &[Kind::Gate]);
}

#[test]
fn ids_outside_the_vocabulary_fail_the_range_checks() {
    // The honest witness saturates to 0 there; the id checks reject it.
    for bad in [VOCAB as i128, 7, -1] {
        assert_rejected(verify(scenario(&[1, bad], None)), &[Kind::Lookup]);
    }
}

#[test]
fn validation_checks_the_shape() {
    let table = LookupTable::embedding(&embedding());
    assert_eq!(
        GatherChip::validate(&table, VOCAB, DIM, ACTIVATION_BITS),
        Ok(())
    );
    assert!(matches!(
        GatherChip::validate(&table, VOCAB + 1, DIM, ACTIVATION_BITS),
        Err(NonlinearError::Shape { .. })
    ));
    let wide = LookupTable::embedding(&[1 << 20; VOCAB * DIM]);
    assert!(matches!(
        GatherChip::validate(&wide, VOCAB, DIM, ACTIVATION_BITS),
        Err(NonlinearError::TableOutputOutOfRange { .. })
    ));
}
