//! `unsuppress EMAIL`: takes an address off the suppression list (after
//! its owner fixed the mailbox or asked to hear from us again). Its counts
//! stay; running it again says it was not on the list.

use commerce_ops::{OpsError, exit_with, table};
use domain::email::normalise_address;
use store::SuppressionRepository;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "unsuppress")
}

async fn run() -> Result<(), OpsError> {
    let raw = std::env::args().nth(1).ok_or_else(|| OpsError::Usage("usage: unsuppress EMAIL".into()))?;
    let address = normalise_address(&raw).ok_or_else(|| OpsError::Usage(format!("{raw:?} is not an email address")))?;
    if SuppressionRepository::new(table().await?).unsuppress(&address).await? {
        println!("{address}: removed from the suppression list");
    } else {
        println!("{address}: not on the suppression list; nothing to do");
    }
    Ok(())
}
