//! `suppressions`: the addresses on the suppression list (a permanent
//! bounce or a complaint put them there), with what SES reported of each.

use commerce_ops::{OpsError, exit_with, table};
use store::SuppressionRepository;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "suppressions")
}

async fn run() -> Result<(), OpsError> {
    let list = SuppressionRepository::new(table().await?).list().await?;
    if list.is_empty() {
        println!("the suppression list is empty");
        return Ok(());
    }
    println!(
        "{:<40} {:<10} {:<25} {:>8} {:>10} {:>9}",
        "address", "reason", "since", "bounces", "complaints", "transient"
    );
    for s in &list {
        println!(
            "{:<40} {:<10} {:<25} {:>8} {:>10} {:>9}",
            s.address, s.reason, s.suppressed_at, s.permanent_bounces, s.complaints, s.transient_bounces
        );
    }
    println!("{} address(es) suppressed", list.len());
    Ok(())
}
