//! Human-readable output shared by the CLI, the demo and the bench.

use std::io::Write;

use zkinfer_quantizer::{fixed::dequantize, QuantizedModel};

/// Outputs longer than this show only their first [`SHOWN`] values (a
/// transformer's logits have thousands); the max difference covers all.
const SHOWN: usize = 16;

/// Prints each output value dequantized, next to the float reference when
/// one is given, with the largest absolute difference.
pub fn print_outputs(
    model: &QuantizedModel,
    outputs: &[Vec<i64>],
    reference: Option<&[Vec<f64>]>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    for (i, (&id, out)) in model.outputs.iter().zip(outputs).enumerate() {
        let name = &model.tensors[id].name;
        writeln!(w, "output '{name}' {:?}:", model.tensors[id].shape)?;
        let float = reference.and_then(|r| r.get(i));
        let mut max_err: f64 = 0.0;
        for (j, &q) in out.iter().enumerate() {
            let v = dequantize(q, model.scale_bits);
            let shown = j < SHOWN;
            match float.and_then(|f| f.get(j)) {
                Some(&f) => {
                    max_err = max_err.max((v - f).abs());
                    if !shown {
                        continue;
                    }
                    writeln!(
                        w,
                        "  [{j:>3}] proved {v:>12.6}   float {f:>12.6}   diff {:>9.2e}",
                        (v - f).abs()
                    )?;
                }
                None if shown => writeln!(w, "  [{j:>3}] proved {v:>12.6}")?,
                None => {}
            }
        }
        if out.len() > SHOWN {
            writeln!(w, "  ... ({} more values)", out.len() - SHOWN)?;
        }
        if float.is_some() {
            writeln!(w, "  max |proved - float| = {max_err:.3e}")?;
        }
    }
    Ok(())
}
