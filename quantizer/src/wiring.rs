//! Index maps of the pure-wiring ops (transpose, slice, concat): output
//! element `o` is input element `map[o]`. Integer inference and the circuit
//! compiler both use these maps, so a circuit reuses the input's cells
//! (copy constraints, no new cells) in exactly the order inference computes.

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        s[a] = s[a + 1] * shape[a + 1];
    }
    s
}

/// Output axis `a` is input axis `perm[a]`.
pub fn transpose_map(in_shape: &[usize], perm: &[usize]) -> Vec<usize> {
    let out_shape: Vec<usize> = perm.iter().map(|&p| in_shape[p]).collect();
    let in_strides = strides(in_shape);
    let out_strides = strides(&out_shape);
    let len: usize = in_shape.iter().product();
    (0..len)
        .map(|o| {
            perm.iter()
                .enumerate()
                .map(|(a, &p)| (o / out_strides[a]) % out_shape[a] * in_strides[p])
                .sum()
        })
        .collect()
}

/// `x[.., start..end, ..]` along `axis`.
pub fn slice_map(in_shape: &[usize], axis: usize, start: usize, end: usize) -> Vec<usize> {
    let outer: usize = in_shape[..axis].iter().product();
    let inner: usize = in_shape[axis + 1..].iter().product();
    let mut map = Vec::with_capacity(outer * (end - start) * inner);
    for o in 0..outer {
        for a in start..end {
            for i in 0..inner {
                map.push((o * in_shape[axis] + a) * inner + i);
            }
        }
    }
    map
}

/// The inputs (of these shapes) joined along `axis`: `(input, element)` per output element.
pub fn concat_map(in_shapes: &[Vec<usize>], axis: usize) -> Vec<(usize, usize)> {
    let outer: usize = in_shapes[0][..axis].iter().product();
    let inner: usize = in_shapes[0][axis + 1..].iter().product();
    let mut map = Vec::new();
    for o in 0..outer {
        for (k, shape) in in_shapes.iter().enumerate() {
            for a in 0..shape[axis] {
                for i in 0..inner {
                    map.push((k, (o * shape[axis] + a) * inner + i));
                }
            }
        }
    }
    map
}

/// `x` transposed (see [`transpose_map`]), for any element type.
pub fn transpose<T: Copy>(x: &[T], in_shape: &[usize], perm: &[usize]) -> Vec<T> {
    transpose_map(in_shape, perm)
        .into_iter()
        .map(|i| x[i])
        .collect()
}

/// `x[.., start..end, ..]` (see [`slice_map`]), for any element type.
pub fn slice<T: Copy>(
    x: &[T],
    in_shape: &[usize],
    axis: usize,
    start: usize,
    end: usize,
) -> Vec<T> {
    slice_map(in_shape, axis, start, end)
        .into_iter()
        .map(|i| x[i])
        .collect()
}

/// The tensors `parts` (of shapes `shapes`) joined along `axis`.
pub fn concat<T: Copy>(parts: &[&[T]], shapes: &[Vec<usize>], axis: usize) -> Vec<T> {
    concat_map(shapes, axis)
        .into_iter()
        .map(|(k, i)| parts[k][i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_of_a_2x3_matrix() {
        // [[0,1,2],[3,4,5]]^T = [[0,3],[1,4],[2,5]]
        assert_eq!(transpose_map(&[2, 3], &[1, 0]), vec![0, 3, 1, 4, 2, 5]);
        // Swapping the two middle axes of [1, 2, 2, 1].
        assert_eq!(
            transpose_map(&[1, 2, 2, 1], &[0, 2, 1, 3]),
            vec![0, 2, 1, 3]
        );
    }

    #[test]
    fn slice_and_concat_are_inverse() {
        let shape = [2, 5, 3];
        let a = slice_map(&shape, 1, 0, 2);
        let b = slice_map(&shape, 1, 2, 5);
        let joined: Vec<usize> = concat_map(&[vec![2, 2, 3], vec![2, 3, 3]], 1)
            .into_iter()
            .map(|(k, i)| if k == 0 { a[i] } else { b[i] })
            .collect();
        assert_eq!(joined, (0..30).collect::<Vec<_>>());
    }
}
