//! Users by id, batched: every `User` field a request resolves in the same
//! tick is one BatchGetItem (of up to 100 keys), whoever the users are.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use domain::user::User;
use services::accounts::AccountService;

pub struct UserLoader {
    accounts: AccountService,
}

impl Loader<String> for UserLoader {
    type Value = User;
    /// Shared by every field that waited on the batch.
    type Error = Arc<domain::Error>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, User>, Self::Error> {
        self.accounts.users(ids).await.map_err(Arc::new)
    }
}

/// One loader per request: what it caches is never another request's.
pub fn per_request(accounts: AccountService) -> DataLoader<UserLoader> {
    // The batch runs as a task of its own; it stays part of this request
    // (its calls counted, its log lines under the request's span).
    DataLoader::new(UserLoader { accounts }, |batch| tokio::spawn(platform::telemetry::in_this_request(batch)))
        .max_batch_size(web::pagination::MAX_PAGE_SIZE * 10)
}
