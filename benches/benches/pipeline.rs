//! Criterion benches of the proving pipeline on the bundled models that
//! `zkinfer bench` runs by default (`bundled::default_bench`).
//!
//! `cargo bench -p zkinfer-benches` prints criterion's statistics for
//! setup, prove and verify, and before them one table of the figures a
//! single run gives (k, columns, peak memory, proof size, accuracy).
//! `zkinfer bench` prints the same table without criterion.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use zkinfer_gpu::{Backend, BackendChoice};
use zkinfer_prover::bundled;
use zkinfer_prover::keys::VerifyingKeyFile;
use zkinfer_prover::pipeline::{print_figures, run_bundled};
use zkinfer_prover::progress::Progress;
use zkinfer_prover::prove::prove;
use zkinfer_prover::setup::setup;
use zkinfer_prover::srs::Srs;
use zkinfer_prover::verify::verify;
use zkinfer_quantizer::inputs;

fn pipeline(c: &mut Criterion) {
    let backend =
        Backend::select(BackendChoice::Auto).expect("the CPU backend is always available");
    let tmp = tempfile::tempdir().expect("temp dir");
    // The models `zkinfer bench` runs by default; the larger transformers
    // would take most of an hour under criterion's repetitions.
    for m in bundled::default_bench() {
        let run = run_bundled(m, &tmp.path().join(m.name), backend, &Progress::hidden())
            .expect("pipeline run");
        print_figures(&[&run.figures], &mut std::io::stdout()).expect("stdout");

        let srs = Arc::new(Srs::load(&run.artifacts.srs).expect("srs"));
        let vk = VerifyingKeyFile::load(&run.artifacts.keys.join("vk")).expect("vk");
        let real = inputs::load_input(&run.artifacts.input).expect("input");
        let q = inputs::quantize_inputs(&run.model, &real).expect("quantized input");
        let keys = setup(&run.model, &srs, &Progress::hidden()).expect("setup");

        let mut g = c.benchmark_group(m.name);
        g.sample_size(10);
        g.bench_function("setup", |b| {
            b.iter(|| setup(&run.model, &srs, &Progress::hidden()).expect("setup"))
        });
        g.bench_function("prove", |b| {
            b.iter(|| {
                prove(
                    &run.model,
                    &keys.pk,
                    q.clone(),
                    backend,
                    &Progress::hidden(),
                )
                .expect("prove")
            })
        });
        g.bench_function("verify", |b| {
            b.iter(|| verify(&vk.view(), &run.proof).expect("verify"))
        });
        g.finish();
    }
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
