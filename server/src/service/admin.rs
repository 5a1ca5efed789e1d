//! What an admin does: accounts, enrollment tokens, and the simulated agents of a load test. On the server's own
//! machine (the CLI on its data directory) whoever can open the data directory is the admin; in the console an admin
//! signed in is, with the role checked and their name in the audit log.

use super::Error;
use crate::desk::access::{Act, Denied, Role, require};
use crate::pki::Pki;
use crate::store::agents;
use crate::store::auth::{self, ApiToken, NewToken, User};
use crate::store::{Store, StoreError, now_ms};

/// Who does an admin's work.
pub enum By<'a> {
    /// The CLI on the server's own machine.
    Local,
    /// Someone signed in, whose role must allow it.
    User(&'a User),
}

impl By<'_> {
    /// The name the audit log records, once the act is allowed.
    fn allowed(&self, act: Act) -> Result<String, Denied> {
        match self {
            By::Local => Ok("local-admin".to_owned()),
            By::User(user) => require(user.role, act).map(|()| user.name.clone()),
        }
    }
}

/// A new account with its password and an API token that does not end, each shown once.
#[derive(Debug)]
pub struct NewAccount {
    pub user: User,
    pub password: String,
    pub token: String,
}

pub async fn add_user(store: &Store, by: By<'_>, name: String, role: Role) -> Result<NewAccount, Error> {
    let by = by.allowed(Act::ManageAccounts)?;
    let password = auth::random_secret(15);
    Ok(store
        .write(move |c| {
            let user = c.add_user(&by, &name, role, &password, now_ms())?;
            let token = c.issue_api_token(&user, now_ms(), None)?;
            Ok(NewAccount { user, password, token })
        })
        .await?)
}

/// Gives `name` another role; returns the one it had.
pub async fn set_role(store: &Store, by: By<'_>, name: String, role: Role) -> Result<Role, Error> {
    let by = by.allowed(Act::ManageAccounts)?;
    Ok(store.write(move |c| c.set_role(&by, &name, role, now_ms())).await?)
}

/// Every account, by name.
pub async fn users(store: &Store, by: By<'_>) -> Result<Vec<User>, Error> {
    by.allowed(Act::ManageAccounts)?;
    Ok(store.read(|c| c.users()).await?)
}

/// A token good for `uses` enrollments within `lifetime_ms`.
pub async fn enrollment_token(
    store: &Store,
    by: By<'_>,
    lifetime_ms: i64,
    uses: u32,
    label: String,
) -> Result<NewToken, Error> {
    let by = by.allowed(Act::ManageAccounts)?;
    Ok(store
        .write(move |c| {
            let now = now_ms();
            c.create_enrollment_token(&by, now, now + lifetime_ms, uses, &label)
        })
        .await?)
}

/// Simulated agents: each one's certificate and key in PEM, to write where the load generator reads them, and the
/// rows to [`register_simulated`] once they are written.
pub fn simulated_identities(pki: &Pki, count: u32) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let mut pem = String::new();
    let mut rows = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let id = agents::new_id();
        let (cert, key, fingerprint) = pki.issue_simulated_agent(&id)?;
        pem.push_str(&cert);
        pem.push_str(&key);
        rows.push((id, hex::encode(fingerprint)));
    }
    Ok((pem, rows))
}

/// Registers simulated agents as enrollment registers real ones.
pub async fn register_simulated(store: &Store, rows: Vec<(String, String)>) -> Result<(), StoreError> {
    store.write(move |c| c.insert_simulated_agents(&rows, now_ms())).await
}

/// What the quickstart needs: its technician (made on the first run, with the password shown then), an API token for
/// this run, and a one-use enrollment token for the local agent, good for ten minutes.
pub struct Quickstart {
    pub password: Option<String>,
    pub api_token: String,
    pub enrollment_secret: String,
}

pub async fn quickstart(store: &Store, technician: &'static str) -> Result<Quickstart, StoreError> {
    store
        .write(move |c| {
            let now = now_ms();
            let (user, password) = match c.user_by_name(technician)? {
                Some(user) => (user, None),
                None => {
                    let password = auth::random_secret(15);
                    (c.add_user("local-admin", technician, Role::Admin, &password, now)?, Some(password))
                }
            };
            let api_token = c.issue_api_token(&user, now, None)?;
            let token = c.create_enrollment_token("local-admin", now, now + 10 * 60_000, 1, "quickstart")?;
            Ok(Quickstart { password, api_token, enrollment_secret: token.secret })
        })
        .await
}

/// The API tokens there are, or `user`'s.
pub async fn api_tokens(store: &Store, user: Option<String>) -> Result<Vec<ApiToken>, StoreError> {
    store.read(move |c| c.api_tokens(user.as_deref())).await
}

/// Ends one API token at once.
pub async fn revoke_api_token(store: &Store, id: String) -> Result<ApiToken, StoreError> {
    store.write(move |c| c.revoke_api_token(&id, "local-admin", now_ms())).await
}
