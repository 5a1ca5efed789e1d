//! Signing in: a name and password for a token, and a token for the person behind it.

use crate::store::auth::{self, User};
use crate::store::{Store, StoreError, now_ms};

/// A token that ends after a working day, and its holder.
#[derive(Debug)]
pub struct Session {
    pub token: String,
    pub user: User,
    pub expires_at: i64,
}

/// `None` for an unknown name and for a wrong password alike, after the same work, so neither the answer nor its
/// timing tells which accounts exist; both are audited.
pub async fn login(store: &Store, name: String, password: String) -> Result<Option<Session>, StoreError> {
    let lookup = name.clone();
    let account = store.read(move |c| c.password_hash(&lookup)).await?;
    let user = tokio::task::spawn_blocking(move || match account {
        Some((user, hash)) => auth::password_matches(&password, &hash).then_some(user),
        None => {
            auth::password_matches(&password, &auth::DECOY_HASH);
            None
        }
    })
    .await
    .map_err(|e| StoreError::Internal(format!("the password check failed: {e}")))?;
    let now = now_ms();
    let checked = user.clone();
    let token = store.write(move |c| c.record_login(&name, checked.as_ref(), now)).await?;
    Ok(token.zip(user).map(|(token, user)| Session { token, user, expires_at: now + auth::LOGIN_TOKEN_MS }))
}

/// The person a bearer token belongs to, if it is known and has not ended.
pub async fn user_by_token(store: &Store, token: String) -> Result<Option<User>, StoreError> {
    store.read(move |c| c.user_by_api_token(&token, now_ms())).await
}
