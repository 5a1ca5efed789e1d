//! Requesters on record: found, added, edited, tied to the machines and accounts they use, and merged when the same
//! person was recorded twice.

use tracing::info;

use super::Error;
use crate::desk::access::{Act, require};
use crate::desk::policy::valid_email;
use crate::desk::tickets::MAX_NAME;
use crate::store::auth::User;
use crate::store::people::{Fields, Person};
use crate::store::{Store, StoreError, now_ms};

pub async fn list(store: &Store, user: &User, search: Option<String>) -> Result<Vec<Person>, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(move |c| c.people(search.as_deref())).await?)
}

pub async fn show(store: &Store, user: &User, id: i64) -> Result<Person, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(move |c| c.person(id)).await?)
}

/// Refuses what a person record cannot hold, before anything is stored.
pub(super) fn check(fields: &Fields) -> Result<(), StoreError> {
    let too_long = |what: &str, v: &Option<String>| match v {
        Some(v) if v.trim().is_empty() || v.len() > MAX_NAME => {
            Err(StoreError::Refused(format!("{what} must be 1 to {MAX_NAME} bytes")))
        }
        _ => Ok(()),
    };
    too_long("a name", &fields.name)?;
    too_long("a phone number", &fields.phone)?;
    too_long("a department", &fields.department)?;
    if let Some(email) = fields.email.as_deref().filter(|e| !valid_email(e)) {
        return Err(StoreError::Refused(format!("{email:?} is not an e-mail address")));
    }
    Ok(())
}

pub async fn add(store: &Store, user: &User, fields: Fields) -> Result<Person, Error> {
    require(user.role, Act::WorkTickets)?;
    check(&fields)?;
    let person = store.write(move |c| c.person(c.add_person(&fields, now_ms())?)).await?;
    info!(person = person.id, by = %user.name, "person added");
    Ok(person)
}

pub async fn edit(store: &Store, user: &User, id: i64, fields: Fields) -> Result<Person, Error> {
    require(user.role, Act::WorkTickets)?;
    check(&fields)?;
    Ok(store.write(move |c| c.edit_person(id, &fields, now_ms())).await?)
}

/// Makes a machine's local account this person's: help requests from it are theirs from now on.
pub async fn link(store: &Store, user: &User, id: i64, agent_id: String, local_user: String) -> Result<Person, Error> {
    require(user.role, Act::WorkTickets)?;
    if local_user.is_empty() || local_user.len() > 64 {
        return Err(StoreError::Refused("a local user name must be 1 to 64 bytes".into()).into());
    }
    Ok(store
        .write(move |c| {
            c.link_account(id, &agent_id, &local_user)?;
            c.person(id)
        })
        .await?)
}

/// Folds a record made twice for the same person into the one that carries on; the audit log keeps it.
pub async fn merge(store: &Store, user: &User, from: i64, into: i64) -> Result<Person, Error> {
    require(user.role, Act::WorkTickets)?;
    let by = user.name.clone();
    let person = store
        .write(move |c| {
            let now = now_ms();
            let person = c.merge_person(from, into, now)?;
            c.audit(&by, "person.merge", &serde_json::json!({ "from": from, "into": into }), now)?;
            Ok(person)
        })
        .await?;
    info!(from, into, by = %user.name, "people merged");
    Ok(person)
}
