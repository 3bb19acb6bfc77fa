use std::fmt;
use std::str::FromStr;

/// A backend that this build can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda,
}

/// What the user asked for (`--backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// The GPU when this build has CUDA support and a device answers, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "the CUDA backend was requested but this zkinfer was built without it; \
         rebuild with `cargo build --release --features cuda` (needs nvcc and a CUDA driver)"
    )]
    CudaNotBuilt,
    #[error("no usable CUDA device: {0}")]
    NoDevice(String),
    #[error("proving failed: {0}")]
    Proving(String),
    #[error("unknown backend '{0}' (expected auto, cpu or cuda)")]
    Unknown(String),
}

impl FromStr for BackendChoice {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            other => Err(BackendError::Unknown(other.to_string())),
        }
    }
}

impl Backend {
    /// Resolves a choice against this build and this machine.
    pub fn select(choice: BackendChoice) -> Result<Backend, BackendError> {
        match choice {
            BackendChoice::Cpu => Ok(Backend::Cpu),
            #[cfg(feature = "cuda")]
            BackendChoice::Cuda => crate::cuda::probe().map(|_| Backend::Cuda),
            #[cfg(not(feature = "cuda"))]
            BackendChoice::Cuda => Err(BackendError::CudaNotBuilt),
            #[cfg(feature = "cuda")]
            BackendChoice::Auto => Ok(crate::cuda::probe()
                .map(|_| Backend::Cuda)
                .unwrap_or(Backend::Cpu)),
            #[cfg(not(feature = "cuda"))]
            BackendChoice::Auto => Ok(Backend::Cpu),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Cpu => write!(f, "cpu ({} threads)", rayon_threads()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => write!(f, "cuda"),
        }
    }
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_choices_and_rejects_unknown_names() {
        assert_eq!("CPU".parse::<BackendChoice>().unwrap(), BackendChoice::Cpu);
        assert_eq!("gpu".parse::<BackendChoice>().unwrap(), BackendChoice::Cuda);
        assert!(matches!(
            "tpu".parse::<BackendChoice>(),
            Err(BackendError::Unknown(_))
        ));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error_and_auto_falls_back_to_cpu() {
        assert!(matches!(
            Backend::select(BackendChoice::Cuda),
            Err(BackendError::CudaNotBuilt)
        ));
        assert_eq!(Backend::select(BackendChoice::Auto).unwrap(), Backend::Cpu);
    }
}
