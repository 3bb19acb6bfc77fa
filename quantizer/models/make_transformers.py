#!/usr/bin/env python3
"""Writes the bundled tiny transformers and their JSON inputs, deterministically.

    pip install onnx numpy
    python3 quantizer/models/make_transformers.py   # writes next to this script

No torch here: the graphs are built node by node the way `torch.onnx.export`
(TorchScript exporter, opset 17, constant folding on) writes these modules:
node names `/<module path>/<Op>[_k]`, outputs `<node>_output_<i>`, scalars as
`Constant` nodes, parameters as initializers named by their module path,
weights transposed by constant folding as `onnx::MatMul_<n>`, and the
Shape/Gather/Unsqueeze/Concat chains that tracing records for `x.size()`.

Files:
  gpt2_block.onnx    one GPT-2 block (HF GPT2Block, eager attention): pre-LN
                     (LayerNormalization), Conv1D as Reshape/Gemm/Reshape, Split
                     into q/k/v, 4 heads of 16, causal mask as
                     Where(Slice(bias buffer), scores, finfo.min) -> Softmax, tanh GELU
                     (gelu_new, decomposed), MLP 256; input "hidden_states" [1, 16, 64]
  gpt2_2layer.onnx   token ids "input_ids" [1, 16] (int64) -> wte + wpe (Range
                     position ids) -> 2 such blocks -> ln_f -> tied LM head (vocab 256);
                     output "logits" [1, 16, 256]
  bert_tiny.onnx     BERT encoder (pytorch-pretrained-bert style: post-LN with the
                     decomposed BertLayerNorm, erf GELU written out), 2 layers, hidden
                     64, 4 heads, intermediate 256, seq 16, vocab 256; token-type ids
                     (zeros_like) and position ids (buffer slice) fold to constants;
                     outputs "last_hidden_state" [1, 16, 64] and "pooler_output"
                     [1, 64] (Gather of token 0, Gemm, Tanh)
  *.samples.json     calibration samples; *.input.json one input per model
  gpt2_2layer_hf/, bert_tiny_hf/
                     the same two models (the same weights) as Hugging Face folders:
                     config.json and model.safetensors with the tensor names and
                     layouts transformers saves: GPT2LMHeadModel ("transformer."
                     prefix, Conv1D weights [in, out], lm_head tied to wte and so not
                     stored, the causal-mask buffer not stored) and BERT ("bert."
                     prefix, nn.Linear weights [out, in], no position_ids buffer).
                     safetensors is written here by hand: an 8-byte little-endian
                     header length, the JSON header, then the raw little-endian data.

Weights are random, not trained, with scales chosen so the activations look
like a trained model's (attention neither uniform nor one-hot, GELU inputs
over both its curved and its linear part): linear weights N(0, 1/fan_in)
(GPT-2's output projections half that std), biases N(0, 0.02^2), LayerNorm
gains 1 + N(0, 0.1^2) and offsets N(0, 0.05^2), token embeddings
N(0, 0.5^2), position and token-type embeddings N(0, 0.1^2).
"""

import json
import os
from contextlib import contextmanager

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17
IR_VERSION = 8  # what torch.onnx.export writes for opset 17; tract reads it
D_MODEL, HEADS, SEQ, D_FF, VOCAB, MAX_POS = 64, 4, 16, 256, 256, 32
HEAD_DIM = D_MODEL // HEADS


class Exporter:
    """Collects nodes and initializers, naming them as torch.onnx.export does."""

    def __init__(self):
        self.nodes, self.inits = [], []
        self.counts = {}
        self.scopes = []
        self.anon = 1000
        self.params = {}
        # nn.Linear weights by their module path, [out, in], for the HF folder
        # (the ONNX file holds them transposed under constant-folding names).
        self.linear_weights = {}

    @contextmanager
    def scope(self, name):
        self.scopes.append(name)
        try:
            yield
        finally:
            self.scopes.pop()

    def op(self, op_type, inputs, outputs=1, **attrs):
        scope = "".join("/" + s for s in self.scopes)
        k = self.counts.get((scope, op_type), 0)
        self.counts[(scope, op_type)] = k + 1
        name = f"{scope}/{op_type}" + (f"_{k}" if k else "")
        outs = [f"{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, value, dtype=np.float32):
        return self.op("Constant", [], value=numpy_helper.from_array(np.array(value, dtype=dtype)))

    def param(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        self.params[name] = np.asarray(array)
        return name

    def folded(self, hint, array):
        """An initializer that constant folding produced (e.g. a transposed weight)."""
        self.anon += 1
        return self.param(f"onnx::{hint}_{self.anon}", array)

    def dim(self, shape, axis):
        """`x.size(axis)` as traced: Gather(Shape(x), axis), unsqueezed for a Concat."""
        d = self.op("Gather", [shape, self.const(axis, np.int64)], axis=0)
        return self.op("Unsqueeze", [d, self.const([0], np.int64)])


def normal(rng, shape, std):
    return (rng.standard_normal(shape) * std).astype(np.float32)


# ---------------------------------------------------------------- GPT-2


def conv1d(ex, rng, x, prefix, n_in, n_out, std=None):
    """HF Conv1D: view(-1, n_in) -> addmm (Gemm) -> view(size_out)."""
    w = ex.param(f"{prefix}.weight", normal(rng, (n_in, n_out), std or 1.0 / np.sqrt(n_in)))
    b = ex.param(f"{prefix}.bias", normal(rng, (n_out,), 0.02))
    shape = ex.op("Shape", [x])
    d0, d1, d2 = ex.dim(shape, 0), ex.dim(shape, 1), ex.dim(shape, 2)
    flat = ex.op("Reshape", [x, ex.op("Concat", [ex.const([-1], np.int64), d2], axis=0)])
    y = ex.op("Gemm", [flat, w, b], alpha=1.0, beta=1.0)
    out_shape = ex.op("Concat", [d0, d1, ex.const([n_out], np.int64)], axis=0)
    return ex.op("Reshape", [y, out_shape])


def layer_norm_op(ex, rng, x, prefix):
    g = ex.param(f"{prefix}.weight", (1.0 + normal(rng, (D_MODEL,), 0.1)).astype(np.float32))
    b = ex.param(f"{prefix}.bias", normal(rng, (D_MODEL,), 0.05))
    return ex.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-5)


def split_heads(ex, x, perm):
    shape = ex.op("Shape", [x])
    new_shape = ex.op(
        "Concat",
        [ex.dim(shape, 0), ex.dim(shape, 1), ex.const([HEADS], np.int64), ex.const([HEAD_DIM], np.int64)],
        axis=0,
    )
    return ex.op("Transpose", [ex.op("Reshape", [x, new_shape])], perm=perm)


def gpt2_attention(ex, rng, x, prefix):
    with ex.scope("c_attn"):
        qkv = conv1d(ex, rng, x, f"{prefix}.c_attn", D_MODEL, 3 * D_MODEL)
    q, k, v = ex.op("Split", [qkv, ex.const([D_MODEL] * 3, np.int64)], outputs=3, axis=2)
    q = split_heads(ex, q, [0, 2, 1, 3])
    k = split_heads(ex, k, [0, 2, 1, 3])
    v = split_heads(ex, v, [0, 2, 1, 3])
    scores = ex.op("MatMul", [q, ex.op("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = ex.op("Div", [scores, ex.const(np.sqrt(HEAD_DIM))])
    # causal_mask = self.bias[:, :, key_length - query_length : key_length, :key_length]
    bias = ex.param(f"{prefix}.bias", np.tril(np.ones((MAX_POS, MAX_POS), dtype=bool)).reshape(1, 1, MAX_POS, MAX_POS))
    q_len = ex.dim(ex.op("Shape", [q]), 2)
    k_len = ex.dim(ex.op("Shape", [k]), 2)
    start = ex.op("Sub", [k_len, q_len])
    mask = ex.op("Slice", [bias, start, k_len, ex.const([2], np.int64), ex.const([1], np.int64)])
    mask = ex.op("Slice", [mask, ex.const([0], np.int64), k_len, ex.const([3], np.int64), ex.const([1], np.int64)])
    scores = ex.op("Where", [mask, scores, ex.const(np.finfo(np.float32).min)])
    probs = ex.op("Softmax", [scores], axis=-1)
    probs = ex.op("Cast", [probs], to=TensorProto.FLOAT)  # attn_weights.type(value.dtype)
    ctx = ex.op("MatMul", [probs, v])
    ctx = ex.op("Transpose", [ctx], perm=[0, 2, 1, 3])
    shape = ex.op("Shape", [ctx])
    merged = ex.op("Concat", [ex.dim(shape, 0), ex.dim(shape, 1), ex.const([D_MODEL], np.int64)], axis=0)
    ctx = ex.op("Reshape", [ctx, merged])
    with ex.scope("c_proj"):
        return conv1d(ex, rng, ctx, f"{prefix}.c_proj", D_MODEL, D_MODEL, std=0.5 / np.sqrt(D_MODEL))


def gelu_new(ex, x):
    """0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))"""
    half = ex.op("Mul", [x, ex.const(0.5)])
    cube = ex.op("Pow", [x, ex.const(3.0)])
    inner = ex.op("Add", [x, ex.op("Mul", [cube, ex.const(0.044715)])])
    t = ex.op("Tanh", [ex.op("Mul", [inner, ex.const(np.sqrt(2.0 / np.pi))])])
    return ex.op("Mul", [half, ex.op("Add", [t, ex.const(1.0)])])


def gpt2_block(ex, rng, x, prefix):
    p = f"{prefix}." if prefix else ""
    with ex.scope("ln_1"):
        h = layer_norm_op(ex, rng, x, f"{p}ln_1")
    with ex.scope("attn"):
        a = gpt2_attention(ex, rng, h, f"{p}attn")
    x = ex.op("Add", [a, x])
    with ex.scope("ln_2"):
        h = layer_norm_op(ex, rng, x, f"{p}ln_2")
    with ex.scope("mlp"):
        with ex.scope("c_fc"):
            h = conv1d(ex, rng, h, f"{p}mlp.c_fc", D_MODEL, D_FF)
        with ex.scope("act"):
            h = gelu_new(ex, h)
        with ex.scope("c_proj"):
            h = conv1d(ex, rng, h, f"{p}mlp.c_proj", D_FF, D_MODEL, std=0.5 / np.sqrt(D_FF))
    return ex.op("Add", [x, h])


def make_gpt2_block(rng):
    ex = Exporter()
    out = gpt2_block(ex, rng, "hidden_states", "")
    ex.nodes[-1].output[0] = "output"
    del out
    graph = helper.make_graph(
        ex.nodes, "main_graph",
        [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [1, SEQ, D_MODEL])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, SEQ, D_MODEL])],
        ex.inits,
    )
    return make_model(graph)


def make_gpt2_2layer(rng):
    ex = Exporter()
    with ex.scope("transformer"):
        shape = ex.op("Shape", ["input_ids"])
        seq = ex.dim(shape, 1)
        ids = ex.op("Reshape", ["input_ids", ex.op("Concat", [ex.const([-1], np.int64), seq], axis=0)])
        seq_scalar = ex.op("Gather", [shape, ex.const(1, np.int64)], axis=0)
        positions = ex.op("Range", [ex.const(0, np.int64), seq_scalar, ex.const(1, np.int64)])
        positions = ex.op("Unsqueeze", [positions, ex.const([0], np.int64)])
        wte = normal(rng, (VOCAB, D_MODEL), 0.5)
        ex.param("transformer.wte.weight", wte)
        ex.param("transformer.wpe.weight", normal(rng, (MAX_POS, D_MODEL), 0.1))
        with ex.scope("wte"):
            tok = ex.op("Gather", ["transformer.wte.weight", ids])
        with ex.scope("wpe"):
            pos = ex.op("Gather", ["transformer.wpe.weight", positions])
        x = ex.op("Add", [tok, pos])
        for layer in range(2):
            with ex.scope(f"h.{layer}"):
                x = gpt2_block(ex, rng, x, f"transformer.h.{layer}")
        with ex.scope("ln_f"):
            x = layer_norm_op(ex, rng, x, "transformer.ln_f")
        out_shape = ex.op("Concat", [ex.const([-1], np.int64), seq, ex.const([D_MODEL], np.int64)], axis=0)
        x = ex.op("Reshape", [x, out_shape])
    with ex.scope("lm_head"):
        ex.op("MatMul", [x, ex.folded("MatMul", wte.T.copy())])
    ex.nodes[-1].output[0] = "logits"
    graph = helper.make_graph(
        ex.nodes, "main_graph",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, SEQ])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, SEQ, VOCAB])],
        ex.inits,
    )
    # GPT2LMHeadModel's state dict: lm_head.weight is wte (tied) and the
    # causal-mask buffers are not persistent, so neither is saved.
    tensors = {
        n: a for n, a in ex.params.items() if not n.startswith("onnx::") and not n.endswith(".attn.bias")
    }
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": VOCAB - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": VOCAB - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_embd": D_MODEL,
        "n_head": HEADS,
        "n_inner": None,
        "n_layer": 2,
        "n_positions": MAX_POS,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    return make_model(graph), (config, tensors)


# ---------------------------------------------------------------- BERT


def linear3d(ex, rng, x, prefix, n_in, n_out):
    """nn.Linear on a 3-D input: MatMul by the folded transposed weight, then Add(bias, .)."""
    weight = normal(rng, (n_in, n_out), 1.0 / np.sqrt(n_in))
    ex.linear_weights[f"{prefix}.weight"] = weight.T.copy()
    w = ex.folded("MatMul", weight)
    b = ex.param(f"{prefix}.bias", normal(rng, (n_out,), 0.02))
    return ex.op("Add", [b, ex.op("MatMul", [x, w])])


def bert_layer_norm(ex, rng, x, prefix):
    """pytorch-pretrained-bert's BertLayerNorm, written out (so exported op by op)."""
    g = ex.param(f"{prefix}.weight", (1.0 + normal(rng, (D_MODEL,), 0.1)).astype(np.float32))
    b = ex.param(f"{prefix}.bias", normal(rng, (D_MODEL,), 0.05))
    u = ex.op("ReduceMean", [x], axes=[-1], keepdims=1)
    s = ex.op("ReduceMean", [ex.op("Pow", [ex.op("Sub", [x, u]), ex.const(2.0)])], axes=[-1], keepdims=1)
    n = ex.op("Div", [ex.op("Sub", [x, u]), ex.op("Sqrt", [ex.op("Add", [s, ex.const(1e-12)])])])
    return ex.op("Add", [ex.op("Mul", [g, n]), b])


def bert_gelu(ex, x):
    """x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))"""
    half = ex.op("Mul", [x, ex.const(0.5)])
    e = ex.op("Erf", [ex.op("Div", [x, ex.const(np.sqrt(2.0))])])
    return ex.op("Mul", [half, ex.op("Add", [e, ex.const(1.0)])])


def bert_heads(ex, x):
    shape = ex.op("Shape", [x])
    new_shape = ex.op(
        "Concat",
        [ex.dim(shape, 0), ex.dim(shape, 1), ex.const([HEADS], np.int64), ex.const([HEAD_DIM], np.int64)],
        axis=0,
    )
    return ex.op("Transpose", [ex.op("Reshape", [x, new_shape])], perm=[0, 2, 1, 3])


def bert_layer(ex, rng, x, mask, prefix):
    with ex.scope("attention"):
        with ex.scope("self"):
            p = f"{prefix}.attention.self"
            with ex.scope("query"):
                q = linear3d(ex, rng, x, f"{p}.query", D_MODEL, D_MODEL)
            with ex.scope("key"):
                k = linear3d(ex, rng, x, f"{p}.key", D_MODEL, D_MODEL)
            with ex.scope("value"):
                v = linear3d(ex, rng, x, f"{p}.value", D_MODEL, D_MODEL)
            q, k, v = bert_heads(ex, q), bert_heads(ex, k), bert_heads(ex, v)
            scores = ex.op("MatMul", [q, ex.op("Transpose", [k], perm=[0, 1, 3, 2])])
            scores = ex.op("Div", [scores, ex.const(np.sqrt(HEAD_DIM))])
            scores = ex.op("Add", [scores, mask])
            probs = ex.op("Softmax", [scores], axis=-1)
            ctx = ex.op("Transpose", [ex.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
            shape = ex.op("Shape", [ctx])
            merged = ex.op("Concat", [ex.dim(shape, 0), ex.dim(shape, 1), ex.const([D_MODEL], np.int64)], axis=0)
            ctx = ex.op("Reshape", [ctx, merged])
        with ex.scope("output"):
            p = f"{prefix}.attention.output"
            with ex.scope("dense"):
                h = linear3d(ex, rng, ctx, f"{p}.dense", D_MODEL, D_MODEL)
            h = ex.op("Add", [h, x])
            with ex.scope("LayerNorm"):
                x = bert_layer_norm(ex, rng, h, f"{p}.LayerNorm")
    with ex.scope("intermediate"):
        with ex.scope("dense"):
            h = linear3d(ex, rng, x, f"{prefix}.intermediate.dense", D_MODEL, D_FF)
        h = bert_gelu(ex, h)
    with ex.scope("output"):
        with ex.scope("dense"):
            h = linear3d(ex, rng, h, f"{prefix}.output.dense", D_FF, D_MODEL)
        h = ex.op("Add", [h, x])
        with ex.scope("LayerNorm"):
            return bert_layer_norm(ex, rng, h, f"{prefix}.output.LayerNorm")


def make_bert_tiny(rng):
    ex = Exporter()
    shape = ex.op("Shape", ["input_ids"])
    seq = ex.dim(shape, 1)
    # attention_mask = torch.ones_like(input_ids); token_type_ids = torch.zeros_like(input_ids)
    ones = ex.op("ConstantOfShape", [shape], value=numpy_helper.from_array(np.array([1], dtype=np.int64)))
    zeros = ex.op("ConstantOfShape", [shape], value=numpy_helper.from_array(np.array([0], dtype=np.int64)))
    # extended mask: (1.0 - mask[:, None, None, :]) * -10000.0, all zeros here
    ext = ex.op("Unsqueeze", [ex.op("Unsqueeze", [ones, ex.const([1], np.int64)]), ex.const([2], np.int64)])
    ext = ex.op("Cast", [ext], to=TensorProto.FLOAT)
    ext = ex.op("Mul", [ex.op("Sub", [ex.const(1.0), ext]), ex.const(-10000.0)])
    with ex.scope("embeddings"):
        ex.param("embeddings.word_embeddings.weight", normal(rng, (VOCAB, D_MODEL), 0.5))
        ex.param("embeddings.position_embeddings.weight", normal(rng, (MAX_POS, D_MODEL), 0.1))
        ex.param("embeddings.token_type_embeddings.weight", normal(rng, (2, D_MODEL), 0.1))
        ex.param("embeddings.position_ids", np.arange(MAX_POS, dtype=np.int64).reshape(1, MAX_POS))
        positions = ex.op(
            "Slice",
            ["embeddings.position_ids", ex.const([0], np.int64), seq, ex.const([1], np.int64), ex.const([1], np.int64)],
        )
        with ex.scope("word_embeddings"):
            words = ex.op("Gather", ["embeddings.word_embeddings.weight", "input_ids"])
        with ex.scope("position_embeddings"):
            pos = ex.op("Gather", ["embeddings.position_embeddings.weight", positions])
        with ex.scope("token_type_embeddings"):
            types = ex.op("Gather", ["embeddings.token_type_embeddings.weight", zeros])
        x = ex.op("Add", [ex.op("Add", [words, pos]), types])
        with ex.scope("LayerNorm"):
            x = bert_layer_norm(ex, rng, x, "embeddings.LayerNorm")
    with ex.scope("encoder"):
        for layer in range(2):
            with ex.scope(f"layer.{layer}"):
                x = bert_layer(ex, rng, x, ext, f"encoder.layer.{layer}")
    ex.nodes[-1].output[0] = "last_hidden_state"
    x = "last_hidden_state"
    with ex.scope("pooler"):
        first = ex.op("Gather", [x, ex.const(0, np.int64)], axis=1)
        w = ex.param("pooler.dense.weight", normal(rng, (D_MODEL, D_MODEL), 1.0 / np.sqrt(D_MODEL)))
        b = ex.param("pooler.dense.bias", normal(rng, (D_MODEL,), 0.02))
        with ex.scope("dense"):
            first = ex.op("Gemm", [first, w, b], alpha=1.0, beta=1.0, transB=1)
        with ex.scope("activation"):
            ex.op("Tanh", [first])
    ex.nodes[-1].output[0] = "pooler_output"
    graph = helper.make_graph(
        ex.nodes, "main_graph",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, SEQ])],
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, SEQ, D_MODEL]),
            helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, [1, D_MODEL]),
        ],
        ex.inits,
    )
    # The encoder as BERT checkpoints hold it (under "bert.", as the
    # BertFor* heads save their base model), nn.Linear weights [out, in].
    params = {
        n: a for n, a in ex.params.items() if not n.startswith("onnx::") and n != "embeddings.position_ids"
    }
    params.update(ex.linear_weights)
    tensors = {f"bert.{n}": a for n, a in params.items()}
    config = {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": D_MODEL,
        "initializer_range": 0.02,
        "intermediate_size": D_FF,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": MAX_POS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    return make_model(graph), (config, tensors)


# ---------------------------------------------------------------- files


def make_model(graph):
    model = helper.make_model(
        graph,
        producer_name="pytorch",
        producer_version="2.1.0",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    return model


def save(model, name):
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return path


def write_json(name, value):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def save_safetensors(path, tensors):
    """safetensors as the `safetensors` package writes it: u64 LE header length,
    the JSON header (names sorted, 8-byte aligned with spaces), then each
    tensor's little-endian bytes in header order."""
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        chunks.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for c in chunks:
            f.write(c)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n :]
    return {
        k: np.frombuffer(data[v["data_offsets"][0] : v["data_offsets"][1]], dtype="<f4").reshape(v["shape"])
        for k, v in header.items()
    }


def save_hf(name, config, tensors):
    """A Hugging Face model folder: config.json and model.safetensors."""
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    path = os.path.join(folder, "model.safetensors")
    save_safetensors(path, tensors)
    back = read_safetensors(path)
    assert sorted(back) == sorted(tensors), path
    assert all(np.array_equal(back[k], tensors[k]) for k in tensors), path
    print(f"wrote {folder}/ ({len(tensors)} tensors, {os.path.getsize(path)} bytes)")


def check_runs(path, feeds):
    """The ONNX reference evaluator runs the file and gives finite outputs."""
    from onnx.reference import ReferenceEvaluator

    outs = ReferenceEvaluator(path).run(None, feeds)
    assert all(np.isfinite(o).all() for o in outs), path


def main():
    rng = np.random.default_rng(20261201)
    path = save(make_gpt2_block(rng), "gpt2_block.onnx")
    # Hidden states like a small model's residual stream: N(0, 1), four decimals.
    samples = np.round(rng.standard_normal((8, 1, SEQ, D_MODEL)), 4)
    write_json("gpt2_block.samples.json", {"samples": samples.tolist()})
    one = np.round(rng.standard_normal((1, SEQ, D_MODEL)), 4)
    write_json("gpt2_block.input.json", {"input": one.tolist()})
    check_runs(path, {"hidden_states": one.astype(np.float32)})

    for name, make in [("gpt2_2layer", make_gpt2_2layer), ("bert_tiny", make_bert_tiny)]:
        model, (config, tensors) = make(rng)
        path = save(model, f"{name}.onnx")
        save_hf(f"{name}_hf", config, tensors)
        ids = rng.integers(0, VOCAB, size=(16, 1, SEQ))
        write_json(f"{name}.samples.json", {"samples": ids.tolist()})
        one = rng.integers(0, VOCAB, size=(1, SEQ))
        write_json(f"{name}.input.json", {"input": one.tolist()})
        check_runs(path, {"input_ids": one.astype(np.int64)})


if __name__ == "__main__":
    main()
