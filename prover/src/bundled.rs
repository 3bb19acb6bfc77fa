//! Models shipped inside the binary, so `zkinfer demo` and `zkinfer bench`
//! run on a fresh machine with no downloads. They are made by
//! `quantizer/models/make_models.py` (deterministic seeds).

pub struct BundledModel {
    pub name: &'static str,
    pub description: &'static str,
    pub onnx: &'static [u8],
    /// Calibration samples (samples.json format).
    pub samples: &'static str,
    /// One example input (input.json format).
    pub input: &'static str,
}

pub const MLP: BundledModel = BundledModel {
    name: "mlp",
    description:
        "dense MLP 8 -> 16 -> 16 -> 4 with ReLU (Gemm, Relu), as torch.onnx.export writes it",
    onnx: include_bytes!("../../quantizer/models/mlp.onnx"),
    samples: include_str!("../../quantizer/models/mlp.samples.json"),
    input: include_str!("../../quantizer/models/mlp.input.json"),
};

pub const MNIST_MLP: BundledModel = BundledModel {
    name: "mnist_mlp",
    description:
        "dense MLP 784 -> 128 -> 64 -> 10 with ReLU (MNIST-sized, random weights), for benchmarks",
    onnx: include_bytes!("../../quantizer/models/mnist_mlp.onnx"),
    samples: include_str!("../../quantizer/models/mnist_mlp.samples.json"),
    input: include_str!("../../quantizer/models/mnist_mlp.input.json"),
};

pub const ALL: &[BundledModel] = &[MLP, MNIST_MLP];

pub fn by_name(name: &str) -> Option<&'static BundledModel> {
    ALL.iter().find(|m| m.name == name)
}
