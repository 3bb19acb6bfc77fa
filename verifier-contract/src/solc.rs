//! Solidity compilation with solc-js (the npm package `solc`), run by Node.js.
//!
//! A native solc cannot be downloaded here, and solc-js is an ordinary npm
//! package: zkinfer installs the pinned version into `.tools/` the first time
//! it is needed (`npm install`, from the npm registry) and then compiles
//! offline. `ZKINFER_SOLC_JS` may point at an existing `solc` package folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde_json::{json, Value};

/// The version the generated verifier pins (`pragma solidity 0.8.19`).
pub const SOLC_VERSION: &str = "0.8.19";

#[derive(Debug, thiserror::Error)]
pub enum SolcError {
    #[error("Node.js is needed to run the Solidity compiler (solc-js) and `{0}` could not be started: {1}")]
    NoNode(String, std::io::Error),
    #[error("installing solc-js {SOLC_VERSION} with npm into {0} failed: {1}")]
    Install(String, String),
    #[error("the Solidity compiler failed to run: {0}")]
    Run(String),
    #[error("Solidity compilation failed:\n{0}")]
    Compile(String),
    #[error("the compiler's output has no contract '{0}'")]
    Missing(String),
}

/// One compiled contract.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub name: String,
    /// Creation code (constructor + runtime), what a deployment sends.
    pub bytecode: Vec<u8>,
    /// Runtime code as compiled (before immutables are filled in), whose
    /// size EIP-170 limits.
    pub runtime: Vec<u8>,
    pub abi: Value,
}

/// Optimizer settings. snark-verifier's generated verifier must be compiled
/// with the optimizer off (with it on solc 0.8.19 fails with "Stack too
/// deep"); the market contracts are ordinary Solidity and use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimizer {
    Off,
    On { runs: u32 },
}

/// Compiles `sources` (file name, source text) and returns every contract
/// they define. Warnings are ignored; errors are returned with solc's text.
pub fn compile(sources: &[(&str, &str)], optimizer: Optimizer) -> Result<Vec<Compiled>, SolcError> {
    let solc = solc_js()?;
    let mut src = serde_json::Map::new();
    for (name, text) in sources {
        src.insert(name.to_string(), json!({ "content": text }));
    }
    let (enabled, runs) = match optimizer {
        Optimizer::Off => (false, 200),
        Optimizer::On { runs } => (true, runs),
    };
    let input = json!({
        "language": "Solidity",
        "sources": src,
        "settings": {
            "optimizer": { "enabled": enabled, "runs": runs },
            "evmVersion": "paris",
            "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
        }
    });
    let output = run_solc_js(&solc, &input.to_string())?;
    let output: Value = serde_json::from_str(&output)
        .map_err(|e| SolcError::Run(format!("its output is not JSON: {e}")))?;
    let errors: Vec<String> = output["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .map(|e| e["formattedMessage"].as_str().unwrap_or("?").to_string())
        .collect();
    if !errors.is_empty() {
        return Err(SolcError::Compile(errors.join("\n")));
    }
    let mut compiled = Vec::new();
    for (_, contracts) in output["contracts"].as_object().into_iter().flatten() {
        for (name, c) in contracts.as_object().into_iter().flatten() {
            let hex_field = |v: &Value| -> Result<Vec<u8>, SolcError> {
                hex::decode(v.as_str().unwrap_or_default())
                    .map_err(|e| SolcError::Run(format!("{name}: bytecode is not hex: {e}")))
            };
            compiled.push(Compiled {
                name: name.clone(),
                bytecode: hex_field(&c["evm"]["bytecode"]["object"])?,
                runtime: hex_field(&c["evm"]["deployedBytecode"]["object"])?,
                abi: c["abi"].clone(),
            });
        }
    }
    Ok(compiled)
}

/// Compiles and returns the one contract called `name`.
pub fn compile_one(
    sources: &[(&str, &str)],
    name: &str,
    optimizer: Optimizer,
) -> Result<Compiled, SolcError> {
    compile(sources, optimizer)?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| SolcError::Missing(name.to_string()))
}

// Reads the standard-JSON input on stdin, writes solc's output on stdout.
const RUNNER: &str = "const solc = require(process.env.ZKINFER_SOLC_JS_DIR);\
let input = '';\
process.stdin.setEncoding('utf8');\
process.stdin.on('data', (d) => { input += d; });\
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });";

fn run_solc_js(solc: &Path, input: &str) -> Result<String, SolcError> {
    let mut child = Command::new("node")
        .arg("-e")
        .arg(RUNNER)
        .env("ZKINFER_SOLC_JS_DIR", solc)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SolcError::NoNode("node".into(), e))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .map_err(|e| SolcError::Run(format!("writing to node: {e}")))?;
    let out = child
        .wait_with_output()
        .map_err(|e| SolcError::Run(format!("waiting for node: {e}")))?;
    if !out.status.success() {
        return Err(SolcError::Run(format!(
            "node exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(|e| SolcError::Run(format!("output is not UTF-8: {e}")))
}

/// Where zkinfer keeps the npm packages it installs: `ZKINFER_TOOLS`, or the
/// workspace's `.tools/` (the folder the test script installs into).
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ZKINFER_TOOLS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".tools")
}

static INSTALL: Mutex<()> = Mutex::new(());

/// The solc-js package folder, installed with npm if it is not there yet.
pub fn solc_js() -> Result<PathBuf, SolcError> {
    if let Some(dir) = std::env::var_os("ZKINFER_SOLC_JS") {
        return Ok(PathBuf::from(dir));
    }
    let tools = tools_dir();
    let dir = tools.join("node_modules").join("solc");
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if installed_version(&dir).as_deref() == Some(SOLC_VERSION) {
        return Ok(dir);
    }
    eprintln!(
        "installing solc-js {SOLC_VERSION} (npm package `solc`) into {} ...",
        tools.display()
    );
    std::fs::create_dir_all(&tools)
        .map_err(|e| SolcError::Install(tools.display().to_string(), e.to_string()))?;
    let out = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&tools)
        .arg(format!("solc@{SOLC_VERSION}"))
        .output()
        .map_err(|e| SolcError::NoNode("npm".into(), e))?;
    if !out.status.success() || installed_version(&dir).as_deref() != Some(SOLC_VERSION) {
        return Err(SolcError::Install(
            tools.display().to_string(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(dir)
}

fn installed_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["version"].as_str().map(str::to_string)
}
