//! Models shipped inside the binary, so `zkinfer demo` and `zkinfer bench`
//! run on a fresh machine with no downloads. The dense ones are made by
//! `quantizer/models/make_models.py`, the transformers by
//! `quantizer/models/make_transformers.py` (deterministic seeds).

use zkinfer_quantizer::QuantizeOptions;

pub struct BundledModel {
    pub name: &'static str,
    pub description: &'static str,
    pub onnx: &'static [u8],
    /// Calibration samples (samples.json format).
    pub samples: &'static str,
    /// One example input (input.json format).
    pub input: &'static str,
    /// Signed width of the activations (`zkinfer quantize --activation-bits`):
    /// attention scores need 20 bits, dense models fit the default 16.
    pub activation_bits: u32,
    /// What the outputs are, which decides the accuracy figures beyond the
    /// max abs error.
    pub outputs: OutputKind,
    /// Whether `zkinfer bench` without `--model` runs it: the models that
    /// take seconds, plus one transformer block.
    pub in_default_bench: bool,
}

/// How to judge a proved output against the float reference besides the
/// largest absolute difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// Plain numbers: only the max abs error means something.
    Values,
    /// Scores over a vocabulary or classes (last axis): does the proved
    /// output pick the same top-1 token as the float model?
    Logits,
    /// Hidden states / embeddings (vectors along the last axis): cosine
    /// similarity to the float model's vectors.
    Embeddings,
}

impl BundledModel {
    /// The options `zkinfer quantize` would need for this model.
    pub fn quantize_options(&self) -> QuantizeOptions {
        QuantizeOptions {
            name: Some(self.name.to_string()),
            activation_bits: self.activation_bits,
            ..QuantizeOptions::default()
        }
    }
}

pub const MLP: BundledModel = BundledModel {
    name: "mlp",
    description:
        "dense MLP 8 -> 16 -> 16 -> 4 with ReLU (Gemm, Relu), as torch.onnx.export writes it",
    onnx: include_bytes!("../../quantizer/models/mlp.onnx"),
    samples: include_str!("../../quantizer/models/mlp.samples.json"),
    input: include_str!("../../quantizer/models/mlp.input.json"),
    activation_bits: 16,
    outputs: OutputKind::Values,
    in_default_bench: true,
};

pub const MNIST_MLP: BundledModel = BundledModel {
    name: "mnist_mlp",
    description:
        "dense MLP 784 -> 128 -> 64 -> 10 with ReLU (MNIST-sized, random weights), for benchmarks",
    onnx: include_bytes!("../../quantizer/models/mnist_mlp.onnx"),
    samples: include_str!("../../quantizer/models/mnist_mlp.samples.json"),
    input: include_str!("../../quantizer/models/mnist_mlp.input.json"),
    activation_bits: 16,
    outputs: OutputKind::Logits,
    in_default_bench: true,
};

pub const GPT2_BLOCK: BundledModel = BundledModel {
    name: "gpt2_block",
    description:
        "one GPT-2 block (causal attention, 4 heads, GELU MLP), hidden states [1,16,64] in and out",
    onnx: include_bytes!("../../quantizer/models/gpt2_block.onnx"),
    samples: include_str!("../../quantizer/models/gpt2_block.samples.json"),
    input: include_str!("../../quantizer/models/gpt2_block.input.json"),
    activation_bits: 20,
    outputs: OutputKind::Embeddings,
    in_default_bench: true,
};

pub const GPT2_2LAYER: BundledModel = BundledModel {
    name: "gpt2_2layer",
    description: "tiny GPT-2: 16 token ids -> embeddings -> 2 blocks -> LM head logits [1,16,256]",
    onnx: include_bytes!("../../quantizer/models/gpt2_2layer.onnx"),
    samples: include_str!("../../quantizer/models/gpt2_2layer.samples.json"),
    input: include_str!("../../quantizer/models/gpt2_2layer.input.json"),
    activation_bits: 20,
    outputs: OutputKind::Logits,
    in_default_bench: false,
};

pub const BERT_TINY: BundledModel = BundledModel {
    name: "bert_tiny",
    description: "tiny 2-layer post-LN BERT: 16 token ids -> last_hidden_state [1,16,64] + pooler_output [1,64]",
    onnx: include_bytes!("../../quantizer/models/bert_tiny.onnx"),
    samples: include_str!("../../quantizer/models/bert_tiny.samples.json"),
    input: include_str!("../../quantizer/models/bert_tiny.input.json"),
    activation_bits: 20,
    outputs: OutputKind::Embeddings,
    in_default_bench: false,
};

pub const ALL: &[BundledModel] = &[MLP, MNIST_MLP, GPT2_BLOCK, GPT2_2LAYER, BERT_TINY];

pub fn by_name(name: &str) -> Option<&'static BundledModel> {
    ALL.iter().find(|m| m.name == name)
}

/// What `zkinfer bench` runs without `--model`.
pub fn default_bench() -> impl Iterator<Item = &'static BundledModel> {
    ALL.iter().filter(|m| m.in_default_bench)
}
