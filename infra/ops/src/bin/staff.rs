//! `staff USERNAME [on|off]`: makes a user staff (`on`, the default) or
//! takes it away (`off`). No API call does this. A staff user's next access
//! token claims it; what staff may do is checked against the user as stored,
//! so `off` takes effect at once.

use commerce_ops::{OpsError, exit_with, table};
use store::UserRepository;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "staff")
}

async fn run() -> Result<(), OpsError> {
    let usage = || OpsError::Usage("usage: staff USERNAME [on|off]   (make staff USERNAME=... [STAFF=off])".into());
    let username = std::env::args().nth(1).filter(|u| !u.trim().is_empty()).ok_or_else(usage)?;
    let is_staff = match std::env::args().nth(2).as_deref() {
        None | Some("on" | "true" | "yes") => true,
        Some("off" | "false" | "no") => false,
        Some(_) => return Err(usage()),
    };
    match UserRepository::new(table().await?).set_staff(&username, is_staff).await? {
        Some(user) => {
            let now = if user.is_staff { "is staff" } else { "is no longer staff" };
            println!("{} ({}) {now}", user.username, user.id);
            Ok(())
        }
        None => Err(OpsError::Usage(format!("staff: no user is called {username:?}"))),
    }
}
