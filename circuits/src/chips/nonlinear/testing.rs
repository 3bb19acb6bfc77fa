//! Test harness of the nonlinearity chips: a circuit with the smallest column
//! pool (a lookup column, four gate columns, four fixed columns), the shared
//! range chip and every nonlinearity chip over that pool, loading the
//! scenario's pointwise tables before running it. Failures are classified
//! with [`crate::testing::assert_rejected`].

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_proofs::plonk::{Advice, Circuit, Column, ConstraintSystem, Error};
use halo2curves::bn256::Fr;
use zkinfer_quantizer::nonlinear::PointwiseTable;

use crate::cell::QCell;
use crate::chips::elementwise::ElementwiseChip;
use crate::chips::gather::GatherChip;
use crate::chips::layernorm::LayerNormChip;
use crate::chips::pointwise::{LoadedTable, LookupTable, PointwiseChip};
use crate::chips::range::RangeChip;
use crate::chips::rescale::RescaleChip;
use crate::chips::softmax::SoftmaxChip;
use crate::params::CircuitParams;
use crate::rows::Rows;

/// Scale `s` of the test circuits.
pub(crate) const SCALE_BITS: u32 = 6;
/// Activation width `B` of the test circuits.
pub(crate) const ACTIVATION_BITS: u32 = 14;

#[derive(Clone, Debug)]
pub(crate) struct NonlinearConfig {
    pub input: Column<Advice>,
    pub range: RangeChip,
    pub pointwise: PointwiseChip,
    pub softmax: SoftmaxChip,
    pub layernorm: LayerNormChip,
    pub gather: GatherChip,
}

impl NonlinearConfig {
    pub(crate) fn configure(meta: &mut ConstraintSystem<Fr>, params: &CircuitParams) -> Self {
        let advice: Vec<Column<Advice>> = (0..5).map(|_| meta.advice_column()).collect();
        for &column in &advice {
            meta.enable_equality(column);
        }
        let g = [advice[1], advice[2], advice[3], advice[4]];
        let f = [(); 4].map(|_| meta.fixed_column());
        let (s, b) = (params.scale_bits.max(1), params.activation_bits);
        let range = RangeChip::configure(meta, advice[0], params.lookup_bits.max(1));
        let rescale = RescaleChip::configure(meta, [g[0], g[1], g[2]], s, b);
        let elementwise = ElementwiseChip::configure(meta, [g[0], g[1], g[2]], f);
        let pointwise = PointwiseChip::configure(meta, g, f, b);
        let softmax = SoftmaxChip::configure(meta, g, [f[0], f[1]], pointwise.clone(), s, b);
        let gather = GatherChip::new(elementwise.clone(), pointwise.clone());
        let layernorm = LayerNormChip::configure(meta, g, [f[0], f[1]], rescale, elementwise, s, b);
        NonlinearConfig {
            input: g[0],
            range,
            pointwise,
            softmax,
            layernorm,
            gather,
        }
    }
}

/// What a test circuit lays out once the range table and `tables()` are loaded.
pub(crate) trait Scenario: Clone {
    fn tables(&self) -> Vec<PointwiseTable> {
        Vec::new()
    }

    /// Embedding tables, loaded after `tables()`.
    fn embeddings(&self) -> Vec<LookupTable> {
        Vec::new()
    }

    fn run(
        &self,
        config: &NonlinearConfig,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        tables: &[LoadedTable],
    ) -> Result<(), Error>;
}

#[derive(Clone)]
struct Harness<S> {
    scenario: S,
    params: CircuitParams,
}

impl<S: Scenario> Circuit<Fr> for Harness<S> {
    type Config = NonlinearConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> CircuitParams {
        self.params.clone()
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: CircuitParams,
    ) -> NonlinearConfig {
        NonlinearConfig::configure(meta, &params)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> NonlinearConfig {
        NonlinearConfig::configure(meta, &params())
    }

    fn synthesize(
        &self,
        config: NonlinearConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        config.range.load_table(&mut layouter)?;
        let mut tables: Vec<LookupTable> = self.scenario.tables().iter().map(Into::into).collect();
        tables.extend(self.scenario.embeddings());
        let tables = config.pointwise.load_tables(&mut layouter, &tables)?;
        let mut rows = Rows::default();
        self.scenario
            .run(&config, &mut layouter, &mut rows, &tables)
    }
}

/// `2^12` rows, 8-bit range limbs, scale [`SCALE_BITS`], activations
/// [`ACTIVATION_BITS`].
pub(crate) fn params() -> CircuitParams {
    CircuitParams {
        k: 12,
        lookup_bits: 8,
        advice_columns: 5,
        scale_bits: SCALE_BITS,
        activation_bits: ACTIVATION_BITS,
        ..CircuitParams::default()
    }
}

/// Runs `scenario` in MockProver (the circuit has no instance column).
pub(crate) fn verify<S: Scenario>(scenario: S) -> Result<(), Vec<VerifyFailure>> {
    let params = params();
    let k = params.k;
    MockProver::run(k, &Harness { scenario, params }, vec![])
        .expect("the test circuit synthesizes")
        .verify()
}

/// Unconstrained advice cells holding `values`: the inputs a chip under test
/// receives (as if produced, and bounded, by earlier chips).
pub(crate) fn witness_cells(
    config: &NonlinearConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    values: &[i128],
) -> Result<Vec<QCell>, Error> {
    let start = rows.take_gate(values.len());
    layouter.assign_region(
        || "test inputs",
        |mut region| {
            Ok(values
                .iter()
                .enumerate()
                .map(|(i, &v)| QCell::assign(&mut region, config.input, start + i, Value::known(v)))
                .collect())
        },
    )
}

/// The known values of `cells` (the test circuits always know them).
pub(crate) fn known(cells: &[QCell]) -> Vec<i128> {
    cells
        .iter()
        .map(|c| {
            let mut out = None;
            c.value.map(|v| out = Some(v));
            out.expect("test witnesses are known")
        })
        .collect()
}

/// `n` values in `[lo, hi]` from `seed`.
pub(crate) fn random_values(seed: u64, n: usize, lo: i128, hi: i128) -> Vec<i128> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(lo..=hi)).collect()
}
