#!/usr/bin/env python3
"""Writes a MiniLM-sized BERT checkpoint (Hugging Face folder) with random
weights, for the memory/time estimate of `zkinfer setup` on a model of that
size. Not bundled (about 90 MB); numpy only.

    python3 scripts/make-minilm.py OUT_DIR [--vocab N] [--layers N]

Shape: 6 layers, hidden 384, 12 heads, intermediate 1536, 512 positions,
as all-MiniLM-L6-v2 (whose vocabulary is 30522: the default here is 1024,
because zkinfer proves the embedding lookup against a table of vocab·hidden
rows; see the README). Weight scales as make_transformers.py.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "quantizer", "models"))
from make_transformers import save_safetensors  # noqa: E402

HIDDEN, HEADS, FF, MAX_POS = 384, 12, 1536, 512


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=6)
    a = ap.parse_args()
    rng = np.random.default_rng(384)
    t = {}

    def normal(name, shape, std):
        t[name] = rng.normal(0.0, std, size=shape).astype(np.float32)

    def ln(prefix):
        normal(f"{prefix}.weight", (HIDDEN,), 0.1)
        t[f"{prefix}.weight"] += 1.0
        normal(f"{prefix}.bias", (HIDDEN,), 0.05)

    def linear(prefix, n_in, n_out):
        normal(f"{prefix}.weight", (n_out, n_in), 1.0 / np.sqrt(n_in))
        normal(f"{prefix}.bias", (n_out,), 0.02)

    normal("bert.embeddings.word_embeddings.weight", (a.vocab, HIDDEN), 0.5)
    normal("bert.embeddings.position_embeddings.weight", (MAX_POS, HIDDEN), 0.1)
    normal("bert.embeddings.token_type_embeddings.weight", (2, HIDDEN), 0.1)
    ln("bert.embeddings.LayerNorm")
    for i in range(a.layers):
        p = f"bert.encoder.layer.{i}"
        for m in ("query", "key", "value"):
            linear(f"{p}.attention.self.{m}", HIDDEN, HIDDEN)
        linear(f"{p}.attention.output.dense", HIDDEN, HIDDEN)
        ln(f"{p}.attention.output.LayerNorm")
        linear(f"{p}.intermediate.dense", HIDDEN, FF)
        linear(f"{p}.output.dense", FF, HIDDEN)
        ln(f"{p}.output.LayerNorm")
    linear("bert.pooler.dense", HIDDEN, HIDDEN)
    config = {
        "architectures": ["BertModel"],
        "hidden_act": "gelu",
        "hidden_size": HIDDEN,
        "intermediate_size": FF,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": MAX_POS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": a.layers,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": a.vocab,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    save_safetensors(os.path.join(a.out, "model.safetensors"), t)
    print(f"wrote {a.out}/ ({sum(v.size for v in t.values())} parameters)")


if __name__ == "__main__":
    main()
