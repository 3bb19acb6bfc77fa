use crate::bundled;
use crate::pipeline::{print_figures, run_bundled};
use crate::progress::Progress;
use clap::Args as ClapArgs;
use zkinfer_gpu::{Backend, BackendChoice};

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// Bundled models to run (default: all).
    #[arg(long)]
    model: Vec<String>,
    /// List the bundled models and exit.
    #[arg(long)]
    list: bool,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    backend: String,
}

pub fn run(a: Args) -> CliResult {
    if a.list {
        for m in bundled::ALL {
            println!("{:<10} {}", m.name, m.description);
        }
        return Ok(0);
    }
    let backend = Backend::select(a.backend.parse::<BackendChoice>()?)?;
    let models: Vec<_> = if a.model.is_empty() {
        bundled::ALL.iter().collect()
    } else {
        a.model
            .iter()
            .map(|n| bundled::by_name(n).ok_or_else(|| format!("no bundled model '{n}'")))
            .collect::<Result<_, _>>()?
    };
    let tmp = tempfile::tempdir()?;
    let mut figures = Vec::new();
    for m in models {
        let progress = Progress::spinner(m.name);
        let run = run_bundled(m, &tmp.path().join(m.name), backend, &progress)?;
        progress.finish();
        figures.push(run.figures);
    }
    println!("backend: {backend}; dev SRS; times are wall clock on this machine");
    print_figures(&figures.iter().collect::<Vec<_>>(), &mut std::io::stdout())?;
    Ok(0)
}
