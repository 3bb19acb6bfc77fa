//! The `--weights` and `--input-visibility` flags.

use clap::Args as ClapArgs;
use zkinfer_circuits::{InputVisibility, Visibility, WeightVisibility};

#[derive(ClapArgs, Clone, Debug, Default)]
pub struct VisibilityArgs {
    /// fixed: the weights are in the verifying key (anyone with the .zkq can
    /// rebuild it and compare ids); private: the key holds no weight and
    /// each proof carries the model commitment (`zkinfer commit`).
    #[arg(long, default_value = "fixed")]
    weights: String,
    /// public: the input values are public instances; hashed: only the
    /// input commitment is (`zkinfer commit-input`).
    #[arg(long = "input-visibility", default_value = "public")]
    input_visibility: String,
}

impl VisibilityArgs {
    pub fn get(&self) -> Result<Visibility, String> {
        let weights = match self.weights.as_str() {
            "fixed" => WeightVisibility::Fixed,
            "private" => WeightVisibility::Private,
            other => return Err(format!("--weights is fixed or private, not '{other}'")),
        };
        let input = match self.input_visibility.as_str() {
            "public" => InputVisibility::Public,
            "hashed" => InputVisibility::Hashed,
            other => {
                return Err(format!(
                    "--input-visibility is public or hashed, not '{other}'"
                ))
            }
        };
        Ok(Visibility { weights, input })
    }
}
