//! Constant tensors: ONNX initializers and `Constant` nodes, decoded to f64,
//! with the numpy broadcasting the importer needs to expand them.

use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::TensorProto;

use crate::error::QuantizeError;

/// No tensor may have more elements than this. Provable models are far
/// smaller; the cap keeps a corrupt shape in a file from becoming a huge
/// allocation (an abort, not an error).
pub const MAX_ELEMENTS: usize = 1 << 24;

/// A constant, row-major. Integer constants (shapes, indices) and booleans
/// (masks, as 0 and 1) are stored as f64 too: every integer the importer
/// reads is far below 2^53. Infinities are allowed (a mask fill of `-inf`);
/// NaN is not.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Number of elements of `shape`, or an error if it overflows or exceeds
/// [`MAX_ELEMENTS`].
pub fn element_count(shape: &[usize], what: &str) -> Result<usize, QuantizeError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            QuantizeError::BadOnnx(format!(
                "{what} has shape {shape:?}, more than the {MAX_ELEMENTS} elements the quantizer handles"
            ))
        })
}

/// The numpy (multidirectional) broadcast of two shapes, if they broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() < rank {
            1
        } else {
            s[i + s.len() - rank]
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

impl ConstTensor {
    pub fn scalar(v: f64) -> Self {
        ConstTensor {
            shape: vec![],
            data: vec![v],
        }
    }

    /// Decodes an initializer or a `Constant` value. `what` names it in errors.
    pub fn from_proto(t: &TensorProto, what: &str) -> Result<Self, QuantizeError> {
        let bad = |m: String| QuantizeError::BadOnnx(format!("{what}: {m}"));
        if t.data_location == Some(DataLocation::External as i32) || !t.external_data.is_empty() {
            return Err(bad(
                "its data is in an external file, which is not supported; save the model \
                            with the weights inside the .onnx file"
                    .into(),
            ));
        }
        if t.segment.is_some() {
            return Err(bad("segmented tensors are not supported".into()));
        }
        let shape = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let n = element_count(&shape, what)?;
        let raw = &t.raw_data;
        let dtype = DataType::try_from(t.data_type).unwrap_or(DataType::Undefined);
        let from_raw =
            |width: usize, decode: &dyn Fn(&[u8]) -> f64| -> Result<Vec<f64>, QuantizeError> {
                if raw.len() != n * width {
                    return Err(bad(format!(
                        "raw_data has {} bytes, {} expected for {n} {} values",
                        raw.len(),
                        n * width,
                        dtype.as_str_name()
                    )));
                }
                Ok(raw.chunks_exact(width).map(decode).collect())
            };
        let data: Vec<f64> = match dtype {
            DataType::Float if !raw.is_empty() => from_raw(4, &|b| {
                f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64
            })?,
            DataType::Float => t.float_data.iter().map(|&v| v as f64).collect(),
            DataType::Double if !raw.is_empty() => {
                from_raw(8, &|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))?
            }
            DataType::Double => t.double_data.clone(),
            DataType::Int64 if !raw.is_empty() => from_raw(8, &|b| {
                i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64
            })?,
            DataType::Int64 => t.int64_data.iter().map(|&v| v as f64).collect(),
            DataType::Int32 if !raw.is_empty() => from_raw(4, &|b| {
                i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64
            })?,
            DataType::Int32 => t.int32_data.iter().map(|&v| v as f64).collect(),
            DataType::Bool if !raw.is_empty() => from_raw(1, &|b| (b[0] != 0) as u8 as f64)?,
            DataType::Bool => t
                .int32_data
                .iter()
                .map(|&v| (v != 0) as u8 as f64)
                .collect(),
            other => {
                return Err(bad(format!(
                    "element type {} is not supported (FLOAT, DOUBLE, INT32, INT64 and BOOL are)",
                    other.as_str_name()
                )))
            }
        };
        if data.len() != n {
            return Err(bad(format!(
                "holds {} values, its shape {shape:?} needs {n}",
                data.len()
            )));
        }
        if data.iter().any(|v| v.is_nan()) {
            return Err(bad(
                "contains NaN; constants must be numbers (finite, or an infinite mask fill)".into(),
            ));
        }
        Ok(ConstTensor { shape, data })
    }

    /// The values as integers (for shapes and axes).
    pub fn to_ints(&self, what: &str) -> Result<Vec<i64>, QuantizeError> {
        self.data
            .iter()
            .map(|&v| {
                if v.fract() == 0.0 && v.abs() < (1u64 << 53) as f64 {
                    Ok(v as i64)
                } else {
                    Err(QuantizeError::BadOnnx(format!(
                        "{what}: {v} is not an integer"
                    )))
                }
            })
            .collect()
    }

    /// Unidirectional broadcast to `shape` (numpy rules), row-major; `None`
    /// if `self.shape` does not broadcast to exactly `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Option<Vec<f64>> {
        if broadcast_shapes(&self.shape, shape).as_deref() != Some(shape) {
            return None;
        }
        let rank = shape.len();
        // Source strides aligned to the target's axes; 0 where broadcast.
        let mut strides = vec![0usize; rank];
        let mut stride = 1;
        for (i, &d) in self.shape.iter().enumerate().rev() {
            let axis = rank - self.shape.len() + i;
            strides[axis] = if d == 1 { 0 } else { stride };
            stride *= d;
        }
        Some(gather(&self.data, shape, &strides))
    }

    /// The single value of a tensor with one element (a scalar, `[1]`, ...).
    pub fn as_scalar(&self) -> Option<f64> {
        (self.data.len() == 1).then(|| self.data[0])
    }

    /// The same data under another shape (same element count).
    pub fn reshaped(self, shape: Vec<usize>) -> ConstTensor {
        debug_assert_eq!(shape.iter().product::<usize>(), self.data.len());
        ConstTensor {
            shape,
            data: self.data,
        }
    }

    pub fn map(&self, f: impl Fn(f64) -> f64) -> ConstTensor {
        ConstTensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    /// `self[.., start..end, ..]` along `axis`.
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> ConstTensor {
        let mut shape = self.shape.clone();
        let map = crate::wiring::slice_map(&self.shape, axis, start, end);
        shape[axis] = end - start;
        ConstTensor {
            shape,
            data: map.into_iter().map(|i| self.data[i]).collect(),
        }
    }

    /// `parts` joined along `axis` (same rank, equal other dimensions).
    pub fn concat(parts: &[ConstTensor], axis: usize) -> ConstTensor {
        let shapes: Vec<Vec<usize>> = parts.iter().map(|p| p.shape.clone()).collect();
        let mut shape = shapes[0].clone();
        shape[axis] = shapes.iter().map(|s| s[axis]).sum();
        let data = crate::wiring::concat_map(&shapes, axis)
            .into_iter()
            .map(|(k, i)| parts[k].data[i])
            .collect();
        ConstTensor { shape, data }
    }

    /// Axes permuted: output axis `i` is input axis `perm[i]`.
    pub fn transpose(&self, perm: &[usize]) -> ConstTensor {
        let rank = self.shape.len();
        let mut in_strides = vec![1usize; rank];
        for i in (0..rank.saturating_sub(1)).rev() {
            in_strides[i] = in_strides[i + 1] * self.shape[i + 1];
        }
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
        let data = gather(&self.data, &shape, &strides);
        ConstTensor { shape, data }
    }
}

/// Row-major walk over `shape`, reading `src` at `sum(index * strides)`.
fn gather(src: &[f64], shape: &[usize], strides: &[usize]) -> Vec<f64> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..n {
        out.push(src[index.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>()]);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(broadcast_shapes(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast_shapes(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_shapes(&[2, 3], &[3, 2]), None);
        let row = ConstTensor {
            shape: vec![3],
            data: vec![1.0, 2.0, 3.0],
        };
        assert_eq!(
            row.broadcast_to(&[2, 3]).unwrap(),
            vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
        );
        let col = ConstTensor {
            shape: vec![2, 1],
            data: vec![1.0, 2.0],
        };
        assert_eq!(
            col.broadcast_to(&[2, 3]).unwrap(),
            vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
        );
        assert_eq!(
            ConstTensor::scalar(7.0).broadcast_to(&[2]).unwrap(),
            vec![7.0, 7.0]
        );
        // Broadcasting must not grow the target.
        assert_eq!(col.broadcast_to(&[3]), None);
    }

    #[test]
    fn transpose_permutes_axes() {
        let t = ConstTensor {
            shape: vec![2, 3],
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let tt = t.transpose(&[1, 0]);
        assert_eq!(tt.shape, vec![3, 2]);
        assert_eq!(tt.data, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    fn proto(dtype: DataType, dims: &[i64]) -> TensorProto {
        TensorProto {
            data_type: dtype as i32,
            dims: dims.to_vec(),
            name: "w".into(),
            ..Default::default()
        }
    }

    #[test]
    fn decodes_float_data_raw_data_and_int64() {
        let mut t = proto(DataType::Float, &[2]);
        t.float_data = vec![1.5, -2.0];
        assert_eq!(
            ConstTensor::from_proto(&t, "w").unwrap().data,
            vec![1.5, -2.0]
        );
        let mut t = proto(DataType::Float, &[2]);
        t.raw_data = [1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat();
        assert_eq!(
            ConstTensor::from_proto(&t, "w").unwrap().data,
            vec![1.5, -2.0]
        );
        let mut t = proto(DataType::Int64, &[3]);
        t.raw_data = [0i64, -1, 4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let c = ConstTensor::from_proto(&t, "shape").unwrap();
        assert_eq!(c.to_ints("shape").unwrap(), vec![0, -1, 4]);
    }

    #[test]
    fn malformed_tensors_are_bad_onnx() {
        let mut t = proto(DataType::Float, &[3]);
        t.raw_data = vec![0; 8];
        let err = ConstTensor::from_proto(&t, "initializer 'w'")
            .unwrap_err()
            .to_string();
        assert!(err.contains("raw_data has 8 bytes, 12 expected"), "{err}");
        let mut t = proto(DataType::Float, &[2]);
        t.float_data = vec![f32::NAN, 0.0];
        assert!(ConstTensor::from_proto(&t, "w")
            .unwrap_err()
            .to_string()
            .contains("finite"));
        let t = proto(DataType::Float, &[1 << 40, 1 << 40]);
        assert!(matches!(
            ConstTensor::from_proto(&t, "w"),
            Err(QuantizeError::BadOnnx(_))
        ));
        let t = proto(DataType::String, &[1]);
        assert!(ConstTensor::from_proto(&t, "w")
            .unwrap_err()
            .to_string()
            .contains("STRING"));
        let t = proto(DataType::Float, &[-1]);
        assert!(ConstTensor::from_proto(&t, "w")
            .unwrap_err()
            .to_string()
            .contains("negative"));
    }
}
