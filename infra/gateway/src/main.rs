//! `local-gateway`: serves a SAM template's HTTP functions locally.
//! See `local_gateway::config::USAGE` for its settings.

use std::process::ExitCode;

use local_gateway::{GatewayConfig, config::USAGE, serve};

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match GatewayConfig::from_env_and_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("local-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM (what `docker stop`, process managers and CI send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: never resolve from this branch.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    eprintln!("local-gateway: shutting down");
}
