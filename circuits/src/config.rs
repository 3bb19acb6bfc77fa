//! The circuit configuration: the column pool and every chip over it.

use halo2_proofs::plonk::ConstraintSystem;
use halo2curves::bn256::Fr;

use crate::chips::elementwise::ElementwiseChip;
use crate::chips::freivalds::FreivaldsChip;
use crate::chips::gather::GatherChip;
use crate::chips::layernorm::LayerNormChip;
use crate::chips::linear::LinearChip;
use crate::chips::pack::PackChip;
use crate::chips::pointwise::PointwiseChip;
use crate::chips::poseidon::PoseidonChip;
use crate::chips::private_gather::PrivateGatherChip;
use crate::chips::range::RangeChip;
use crate::chips::relu::ReluChip;
use crate::chips::rescale::RescaleChip;
use crate::chips::softmax::SoftmaxChip;
use crate::columns::Columns;
use crate::params::CircuitParams;

#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub columns: Columns,
    pub range: RangeChip,
    pub linear: LinearChip,
    pub rescale: RescaleChip,
    pub relu: ReluChip,
    pub elementwise: ElementwiseChip,
    /// Present when `params.freivalds_lanes > 0`.
    pub freivalds: Option<FreivaldsChip>,
    /// Present when `params.nonlinear`.
    pub nonlinear: Option<NonlinearChips>,
    /// Present when `params.packed_public`.
    pub pack: Option<PackChip>,
    /// Present with private weights.
    pub private: Option<PrivateWeightChips>,
    /// Present with private weights or a hashed input.
    pub poseidon: Option<PoseidonChip>,
    /// The input appears only as its commitment.
    pub hashed_input: bool,
    pub activation_bits: u32,
}

/// What a private-weights circuit adds: the packing of the two parameter
/// groups of the model commitment ([`crate::commitment`]).
#[derive(Clone, Debug)]
pub struct PrivateWeightChips {
    /// Lanes of `weight_bits` bits.
    pub weights: PackChip,
    /// Lanes of `bias_bits` bits; absent when the model has no bias.
    pub biases: Option<PackChip>,
    /// Embedding tables as advice; present with the transformer chips.
    pub gather: Option<PrivateGatherChip>,
    pub weight_bits: u32,
    pub bias_bits: u32,
}

/// The transformer chips, all over the same gate and fixed columns, sharing
/// one lookup argument (the pointwise chip's tables).
#[derive(Clone, Debug)]
pub struct NonlinearChips {
    pub pointwise: PointwiseChip,
    pub softmax: SoftmaxChip,
    pub layernorm: LayerNormChip,
    pub gather: GatherChip,
}

impl ModelConfig {
    /// Depends on `params` alone (see [`CircuitParams`]).
    ///
    /// Columns: `advice[0]` is the range chip's; the gate columns `g[0..]`
    /// hold linear (`g[0]` = x, `g[1..=C]` = accumulators), rescale
    /// (`g[0..3]`), ReLU (`g[0..4]`) and elementwise (`g[0..3]`) rows; fixed
    /// `f[0..C]` hold weights, `f[0..4]` the elementwise coefficients. With
    /// `F = freivalds_lanes > 0`, the Freivalds chip takes `g[0..F]` as
    /// operands, `f[0..F]` as coefficients and the `F + 1` second-phase
    /// columns; it is configured last, so a circuit without it keeps the
    /// constraint system it had before the chip existed. With
    /// `params.nonlinear`, the pointwise, softmax and layer-norm chips take
    /// `g[0..4]` and `f[0..4]`, configured after everything else for the
    /// same reason. With `params.packed_public`, the pack chip takes the gate
    /// columns, configured very last.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, params: &CircuitParams) -> Self {
        let params = params.normalized();
        let lanes = params.advice_columns - 2;
        let freivalds_lanes = params.freivalds_lanes;
        let second_phase = if freivalds_lanes > 0 {
            freivalds_lanes + 1
        } else {
            0
        };
        let columns = Columns::configure(
            meta,
            params.advice_columns,
            lanes.max(4).max(freivalds_lanes),
            second_phase,
            params.range_lanes - 1,
        );
        let g = columns.gate().to_vec();
        let f = columns.fixed.clone();
        let mut range = RangeChip::configure(meta, columns.lookup(), params.lookup_bits);
        let linear = LinearChip::configure(meta, g[0], &g[1..=lanes], &f[..lanes]);
        let rescale = RescaleChip::configure(
            meta,
            [g[0], g[1], g[2]],
            params.scale_bits,
            params.activation_bits,
        );
        let relu = ReluChip::configure(meta, [g[0], g[1], g[2], g[3]], params.activation_bits);
        let f4 = [f[0], f[1], f[2], f[3]];
        let elementwise = ElementwiseChip::configure(meta, [g[0], g[1], g[2]], f4);
        let freivalds = (freivalds_lanes > 0).then(|| {
            let p = &columns.second_phase;
            FreivaldsChip::configure(
                meta,
                &g[..freivalds_lanes],
                &f[..freivalds_lanes],
                p[0],
                &p[1..],
            )
        });
        let (s, b) = (params.scale_bits, params.activation_bits);
        let nonlinear = params.nonlinear.then(|| {
            let g4 = [g[0], g[1], g[2], g[3]];
            let pointwise = PointwiseChip::configure(meta, g4, f4, b);
            let f2 = [f[0], f[1]];
            NonlinearChips {
                softmax: SoftmaxChip::configure(meta, g4, f2, pointwise.clone(), s, b),
                layernorm: LayerNormChip::configure(
                    meta,
                    g4,
                    f2,
                    rescale.clone(),
                    elementwise.clone(),
                    s,
                    b,
                ),
                gather: GatherChip::new(elementwise.clone(), pointwise.clone()),
                pointwise,
            }
        });
        range.add_lanes(meta, &columns.extra_lookup);
        // Last, for the same reason as the chips above.
        let pack = params
            .packed_public
            .then(|| PackChip::configure(meta, &g, params.activation_bits));
        // After everything else, so that circuits with fixed weights and a
        // public input keep their constraint system.
        let private = params.private_weights().then(|| PrivateWeightChips {
            weights: PackChip::configure(meta, &g, params.weight_bits),
            biases: (params.bias_bits > 0).then(|| PackChip::configure(meta, &g, params.bias_bits)),
            gather: params.nonlinear.then(|| {
                let key = meta.fixed_column();
                PrivateGatherChip::configure(meta, key, f[1], g[0], g[1])
            }),
            weight_bits: params.weight_bits,
            bias_bits: params.bias_bits,
        });
        let poseidon = (params.private_weights() || params.hashed_input()).then(|| {
            PoseidonChip::configure(
                meta,
                [g[0], g[1], g[2]],
                [g[3], g[4], g[5]],
                [f[0], f[1], f[2]],
            )
        });
        ModelConfig {
            columns,
            range,
            linear,
            rescale,
            relu,
            elementwise,
            freivalds,
            nonlinear,
            pack,
            private,
            poseidon,
            hashed_input: params.hashed_input(),
            activation_bits: params.activation_bits,
        }
    }

    /// Lanes of the Freivalds check; 0 when the circuit has none.
    pub fn freivalds_lanes(&self) -> usize {
        self.freivalds.as_ref().map_or(0, FreivaldsChip::lanes)
    }
}
