//! Measures a layout by running the real synthesis against an `Assignment`
//! that only records which rows each advice column uses, and returns the
//! allocator's [`Demand`]. The planner relies on it instead of a separate cost
//! model, so the plan cannot drift from what the chips actually lay out.

use std::cell::RefCell;

use halo2_proofs::circuit::{SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    Advice, Any, Assigned, Assignment, Challenge, Circuit, Column, ConstraintSystem, Error, Fixed,
    FloorPlanner, Instance, Selector,
};
use halo2curves::bn256::Fr;
use zkinfer_quantizer::QuantizedModel;

use crate::config::ModelConfig;
use crate::error::CircuitError;
use crate::graph;
use crate::params::CircuitParams;
use crate::rows::{Demand, Rows};

/// Rows used by each track (see [`crate::rows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Heights {
    pub gate: usize,
    pub range: usize,
}

/// Synthesizes `model` without a witness under `params`: the rows each track
/// actually uses, and what the layout asked for.
pub(crate) fn measure(
    model: &QuantizedModel,
    params: &CircuitParams,
) -> Result<(Heights, Demand), CircuitError> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let config = ModelConfig::configure(&mut cs, params);
    let lookups: Vec<usize> = config.columns.lookups().iter().map(|c| c.index()).collect();
    let mut counter = RowCounter {
        heights: vec![0; cs.num_advice_columns()],
    };
    let probe = Probe {
        model,
        params: params.clone(),
        rows: RefCell::new(None),
    };
    SimpleFloorPlanner::synthesize(&mut counter, &probe, config, cs.constants().clone())
        .map_err(|e| CircuitError::Synthesis(format!("{e:?}")))?;
    let demand = probe
        .rows
        .into_inner()
        .map(|rows| rows.demand().clone())
        .unwrap_or_default();
    let height = |range: bool| {
        (counter.heights.iter().enumerate())
            .filter(|(i, _)| lookups.contains(i) == range)
            .map(|(_, &h)| h)
            .max()
            .unwrap_or(0)
    };
    let heights = Heights {
        range: height(true),
        gate: height(false),
    };
    Ok((heights, demand))
}

/// The model's synthesis without a witness; keeps the allocator it ends with.
struct Probe<'a> {
    model: &'a QuantizedModel,
    params: CircuitParams,
    rows: RefCell<Option<Rows>>,
}

impl Circuit<Fr> for Probe<'_> {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        Probe {
            model: self.model,
            params: self.params.clone(),
            rows: RefCell::new(None),
        }
    }

    fn params(&self) -> CircuitParams {
        self.params.clone()
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: CircuitParams,
    ) -> ModelConfig {
        ModelConfig::configure(meta, &params)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        ModelConfig::configure(meta, &CircuitParams::default())
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl halo2_proofs::circuit::Layouter<Fr>,
    ) -> Result<(), Error> {
        let rows = graph::lay_out(self.model, None, Value::unknown(), &config, &mut layouter)?;
        *self.rows.borrow_mut() = Some(rows);
        Ok(())
    }
}

/// Records, per advice column, one past the last row assigned.
struct RowCounter {
    heights: Vec<usize>,
}

impl Assignment<Fr> for RowCounter {
    fn enter_region<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }

    fn annotate_column<A, AR>(&mut self, _: A, _: Column<Any>)
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
    }

    fn exit_region(&mut self) {}

    fn enable_selector<A, AR>(&mut self, _: A, _: &Selector, _: usize) -> Result<(), Error>
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        Ok(())
    }

    fn query_instance(&self, _: Column<Instance>, _: usize) -> Result<Value<Fr>, Error> {
        Ok(Value::unknown())
    }

    fn assign_advice<'v>(
        &mut self,
        column: Column<Advice>,
        row: usize,
        _: Value<Assigned<Fr>>,
    ) -> Value<&'v Assigned<Fr>> {
        if let Some(h) = self.heights.get_mut(column.index()) {
            *h = (*h).max(row + 1);
        }
        Value::unknown()
    }

    fn assign_fixed(&mut self, _: Column<Fixed>, _: usize, _: Assigned<Fr>) {}

    fn copy(&mut self, _: Column<Any>, _: usize, _: Column<Any>, _: usize) {}

    fn fill_from_row(
        &mut self,
        _: Column<Fixed>,
        _: usize,
        _: Value<Assigned<Fr>>,
    ) -> Result<(), Error> {
        Ok(())
    }

    fn get_challenge(&self, _: Challenge) -> Value<Fr> {
        Value::unknown()
    }

    fn push_namespace<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }

    fn pop_namespace(&mut self, _: Option<String>) {}
}
