//! Importer tests: hand-built protos for each lowering rule, and the bundled
//! models for the file-level errors.

use std::path::PathBuf;

use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::type_proto::{Tensor as TensorType, Value as TypeValue};
use tract_onnx::pb::*;

use super::*;

mod patterns;

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

enum D {
    N(i64),
    P(&'static str),
}

fn value_info(name: &str, dims: &[D]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                D::N(v) => dimension::Value::DimValue(*v),
                D::P(p) => dimension::Value::DimParam(p.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TensorType {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn floats(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: data.to_vec(),
        ..Default::default()
    }
}

fn ints(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

fn attr_i(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn attr_f(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn model(
    nodes: Vec<NodeProto>,
    initializer: Vec<TensorProto>,
    input: Vec<ValueInfoProto>,
    output: Vec<ValueInfoProto>,
) -> ModelProto {
    ModelProto {
        graph: Some(GraphProto {
            node: nodes,
            initializer,
            input,
            output,
            name: "t".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An output declared by name only (no type), so no shape check applies.
fn untyped(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        ..Default::default()
    }
}

/// One input `x` of a static `shape`, one output `y`.
fn single(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    shape: &[i64],
) -> Result<FloatGraph, QuantizeError> {
    let dims: Vec<D> = shape.iter().map(|&d| D::N(d)).collect();
    import_model(&model(
        nodes,
        inits,
        vec![value_info("x", &dims)],
        vec![untyped("y")],
    ))
}

fn run(g: &FloatGraph, x: &[f64]) -> Vec<f64> {
    g.run(&[x.to_vec()]).unwrap().remove(0)
}

fn unsupported(err: QuantizeError) -> (String, String, String) {
    match err {
        QuantizeError::UnsupportedOp { op, node, hint } => (op, node, hint),
        other => panic!("expected UnsupportedOp, got {other}"),
    }
}

#[test]
fn gemm_with_alpha_beta_and_trans_b_is_one_linear() {
    // y = 2 * x @ B^T + 0.5 * C, B [3, 2] (transB=1), C [3].
    let g = single(
        vec![node(
            "Gemm",
            "/fc/Gemm",
            &["x", "B", "C"],
            "y",
            vec![
                attr_f("alpha", 2.0),
                attr_f("beta", 0.5),
                attr_i("transB", 1),
            ],
        )],
        vec![
            floats("B", &[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, -1.0]),
            floats("C", &[3], &[2.0, 4.0, 6.0]),
        ],
        &[1, 2],
    )
    .unwrap();
    assert_eq!(g.nodes.len(), 1);
    assert!(matches!(
        &g.nodes[0].op,
        FloatOp::Linear {
            in_features: 2,
            out_features: 3,
            bias: Some(_),
            ..
        }
    ));
    assert_eq!(
        (g.nodes[0].name.as_str(), g.nodes[0].onnx_op.as_str()),
        ("/fc/Gemm", "Gemm")
    );
    // x = [3, 5]: B x = [3, 5, -2] -> 2 * that + [1, 2, 3].
    assert_eq!(run(&g, &[3.0, 5.0]), vec![7.0, 12.0, -1.0]);
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1, 3]);
}

#[test]
fn gemm_with_a_per_row_c_adds_it_after_the_product() {
    // C [2, 1] differs per row: Linear, then AddConst of C broadcast to [2, 2].
    let g = single(
        vec![node("Gemm", "g", &["x", "B", "C"], "y", vec![])],
        vec![
            floats("B", &[2, 2], &[1.0, 0.0, 0.0, 1.0]),
            floats("C", &[2, 1], &[10.0, 20.0]),
        ],
        &[2, 2],
    )
    .unwrap();
    let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["g:matmul", "g"]);
    assert_eq!(run(&g, &[1.0, 2.0, 3.0, 4.0]), vec![11.0, 12.0, 23.0, 24.0]);
}

#[test]
fn matmul_with_constant_weights_works_on_any_leading_shape() {
    // [1, 2, 2] @ [2, 3] -> [1, 2, 3].
    let g = single(
        vec![node("MatMul", "mm", &["x", "W"], "y", vec![])],
        vec![floats("W", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])],
        &[1, 2, 2],
    )
    .unwrap();
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1, 2, 3]);
    assert_eq!(
        run(&g, &[1.0, 0.0, 0.0, 1.0]),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    // A 1-D right operand drops the last axis: [1, 2] @ [2] -> [1].
    let g = single(
        vec![node("MatMul", "mm", &["x", "v"], "y", vec![])],
        vec![floats("v", &[2], &[1.0, -1.0])],
        &[1, 2],
    )
    .unwrap();
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1]);
    assert_eq!(run(&g, &[5.0, 3.0]), vec![2.0]);
}

#[test]
fn matmul_of_two_activations_is_batched_and_never_broadcast() {
    // x [2, 1, 2] @ transpose(x) [2, 2, 1]: each batch's dot product with itself.
    let g = single(
        vec![
            node(
                "Transpose",
                "t",
                &["x"],
                "xt",
                vec![attr_ints("perm", &[0, 2, 1])],
            ),
            node("MatMul", "/attn/MatMul", &["x", "xt"], "y", vec![]),
        ],
        vec![],
        &[2, 1, 2],
    )
    .unwrap();
    assert!(matches!(
        g.nodes[1].op,
        FloatOp::MatMul { m: 1, k: 2, n: 1 }
    ));
    assert_eq!(run(&g, &[1.0, 2.0, 3.0, 4.0]), vec![5.0, 25.0]);
    // [2, 1, 2] @ [1, 2, 2] would broadcast the batch axis.
    let err = single(
        vec![
            node("Slice", "s", &["x", "z", "o", "z"], "x0", vec![]),
            node("Reshape", "r", &["x0", "shape"], "b", vec![]),
            node("MatMul", "/attn/MatMul", &["x", "b"], "y", vec![]),
        ],
        vec![ints("z", &[0]), ints("o", &[1]), ints("shape", &[1, 2, 1])],
        &[2, 1, 2],
    )
    .unwrap_err();
    let (op, node, hint) = unsupported(err);
    assert_eq!((op.as_str(), node.as_str()), ("MatMul", "/attn/MatMul"));
    assert!(hint.contains("batch axes must be equal"), "{hint}");
}

#[test]
fn arithmetic_with_constants_in_either_order() {
    let c = || floats("c", &[2], &[1.0, 4.0]);
    let case = |op: &str, inputs: [&str; 2]| {
        single(
            vec![node(op, "n", &inputs, "y", vec![])],
            vec![c()],
            &[1, 2],
        )
    };
    let x = [2.0, 8.0];
    assert_eq!(run(&case("Add", ["c", "x"]).unwrap(), &x), vec![3.0, 12.0]);
    assert_eq!(run(&case("Sub", ["x", "c"]).unwrap(), &x), vec![1.0, 4.0]);
    assert_eq!(run(&case("Sub", ["c", "x"]).unwrap(), &x), vec![-1.0, -4.0]);
    assert_eq!(run(&case("Mul", ["x", "c"]).unwrap(), &x), vec![2.0, 32.0]);
    assert_eq!(run(&case("Div", ["x", "c"]).unwrap(), &x), vec![2.0, 2.0]);
    let g = case("Sub", ["c", "x"]).unwrap();
    assert!(matches!(g.nodes[0].op, FloatOp::ConstSub { .. }));
    let (_, _, hint) = unsupported(case("Div", ["c", "x"]).unwrap_err());
    assert!(hint.contains("division by an activation"), "{hint}");
}

#[test]
fn activations_combine_only_at_equal_shapes() {
    let g = single(
        vec![
            node("Relu", "r", &["x"], "h", vec![]),
            node("Mul", "m", &["x", "h"], "y", vec![]),
        ],
        vec![],
        &[1, 3],
    )
    .unwrap();
    assert_eq!(run(&g, &[-1.0, 2.0, 3.0]), vec![0.0, 4.0, 9.0]);
    // A constant that would grow the activation's shape is not supported.
    let err = single(
        vec![node("Add", "grow", &["x", "c"], "y", vec![])],
        vec![floats("c", &[2, 1], &[1.0, 2.0])],
        &[1, 3],
    )
    .unwrap_err();
    let (op, node, hint) = unsupported(err);
    assert_eq!((op.as_str(), node.as_str()), ("Add", "grow"));
    assert!(hint.contains("[1, 3] to [2, 3]"), "{hint}");
}

#[test]
fn constant_subgraphs_fold_into_one_op() {
    // Constant(2) * Transpose(W) then x @ that: one Linear with the folded weight.
    let value = floats("v", &[], &[2.0]);
    let k = NodeProto {
        op_type: "Constant".into(),
        name: "k".into(),
        output: vec!["two".into()],
        attribute: vec![AttributeProto {
            name: "value".into(),
            r#type: AttributeType::Tensor as i32,
            t: Some(value),
            ..Default::default()
        }],
        ..Default::default()
    };
    let g = single(
        vec![
            k,
            node("Transpose", "t", &["W"], "Wt", vec![]),
            node("Mul", "scale", &["Wt", "two"], "W2", vec![]),
            node("MatMul", "mm", &["x", "W2"], "y", vec![]),
        ],
        vec![floats("W", &[1, 2], &[3.0, 5.0])],
        &[1, 2],
    )
    .unwrap();
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(run(&g, &[1.0, 1.0]), vec![16.0]);
}

#[test]
fn reshape_follows_onnx_zero_and_minus_one() {
    let g = single(
        vec![node("Reshape", "rs", &["x", "s"], "y", vec![])],
        vec![ints("s", &[0, 3, -1])],
        &[1, 12],
    )
    .unwrap();
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1, 3, 4]);
    let bad = single(
        vec![node("Reshape", "rs", &["x", "s"], "y", vec![])],
        vec![ints("s", &[5, -1])],
        &[1, 12],
    );
    assert!(matches!(bad, Err(QuantizeError::BadOnnx(m)) if m.contains("node 'rs' (Reshape)")));
    let two = single(
        vec![node("Reshape", "rs", &["x", "s"], "y", vec![])],
        vec![ints("s", &[-1, -1])],
        &[1, 12],
    );
    assert!(matches!(two, Err(QuantizeError::BadOnnx(m)) if m.contains("more than one -1")));
    let dynamic = single(
        vec![node("Reshape", "rs", &["x", "x"], "y", vec![])],
        vec![],
        &[1, 2],
    )
    .unwrap_err();
    assert_eq!(unsupported(dynamic).0, "Reshape");
}

#[test]
fn flatten_splits_at_the_axis_and_identity_aliases() {
    let g = single(
        vec![
            node("Flatten", "f", &["x"], "f_out", vec![attr_i("axis", -1)]),
            node("Identity", "i", &["f_out"], "y", vec![]),
        ],
        vec![],
        &[2, 3, 4],
    )
    .unwrap();
    assert_eq!(g.nodes.len(), 1, "Identity adds no node");
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![6, 4]);
    let g = single(
        vec![node("Flatten", "f", &["x"], "y", vec![])],
        vec![],
        &[2, 3, 4],
    )
    .unwrap();
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![2, 12]);
}

#[test]
fn symbolic_dimensions_become_one_with_a_note() {
    let p = model(
        vec![node("Relu", "r", &["x"], "y", vec![])],
        vec![],
        vec![value_info("x", &[D::P("batch"), D::N(4)])],
        vec![value_info("y", &[D::P("batch"), D::N(4)])],
    );
    let g = import_model(&p).unwrap();
    assert_eq!(g.tensors[g.inputs[0]].shape, vec![1, 4]);
    assert_eq!(
        g.notes,
        vec!["input 'x': symbolic dimension 'batch' (axis 0) set to 1".to_string()]
    );
}

#[test]
fn a_declared_output_shape_that_disagrees_is_bad_onnx() {
    let p = model(
        vec![node("Relu", "r", &["x"], "y", vec![])],
        vec![],
        vec![value_info("x", &[D::N(1), D::N(4)])],
        vec![value_info("y", &[D::N(1), D::N(5)])],
    );
    let err = import_model(&p).unwrap_err().to_string();
    assert!(
        err.contains("graph output 'y' is declared with shape [1, 5] but computes to [1, 4]"),
        "{err}"
    );
}

#[test]
fn undefined_names_custom_domains_and_constant_outputs_are_errors() {
    let err = single(
        vec![node("Relu", "r", &["nope"], "y", vec![])],
        vec![],
        &[1],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("node 'r' (Relu): reads 'nope'"), "{err}");
    let mut custom = node("Relu", "r", &["x"], "y", vec![]);
    custom.domain = "com.example".into();
    assert!(unsupported(single(vec![custom], vec![], &[1]).unwrap_err())
        .2
        .contains("com.example"));
    let err = single(
        vec![node("Relu", "r", &["c"], "y", vec![])],
        vec![floats("c", &[1], &[1.0])],
        &[1],
    )
    .unwrap_err();
    assert!(err.to_string().contains("is a constant"), "{err}");
    let err = single(vec![node("Relu", "", &["x"], "z", vec![])], vec![], &[1]).unwrap_err();
    assert!(
        err.to_string()
            .contains("graph output 'y' is never produced"),
        "{err}"
    );
}

#[test]
fn bundled_unsupported_model_names_the_op_and_node() {
    let err = load_onnx(&models_dir().join("unsupported_op.onnx")).unwrap_err();
    let msg = err.to_string();
    let (op, node, hint) = unsupported(err);
    assert_eq!(
        (op.as_str(), node.as_str()),
        ("LogSoftmax", "/classifier/LogSoftmax")
    );
    assert!(hint.contains("supported ops: Gemm"), "{hint}");
    assert!(
        msg.starts_with("unsupported op 'LogSoftmax' at node '/classifier/LogSoftmax': "),
        "{msg}"
    );
}

#[test]
fn truncated_and_garbage_files_are_bad_onnx() {
    let bytes = std::fs::read(models_dir().join("mlp.onnx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 4] = [
        ("truncated.onnx", bytes[..100].to_vec()),
        ("half.onnx", bytes[..bytes.len() / 2].to_vec()),
        (
            "garbage.onnx",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("empty.onnx", Vec::new()),
    ];
    for (name, data) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        match load_onnx(&path) {
            Err(QuantizeError::BadOnnx(m)) => assert!(m.contains(name), "{name}: {m}"),
            other => panic!("{name}: expected BadOnnx, got {other:?}"),
        }
    }
    assert!(matches!(
        load_onnx(&dir.path().join("missing.onnx")),
        Err(QuantizeError::Io(..))
    ));
}

#[test]
fn bundled_models_import() {
    let g = load_onnx(&models_dir().join("mlp.onnx")).unwrap();
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.onnx_op.as_str()).collect();
    assert_eq!(ops, ["Gemm", "Relu", "Gemm", "Relu", "Gemm"]);
    assert_eq!(g.tensors[g.inputs[0]].shape, vec![1, 8]);
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1, 4]);
    assert!(g.notes.is_empty());
    let g = load_onnx(&models_dir().join("mlp_ops.onnx")).unwrap();
    let kinds: Vec<&str> = g.nodes.iter().map(|n| n.onnx_op.as_str()).collect();
    assert_eq!(
        kinds,
        [
            // "Mul by 0.5" and "1 - h" are kept pending until "/gate/Mul" needs them.
            "MatMul", "Add", "Relu", "Sub", "Mul", "Sub", "Mul", "Add", "Sub", "Reshape", "MatMul",
            "Flatten", "Gemm"
        ]
    );
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1, 3]);
    assert_eq!(g.notes.len(), 1, "the symbolic batch dimension");
}
