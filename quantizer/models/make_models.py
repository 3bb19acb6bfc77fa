#!/usr/bin/env python3
"""Writes the bundled ONNX models and their JSON inputs, deterministically.

    pip install onnx numpy
    python3 quantizer/models/make_models.py        # writes next to this script

Files:
  mlp.onnx             the demo model: what torch.onnx.export emits for
                       nn.Sequential(Linear(8,16), ReLU(), Linear(16,16), ReLU(), Linear(16,4))
                       (Gemm with transB=1, Relu; input "input" [1,8], output "output" [1,4])
  mlp_ops.onnx         exercises every op the quantizer imports: MatMul+Add, Sub (both
                       operand orders), Mul by a constant, Mul of two activations, Add and
                       Sub of two activations, Reshape (0 and -1), a 3-D MatMul, Identity,
                       Flatten, a Constant node, Gemm with alpha/beta/transB=0, a symbolic
                       batch dimension, and both float_data and raw_data initializers
  unsupported_op.onnx  a Gemm followed by a LogSoftmax node named "/classifier/LogSoftmax"
  mlp.samples.json     32 calibration samples for mlp.onnx, uniform in [-1, 1]
  mlp.input.json       one input for mlp.onnx

No torch here: weights are initialised like PyTorch's nn.Linear default
(uniform in +-1/sqrt(fan_in) for both weight and bias) from a fixed seed.
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17
IR_VERSION = 8  # what torch.onnx.export writes for opset 17; tract reads it


def linear_params(rng, fan_in, fan_out):
    """PyTorch's nn.Linear default init: weight [out, in] and bias [out], both U(+-1/sqrt(fan_in))."""
    bound = 1.0 / np.sqrt(fan_in)
    w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
    b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
    return w, b


def float_data_tensor(name, array):
    """An initializer stored in float_data (numpy_helper.from_array uses raw_data)."""
    array = np.asarray(array, dtype=np.float32)
    return helper.make_tensor(name, TensorProto.FLOAT, list(array.shape), array.flatten().tolist())


def save(model, name):
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def make_model(graph):
    model = helper.make_model(
        graph,
        producer_name="zkinfer make_models.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    return model


def make_mlp(rng, sizes=(8, 16, 16, 4)):
    layers = len(sizes) - 1
    nodes, inits = [], []
    x = "input"
    for i in range(layers):
        layer = 2 * i  # nn.Sequential indices: Linear at 0, 2, 4; ReLU at 1, 3
        w, b = linear_params(rng, sizes[i], sizes[i + 1])
        inits += [numpy_helper.from_array(w, f"{layer}.weight"), numpy_helper.from_array(b, f"{layer}.bias")]
        out = "output" if i == layers - 1 else f"/{layer}/Gemm_output_0"
        nodes.append(
            helper.make_node(
                "Gemm", [x, f"{layer}.weight", f"{layer}.bias"], [out], name=f"/{layer}/Gemm",
                alpha=1.0, beta=1.0, transB=1,
            )
        )
        x = out
        if i < layers - 1:
            relu = f"/{layer + 1}/Relu_output_0"
            nodes.append(helper.make_node("Relu", [x], [relu], name=f"/{layer + 1}/Relu"))
            x = relu
    graph = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, sizes[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, sizes[-1]])],
        inits,
    )
    return make_model(graph)


def make_mlp_ops(rng):
    w1, b1 = linear_params(rng, 8, 12)
    w2, _ = linear_params(rng, 4, 5)
    w3, b3 = linear_params(rng, 15, 3)
    shift = rng.uniform(-0.2, 0.2, size=(12,)).astype(np.float32)
    inits = [
        numpy_helper.from_array(w1.T.copy(), "fc1.weight_t"),  # MatMul wants [in, out]
        float_data_tensor("fc1.bias", b1),
        float_data_tensor("one", np.float32(1.0)),  # scalar, broadcast against [batch, 12]
        numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half"),
        numpy_helper.from_array(np.array([0, 3, -1], dtype=np.int64), "reshape.shape"),
        numpy_helper.from_array(w2.T.copy(), "proj.weight_t"),
        float_data_tensor("head.weight_t", w3.T),  # Gemm with transB=0 wants [in, out]
        numpy_helper.from_array(b3.reshape(1, 3), "head.bias"),
    ]
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "fc1.weight_t"], ["m1"], name="/fc1/MatMul"),
        n("Add", ["m1", "fc1.bias"], ["a1"], name="/fc1/Add"),
        n("Relu", ["a1"], ["h"], name="/act1/Relu"),
        n("Constant", [], ["shift"], name="/shift/Constant", value=numpy_helper.from_array(shift, "shift")),
        n("Sub", ["h", "shift"], ["d"], name="/shift/Sub"),  # activation - constant
        n("Sub", ["one", "h"], ["f"], name="/flip/Sub"),  # constant - activation
        n("Mul", ["d", "half"], ["g"], name="/scale/Mul"),  # activation * constant
        n("Mul", ["g", "f"], ["p"], name="/gate/Mul"),  # activation * activation
        n("Add", ["p", "h"], ["r"], name="/residual/Add"),  # activation + activation
        n("Sub", ["r", "g"], ["r2"], name="/diff/Sub"),  # activation - activation
        n("Reshape", ["r2", "reshape.shape"], ["t"], name="/reshape/Reshape"),  # [b, 12] -> [b, 3, 4]
        n("MatMul", ["t", "proj.weight_t"], ["u"], name="/proj/MatMul"),  # [b, 3, 4] x [4, 5]
        n("Identity", ["u"], ["v"], name="/id/Identity"),
        n("Flatten", ["v"], ["w"], name="/flatten/Flatten", axis=1),  # [b, 15]
        n("Gemm", ["w", "head.weight_t", "head.bias"], ["y"], name="/head/Gemm", alpha=0.5, beta=2.0, transB=0),
    ]
    graph = helper.make_graph(
        nodes, "ops_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        inits,
    )
    return make_model(graph)


def make_unsupported(rng):
    w, b = linear_params(rng, 4, 3)
    inits = [numpy_helper.from_array(w, "fc.weight"), numpy_helper.from_array(b, "fc.bias")]
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["logits"], name="/fc/Gemm", transB=1),
        helper.make_node("LogSoftmax", ["logits"], ["probs"], name="/classifier/LogSoftmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "unsupported_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 3])],
        inits,
    )
    return make_model(graph)


def write_json(name, value):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        json.dump(value, f)
        f.write("\n")
    print(f"wrote {path}")


def main():
    rng = np.random.default_rng(20240601)
    save(make_mlp(rng), "mlp.onnx")
    save(make_mlp_ops(rng), "mlp_ops.onnx")
    save(make_unsupported(rng), "unsupported_op.onnx")
    # Six decimals keep the JSON small; the quantizer reads them as f64.
    samples = np.round(rng.uniform(-1.0, 1.0, size=(32, 1, 8)), 6).tolist()
    write_json("mlp.samples.json", {"samples": samples})
    write_json("mlp.input.json", {"input": np.round(rng.uniform(-1.0, 1.0, size=(1, 8)), 6).tolist()})

    # A bench-sized model with its own generator, so adding it left the files
    # above unchanged: the classic MNIST MLP shape (784 -> 128 -> 64 -> 10) on
    # pixel-like inputs in [0, 1]. Its weights are random, not trained.
    rng = np.random.default_rng(20261122)
    save(make_mlp(rng, (784, 128, 64, 10)), "mnist_mlp.onnx")
    samples = np.round(rng.uniform(0.0, 1.0, size=(16, 1, 784)), 3).tolist()
    write_json("mnist_mlp.samples.json", {"samples": samples})
    write_json("mnist_mlp.input.json", {"input": np.round(rng.uniform(0.0, 1.0, size=(1, 784)), 3).tolist()})


if __name__ == "__main__":
    main()
