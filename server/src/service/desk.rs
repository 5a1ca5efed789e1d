//! The help desk's lists: categories (the admin's, audited) and canned replies (any technician's, checked when
//! saved).

use super::Error;
use crate::desk::access::{Act, may_remove_view, require};
use crate::desk::templates::Template;
use crate::desk::tickets::MAX_NAME;
use crate::store::auth::User;
use crate::store::desk::{Canned, Category, SavedView};
use crate::store::{Store, StoreError, now_ms};

pub async fn categories(store: &Store, user: &User) -> Result<Vec<Category>, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(|c| c.categories()).await?)
}

fn name_ok(what: &str, name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        return Err(StoreError::Refused(format!(
            "{what} {name:?}: use 1 to {MAX_NAME} letters, digits, hyphens and underscores"
        )));
    }
    Ok(())
}

pub async fn add_category(
    store: &Store,
    user: &User,
    name: String,
    parent: Option<String>,
    label: Option<String>,
) -> Result<Vec<Category>, Error> {
    require(user.role, Act::ConfigureDesk)?;
    name_ok("a category name", &name)?;
    if label.as_ref().is_some_and(|l| l.trim().is_empty() || l.len() > MAX_NAME) {
        return Err(StoreError::Refused(format!("a label must be 1 to {MAX_NAME} bytes")).into());
    }
    let by = user.name.clone();
    Ok(store
        .write(move |c| {
            c.add_category(&name, parent.as_deref(), label.as_deref())?;
            let detail = serde_json::json!({ "name": name, "parent": parent, "label": label });
            c.audit(&by, "category.add", &detail, now_ms())?;
            c.categories()
        })
        .await?)
}

pub async fn retire_category(store: &Store, user: &User, name: String) -> Result<Vec<Category>, Error> {
    require(user.role, Act::ConfigureDesk)?;
    let by = user.name.clone();
    Ok(store
        .write(move |c| {
            let now = now_ms();
            c.retire_category(&name, now)?;
            c.audit(&by, "category.retire", &serde_json::json!({ "name": name }), now)?;
            c.categories()
        })
        .await?)
}

pub async fn canned_replies(store: &Store, user: &User) -> Result<Vec<Canned>, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(|c| c.canned_replies()).await?)
}

/// Saves a canned reply after checking every placeholder in it.
pub async fn save_canned_reply(store: &Store, user: &User, name: String, body: String) -> Result<Canned, Error> {
    require(user.role, Act::WorkTickets)?;
    name_ok("a canned reply's name", &name)?;
    Template::parse(&body).map_err(|e| StoreError::Refused(e.to_string()))?;
    let author = user.name.clone();
    Ok(store
        .write(move |c| {
            c.save_canned_reply(&name, &body, &author, now_ms())?;
            c.canned_reply(&name)
        })
        .await?)
}

pub async fn delete_canned_reply(store: &Store, user: &User, name: String) -> Result<(), Error> {
    require(user.role, Act::WorkTickets)?;
    Ok(store.write(move |c| c.delete_canned_reply(&name)).await?)
}

/// The longest name of a saved view, and of its filters: a view is a label and a query string, not a document.
const MAX_VIEW_NAME: usize = 64;
const MAX_VIEW_QUERY: usize = 2048;

/// `user`'s saved queue views and those shared with the desk.
pub async fn views(store: &Store, user: &User) -> Result<Vec<SavedView>, Error> {
    require(user.role, Act::Read)?;
    let name = user.name.clone();
    Ok(store.read(move |c| c.saved_views(&name)).await?)
}

/// Saves the queue's filters (`query`, checked by the caller as the queue reads them) under `name`, for `user` alone
/// or shared with every technician; any technician may, not only admins.
pub async fn save_view(
    store: &Store,
    user: &User,
    name: String,
    query: String,
    shared: bool,
) -> Result<SavedView, Error> {
    require(user.role, Act::Read)?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.len() > MAX_VIEW_NAME {
        return Err(StoreError::Refused(format!("a view's name must be 1 to {MAX_VIEW_NAME} bytes")).into());
    }
    if query.len() > MAX_VIEW_QUERY {
        return Err(StoreError::Refused(format!("a view's filters must be at most {MAX_VIEW_QUERY} bytes")).into());
    }
    let owner = user.name.clone();
    Ok(store.write(move |c| c.save_view(&owner, &name, &query, shared, now_ms())).await?)
}

pub async fn remove_view(store: &Store, user: &User, id: i64) -> Result<(), Error> {
    require(user.role, Act::Read)?;
    // A view's owner never changes, so the check made on the read holds for the delete.
    let view = store.read(move |c| c.saved_view(id)).await?;
    may_remove_view(user.role, view.owner == user.name)?;
    Ok(store.write(move |c| c.delete_view(id)).await?)
}

/// The longest console preference: a list of column names.
const MAX_PREF: usize = 512;

pub async fn console_pref(store: &Store, user: &User, name: &'static str) -> Result<Option<String>, Error> {
    require(user.role, Act::Read)?;
    let who = user.name.clone();
    Ok(store.read(move |c| c.console_pref(&who, name)).await?)
}

pub async fn set_console_pref(store: &Store, user: &User, name: &'static str, value: String) -> Result<(), Error> {
    require(user.role, Act::Read)?;
    if value.len() > MAX_PREF {
        return Err(StoreError::Refused(format!("a preference must be at most {MAX_PREF} bytes")).into());
    }
    let who = user.name.clone();
    Ok(store.write(move |c| c.set_console_pref(&who, name, &value)).await?)
}
