//! Importer tests for the transformer ops: fused patterns (GELU, layer norm,
//! masked softmax), their partial forms, wiring, shape arithmetic, token ids.

use super::*;
use crate::float_graph::Nonlinearity;

fn scalar(name: &str, v: f32) -> TensorProto {
    floats(name, &[], &[v])
}

fn bools(name: &str, dims: &[i64], data: &[bool]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Bool as i32,
        raw_data: data.iter().map(|&b| b as u8).collect(),
        ..Default::default()
    }
}

fn int_input(name: &str, dims: &[i64]) -> ValueInfoProto {
    let mut vi = value_info(name, &dims.iter().map(|&d| D::N(d)).collect::<Vec<_>>());
    if let Some(TypeValue::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
        t.elem_type = DataType::Int64 as i32;
    }
    vi
}

fn ops(g: &FloatGraph) -> Vec<&str> {
    g.nodes.iter().map(|n| n.op.kind_name()).collect()
}

impl FloatOp {
    fn kind_name(&self) -> &'static str {
        match self {
            FloatOp::Linear { .. } => "linear",
            FloatOp::Add => "add",
            FloatOp::Sub => "sub",
            FloatOp::AddConst { .. } => "add_const",
            FloatOp::ConstSub { .. } => "const_sub",
            FloatOp::Mul => "mul",
            FloatOp::MulConst { .. } => "mul_const",
            FloatOp::Relu => "relu",
            FloatOp::Reshape => "reshape",
            FloatOp::MatMul { .. } => "matmul",
            FloatOp::Pointwise { .. } => "pointwise",
            FloatOp::Softmax { .. } => "softmax",
            FloatOp::LayerNorm { .. } => "layernorm",
            FloatOp::Gather { .. } => "gather",
            FloatOp::Transpose { .. } => "transpose",
            FloatOp::Slice { .. } => "slice",
            FloatOp::Concat { .. } => "concat",
        }
    }
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

const X4: [f64; 4] = [-2.5, -0.3, 0.8, 3.1];

#[test]
fn erf_gelu_written_out_is_one_pointwise() {
    // x * 0.5 * (1 + erf(x / sqrt(2))), as BERT's gelu() exports.
    let g = single(
        vec![
            node("Mul", "/act/Mul", &["x", "half"], "h", vec![]),
            node("Div", "/act/Div", &["x", "sqrt2"], "d", vec![]),
            node("Erf", "/act/Erf", &["d"], "e", vec![]),
            node("Add", "/act/Add", &["e", "one"], "a", vec![]),
            node("Mul", "/act/Mul_1", &["h", "a"], "y", vec![]),
        ],
        vec![
            scalar("half", 0.5),
            scalar("sqrt2", std::f32::consts::SQRT_2),
            scalar("one", 1.0),
        ],
        &[1, 4],
    )
    .unwrap();
    assert_eq!(ops(&g), ["pointwise"]);
    let n = &g.nodes[0];
    assert_eq!(
        (n.name.as_str(), n.onnx_op.as_str(), &n.op),
        (
            "/act/Mul_1",
            "Gelu (fused)",
            &FloatOp::Pointwise {
                func: Nonlinearity::Gelu
            }
        )
    );
    let want: Vec<f64> = X4.iter().map(|&x| Nonlinearity::Gelu.eval(x)).collect();
    assert!(close(&run(&g, &X4), &want, 1e-12));
}

#[test]
fn tanh_gelu_with_products_for_the_cube_is_one_pointwise() {
    // 0.5 applied last, x³ as x·x·x, constants on either side.
    let g = single(
        vec![
            node("Mul", "sq", &["x", "x"], "sq", vec![]),
            node("Mul", "cube", &["sq", "x"], "cube", vec![]),
            node("Mul", "k", &["kappa", "cube"], "q", vec![]),
            node("Add", "inner", &["x", "q"], "r", vec![]),
            node("Mul", "beta", &["r", "b"], "s", vec![]),
            node("Tanh", "tanh", &["s"], "t", vec![]),
            node("Add", "plus1", &["one", "t"], "u", vec![]),
            node("Mul", "xu", &["x", "u"], "v", vec![]),
            node("Mul", "half", &["v", "h"], "y", vec![]),
        ],
        vec![
            scalar("kappa", 0.044715),
            scalar("b", (2.0 / std::f32::consts::PI).sqrt()),
            scalar("one", 1.0),
            scalar("h", 0.5),
        ],
        &[1, 4],
    )
    .unwrap();
    assert_eq!(ops(&g), ["pointwise"]);
    assert_eq!(
        g.nodes[0].op,
        FloatOp::Pointwise {
            func: Nonlinearity::GeluTanh
        }
    );
}

#[test]
fn the_gelu_op_is_one_pointwise() {
    for (approximate, func) in [
        ("none", Nonlinearity::Gelu),
        ("tanh", Nonlinearity::GeluTanh),
    ] {
        let attr = AttributeProto {
            name: "approximate".into(),
            r#type: AttributeType::String as i32,
            s: approximate.as_bytes().to_vec(),
            ..Default::default()
        };
        let g = single(
            vec![node("Gelu", "/act/Gelu", &["x"], "y", vec![attr])],
            vec![],
            &[1, 4],
        )
        .unwrap();
        assert_eq!(g.nodes[0].op, FloatOp::Pointwise { func });
    }
}

#[test]
fn other_expressions_are_emitted_op_by_op() {
    // 2·erf(x): a table and a product, not a GELU.
    let g = single(
        vec![
            node("Erf", "erf", &["x"], "e", vec![]),
            node("Mul", "twice", &["e", "two"], "y", vec![]),
        ],
        vec![scalar("two", 2.0)],
        &[1, 4],
    )
    .unwrap();
    assert_eq!(ops(&g), ["pointwise", "mul_const"]);
    let want: Vec<f64> = X4
        .iter()
        .map(|&x| 2.0 * Nonlinearity::Erf.eval(x))
        .collect();
    assert!(close(&run(&g, &X4), &want, 1e-12));
    // Pow 3 is two products; Neg is 0 - x; adding 0 is dropped.
    let g = single(
        vec![
            node("Pow", "cube", &["x", "three"], "c", vec![]),
            node("Neg", "neg", &["c"], "n", vec![]),
            node("Add", "zero", &["n", "z"], "y", vec![]),
        ],
        vec![scalar("three", 3.0), scalar("z", 0.0)],
        &[1, 4],
    )
    .unwrap();
    assert_eq!(ops(&g), ["mul", "mul", "const_sub"]);
    let want: Vec<f64> = X4.iter().map(|&x| -x * x * x).collect();
    assert!(close(&run(&g, &X4), &want, 1e-12));
    // What cannot be emitted names its node, even when a later node needs it.
    for (op, inputs, consts, hint) in [
        (
            "Pow",
            ["x", "p"],
            vec![scalar("p", 0.5)],
            "Pow with exponent 0.5",
        ),
        (
            "Div",
            ["p", "x"],
            vec![scalar("p", 1.0)],
            "division by an activation",
        ),
    ] {
        let err = single(
            vec![
                node(op, "/bad", &inputs, "b", vec![]),
                node("Relu", "r", &["b"], "y", vec![]),
            ],
            consts,
            &[1, 4],
        )
        .unwrap_err();
        let (o, name, h) = unsupported(err);
        assert_eq!((o.as_str(), name.as_str()), (op, "/bad"));
        assert!(h.contains(hint), "{h}");
    }
}

/// The layer norm of pytorch-pretrained-bert, op by op, over a [2, 4] input.
fn written_out_layer_norm(variant: u8) -> Vec<NodeProto> {
    let mut nodes = vec![
        node(
            "ReduceMean",
            "ln/ReduceMean",
            &["x"],
            "u",
            vec![attr_ints("axes", &[-1])],
        ),
        node("Sub", "ln/Sub", &["x", "u"], "d", vec![]),
    ];
    match variant {
        // Pow, a second Sub, Div, then the affine part with γ first.
        0 => nodes.extend([
            node("Pow", "ln/Pow", &["d", "two"], "p", vec![]),
            node(
                "ReduceMean",
                "ln/ReduceMean_1",
                &["p"],
                "v",
                vec![attr_ints("axes", &[1])],
            ),
            node("Sub", "ln/Sub_1", &["x", "u"], "d2", vec![]),
            node("Add", "ln/Add", &["v", "eps"], "ve", vec![]),
            node("Sqrt", "ln/Sqrt", &["ve"], "sd", vec![]),
            node("Div", "ln/Div", &["d2", "sd"], "n", vec![]),
            node("Mul", "ln/Mul", &["gamma", "n"], "g", vec![]),
            node("Add", "ln/Add_1", &["g", "beta"], "y", vec![]),
        ]),
        // d·d, Reciprocal, a product, no affine part.
        _ => nodes.extend([
            node("Mul", "ln/Square", &["d", "d"], "p", vec![]),
            node(
                "ReduceMean",
                "ln/ReduceMean_1",
                &["p"],
                "v",
                vec![attr_ints("axes", &[-1])],
            ),
            node("Add", "ln/Add", &["eps", "v"], "ve", vec![]),
            node("Sqrt", "ln/Sqrt", &["ve"], "sd", vec![]),
            node("Reciprocal", "ln/Reciprocal", &["sd"], "r", vec![]),
            node("Mul", "ln/Mul", &["r", "d"], "y", vec![]),
        ]),
    }
    nodes
}

fn ln_consts() -> Vec<TensorProto> {
    vec![
        scalar("two", 2.0),
        scalar("eps", 0.25),
        floats("gamma", &[4], &[1.0, 2.0, 0.5, -1.0]),
        floats("beta", &[4], &[0.0, 0.1, -0.2, 0.3]),
    ]
}

#[test]
fn a_written_out_layer_norm_is_one_node() {
    let x = [1.0, 2.0, 3.0, 6.0, -1.0, 0.0, 1.0, 0.0];
    let expect = |gamma: [f64; 4], beta: [f64; 4]| -> Vec<f64> {
        x.chunks(4)
            .flat_map(|row| {
                let mean = row.iter().sum::<f64>() / 4.0;
                let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 4.0;
                (0..4)
                    .map(|i| (row[i] - mean) / (var + 0.25).sqrt() * gamma[i] + beta[i])
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let g = single(written_out_layer_norm(0), ln_consts(), &[2, 4]).unwrap();
    assert_eq!(ops(&g), ["layernorm"]);
    assert_eq!(
        (g.nodes[0].name.as_str(), g.nodes[0].onnx_op.as_str()),
        ("ln/Add_1", "LayerNormalization (fused)")
    );
    let want = expect([1.0, 2.0, 0.5, -1.0], [0.0, 0.1, -0.2, 0.3]);
    assert!(close(&run(&g, &x), &want, 1e-6));
    let g = single(written_out_layer_norm(1), ln_consts(), &[2, 4]).unwrap();
    assert_eq!(ops(&g), ["layernorm"]);
    assert!(close(&run(&g, &x), &expect([1.0; 4], [0.0; 4]), 1e-6));
}

#[test]
fn the_layer_norm_op_over_the_last_axis() {
    let g = single(
        vec![node(
            "LayerNormalization",
            "/ln/LayerNormalization",
            &["x", "gamma", "beta"],
            "y",
            vec![attr_i("axis", -1), attr_f("epsilon", 0.25)],
        )],
        ln_consts(),
        &[2, 4],
    )
    .unwrap();
    let written = single(written_out_layer_norm(0), ln_consts(), &[2, 4]).unwrap();
    assert_eq!(g.nodes[0].op, written.nodes[0].op);
    let err = single(
        vec![node(
            "LayerNormalization",
            "/ln",
            &["x", "gamma"],
            "y",
            vec![attr_i("axis", 0)],
        )],
        ln_consts(),
        &[2, 4],
    )
    .unwrap_err();
    assert!(unsupported(err).2.contains("only the last axis"));
}

#[test]
fn a_partial_layer_norm_is_what_it_computes() {
    let x = [1.0, 2.0, 3.0, 6.0];
    // The mean alone: an averaging Linear; centred alone: Linear(I - 1/n).
    for (out, want) in [("u", vec![3.0]), ("d", vec![-2.0, -1.0, 0.0, 3.0])] {
        let mut nodes = written_out_layer_norm(0)[..2].to_vec();
        nodes.push(node("Identity", "id", &[out], "y", vec![]));
        let g = single(nodes, vec![], &[1, 4]).unwrap();
        assert_eq!(ops(&g), ["linear"]);
        assert!(close(&run(&g, &x), &want, 1e-12), "{out}");
    }
    // A square root outside the pattern is unsupported, naming its node.
    let mut nodes = written_out_layer_norm(0)[..7].to_vec();
    nodes.push(node("Relu", "r", &["sd"], "y", vec![]));
    let (op, name, hint) = unsupported(single(nodes, ln_consts(), &[1, 4]).unwrap_err());
    assert_eq!((op.as_str(), name.as_str()), ("Sqrt", "ln/Sqrt"));
    assert!(hint.contains("only inside a layer normalization"), "{hint}");
    let (op, name, _) = unsupported(
        single(
            vec![node("Sqrt", "/sqrt", &["x"], "y", vec![])],
            vec![],
            &[1, 4],
        )
        .unwrap_err(),
    );
    assert_eq!((op.as_str(), name.as_str()), ("Sqrt", "/sqrt"));
}

fn lower_triangle(t: usize) -> Vec<bool> {
    (0..t * t).map(|i| i % t <= i / t).collect()
}

#[test]
fn a_causal_mask_and_its_softmax_are_one_causal_softmax() {
    let x = [0.5, 9.0, 9.0, 1.0, 2.0, 9.0, 0.0, 0.0, 0.0];
    let where_mask = vec![
        node("Where", "/attn/Where", &["mask", "x", "fill"], "m", vec![]),
        node(
            "Softmax",
            "/attn/Softmax",
            &["m"],
            "y",
            vec![attr_i("axis", -1)],
        ),
    ];
    let masks = [
        (
            where_mask.clone(),
            bools("mask", &[1, 1, 3, 3], &lower_triangle(3)),
            f32::NEG_INFINITY,
        ),
        (
            where_mask,
            bools("mask", &[1, 1, 3, 3], &lower_triangle(3)),
            f32::MIN,
        ),
    ];
    for (nodes, mask, fill) in masks {
        let g = single(nodes, vec![mask, scalar("fill", fill)], &[1, 1, 3, 3]).unwrap();
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.nodes[0].op, FloatOp::Softmax { causal: true });
        let y = run(&g, &x);
        let e = |v: f64| v.exp();
        let row1 = [e(1.0) / (e(1.0) + e(2.0)), e(2.0) / (e(1.0) + e(2.0)), 0.0];
        assert!(
            close(&y[..6], &[1.0, 0.0, 0.0, row1[0], row1[1], 0.0], 1e-12),
            "{y:?}"
        );
    }
    // The additive form: scores + (0 where kept, -1e9 elsewhere).
    let bias: Vec<f32> = lower_triangle(3)
        .iter()
        .map(|&k| if k { 0.0 } else { -1e9 })
        .collect();
    let g = single(
        vec![
            node("Add", "/attn/Add", &["x", "bias"], "m", vec![]),
            node("Softmax", "/attn/Softmax", &["m"], "y", vec![]),
        ],
        vec![floats("bias", &[3, 3], &bias)],
        &[1, 1, 3, 3],
    )
    .unwrap();
    assert_eq!(g.nodes[0].op, FloatOp::Softmax { causal: true });
}

#[test]
fn other_masks_are_unsupported_and_name_the_node() {
    let mut upper = lower_triangle(3);
    upper.iter_mut().for_each(|k| *k = !*k);
    upper[0] = true;
    let softmax = |mask: TensorProto| {
        single(
            vec![
                node("Where", "/attn/Where", &["mask", "x", "fill"], "m", vec![]),
                node("Softmax", "/attn/Softmax", &["m"], "y", vec![]),
            ],
            vec![mask, scalar("fill", -1e4)],
            &[1, 3, 3],
        )
    };
    let (op, name, hint) = unsupported(softmax(bools("mask", &[3, 3], &upper)).unwrap_err());
    assert_eq!((op.as_str(), name.as_str()), ("Softmax", "/attn/Softmax"));
    assert!(hint.contains("not causal"), "{hint}");
    // A mask that keeps everything is no mask.
    let g = softmax(bools("mask", &[3, 3], &[true; 9])).unwrap();
    assert_eq!(g.nodes[0].op, FloatOp::Softmax { causal: false });
    // Masked scores that feed anything but a softmax.
    let err = single(
        vec![
            node("Where", "/attn/Where", &["mask", "x", "fill"], "m", vec![]),
            node("Relu", "r", &["m"], "y", vec![]),
        ],
        vec![
            bools("mask", &[3, 3], &lower_triangle(3)),
            scalar("fill", -1e4),
        ],
        &[1, 3, 3],
    )
    .unwrap_err();
    let (op, name, _) = unsupported(err);
    assert_eq!((op.as_str(), name.as_str()), ("Where", "/attn/Where"));
    // A fill that is not far below any score is not a mask.
    let (op, _, hint) = unsupported(
        single(
            vec![node("Where", "/w", &["mask", "x", "fill"], "y", vec![])],
            vec![
                bools("mask", &[3, 3], &lower_triangle(3)),
                scalar("fill", -5.0),
            ],
            &[1, 3, 3],
        )
        .unwrap_err(),
    );
    assert_eq!(op, "Where");
    assert!(hint.contains("attention mask"), "{hint}");
}

#[test]
fn split_concat_slice_and_constant_indexing_are_wiring() {
    let g = single(
        vec![
            node(
                "Split",
                "/split",
                &["x", "sizes"],
                "a",
                vec![attr_i("axis", 1)],
            ),
            node("Concat", "/cat", &["b", "a"], "c", vec![attr_i("axis", 1)]),
            node("Slice", "/slice", &["c", "s", "e", "ax"], "d", vec![]),
            node(
                "Gather",
                "/first",
                &["d", "zero"],
                "y",
                vec![attr_i("axis", 0)],
            ),
        ]
        .into_iter()
        .map(|mut n| {
            if n.op_type == "Split" {
                n.output = vec!["a".into(), "b".into()];
            }
            n
        })
        .collect(),
        vec![
            ints("sizes", &[2, 4]),
            ints("s", &[1]),
            ints("e", &[-1]),
            ints("ax", &[-1]),
            TensorProto {
                name: "zero".into(),
                data_type: DataType::Int64 as i32,
                int64_data: vec![0],
                ..Default::default()
            },
        ],
        &[2, 6],
    )
    .unwrap();
    assert_eq!(
        ops(&g),
        ["slice", "slice", "concat", "slice", "slice", "reshape"]
    );
    let x: Vec<f64> = (0..12).map(f64::from).collect();
    // c row 0 = [2, 3, 4, 5, 0, 1]; d = c[:, 1..5]; y = d[0].
    assert_eq!(run(&g, &x), vec![3.0, 4.0, 5.0, 0.0]);
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![4]);
}

#[test]
fn shape_arithmetic_folds_to_constants() {
    // positions = Range(0, x.shape[1]); y = x + positions; ones * that is dropped.
    let g = single(
        vec![
            node("Shape", "/shape", &["x"], "shape", vec![]),
            node(
                "Gather",
                "/len",
                &["shape", "one_i"],
                "len",
                vec![attr_i("axis", 0)],
            ),
            node(
                "Range",
                "/range",
                &["zero_i", "len", "one_i"],
                "pos",
                vec![],
            ),
            node("Unsqueeze", "/unsq", &["pos", "axes0"], "pos2", vec![]),
            node(
                "Cast",
                "/cast",
                &["pos2"],
                "posf",
                vec![attr_i("to", DataType::Float as i64)],
            ),
            node("Add", "/add", &["x", "posf"], "h", vec![]),
            node("ConstantOfShape", "/ones", &["shape"], "ones", vec![]),
            node("Mul", "/mul", &["h", "ones"], "y", vec![]),
        ]
        .into_iter()
        .map(|mut n| {
            if n.op_type == "ConstantOfShape" {
                n.attribute.push(AttributeProto {
                    name: "value".into(),
                    r#type: AttributeType::Tensor as i32,
                    t: Some(floats("v", &[1], &[1.0])),
                    ..Default::default()
                });
            }
            n
        })
        .collect(),
        vec![
            TensorProto {
                name: "one_i".into(),
                data_type: DataType::Int64 as i32,
                int64_data: vec![1],
                ..Default::default()
            },
            TensorProto {
                name: "zero_i".into(),
                data_type: DataType::Int64 as i32,
                int64_data: vec![0],
                ..Default::default()
            },
            ints("axes0", &[0]),
        ],
        &[1, 3],
    )
    .unwrap();
    assert_eq!(ops(&g), ["add_const"]);
    assert_eq!(run(&g, &[1.0, 1.0, 1.0]), vec![1.0, 2.0, 3.0]);
}

fn ids_model(nodes: Vec<NodeProto>, out: &str) -> Result<FloatGraph, QuantizeError> {
    import_model(&model(
        nodes,
        vec![
            floats("table", &[4, 2], &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]),
            ints("shape", &[3]),
        ],
        vec![int_input("ids", &[1, 3])],
        vec![untyped(out)],
    ))
}

#[test]
fn token_ids_index_an_embedding_and_nothing_else() {
    // Reshaped ids are still ids.
    let g = ids_model(
        vec![
            node("Reshape", "/view", &["ids", "shape"], "flat", vec![]),
            node("Gather", "/wte/Gather", &["table", "flat"], "y", vec![]),
        ],
        "y",
    )
    .unwrap();
    assert_eq!(ops(&g), ["reshape", "gather"]);
    assert_eq!(g.token_id_tensors(), [true, true, false]);
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![3, 2]);
    let g = ids_model(
        vec![node(
            "Gather",
            "/wte/Gather",
            &["table", "ids"],
            "y",
            vec![],
        )],
        "y",
    )
    .unwrap();
    assert_eq!(
        g.input_shapes()[0].vocab,
        Some(4),
        "the vocabulary is the table's row count"
    );
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1, 3, 2]);
    assert_eq!(
        run(&g, &[3.0, 0.0, 1.0]),
        vec![3.0, 3.5, 0.0, 0.5, 1.0, 1.5]
    );
    assert!(g
        .notes
        .iter()
        .any(|n| n.contains("holds token ids: integers in [0, 4)")));
    // Token ids used as numbers.
    let err = ids_model(
        vec![
            node("Gather", "/wte/Gather", &["table", "ids"], "e", vec![]),
            node("Relu", "/relu", &["ids"], "y", vec![]),
        ],
        "y",
    )
    .unwrap_err();
    let (op, name, hint) = unsupported(err);
    assert_eq!((op.as_str(), name.as_str()), ("Relu", "/relu"));
    assert!(hint.contains("token ids"), "{hint}");
    // An integer input that indexes no embedding.
    let err = ids_model(vec![node("Relu", "/relu", &["ids"], "y", vec![])], "y").unwrap_err();
    assert!(
        err.to_string()
            .contains("integer inputs are supported only as token ids"),
        "{err}"
    );
}
