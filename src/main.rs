use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = customerhub::cli::Cli::parse();
    match customerhub::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("customerhub: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
