fn main() -> std::process::ExitCode {
    zkinfer_prover::cli::main()
}
