//! The help desk's own lists: categories, canned replies, and who is on a ticket right now.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Read, StoreError, Tx};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Category {
    pub name: String,
    /// The category this one is a subcategory of; two levels at most.
    pub parent: Option<String>,
    pub label: String,
    pub retired: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Canned {
    pub name: String,
    pub body: String,
    pub author: String,
    pub updated_at: i64,
}

/// Someone on a ticket: `viewing` or `drafting`, as their console last said.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Presence {
    pub user: String,
    pub state: String,
    pub seen_at: i64,
}

/// A saved queue view: its filters as the queue's query string.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SavedView {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub query: String,
    pub shared: bool,
}

impl Read<'_> {
    /// `user`'s own views and those others shared, by name.
    pub fn saved_views(&self, user: &str) -> Result<Vec<SavedView>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, owner, name, query, shared FROM saved_views WHERE owner = ?1 OR shared
             ORDER BY owner <> ?1, name, owner",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok(SavedView { id: r.get(0)?, owner: r.get(1)?, name: r.get(2)?, query: r.get(3)?, shared: r.get(4)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn saved_view(&self, id: i64) -> Result<SavedView, StoreError> {
        self.conn
            .query_row("SELECT id, owner, name, query, shared FROM saved_views WHERE id = ?1", [id], |r| {
                Ok(SavedView { id: r.get(0)?, owner: r.get(1)?, name: r.get(2)?, query: r.get(3)?, shared: r.get(4)? })
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("saved view {id}")))
    }

    /// A console preference of `user`'s, if they set it.
    pub fn console_pref(&self, user: &str, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM console_prefs WHERE user = ?1 AND name = ?2", [user, name], |r| r.get(0))
            .optional()?)
    }

    pub fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, parent, label, retired_at IS NOT NULL FROM categories
             ORDER BY coalesce(parent, name), parent IS NOT NULL, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Category { name: r.get(0)?, parent: r.get(1)?, label: r.get(2)?, retired: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A category a ticket may be given now: known and not retired.
    pub fn offered_category(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM categories WHERE name = ?1 AND retired_at IS NULL", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn canned_replies(&self) -> Result<Vec<Canned>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT name, body, author, updated_at FROM canned_replies ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(Canned { name: r.get(0)?, body: r.get(1)?, author: r.get(2)?, updated_at: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn canned_reply(&self, name: &str) -> Result<Canned, StoreError> {
        self.conn
            .query_row("SELECT name, body, author, updated_at FROM canned_replies WHERE name = ?1", [name], |r| {
                Ok(Canned { name: r.get(0)?, body: r.get(1)?, author: r.get(2)?, updated_at: r.get(3)? })
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("canned reply {name:?}")))
    }

    /// Who was on the ticket since `since`.
    pub fn presence(&self, ticket: i64, since: i64) -> Result<Vec<Presence>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user, state, seen_at FROM presence WHERE ticket = ?1 AND seen_at >= ?2 ORDER BY user",
        )?;
        let rows = stmt
            .query_map([ticket, since], |r| Ok(Presence { user: r.get(0)?, state: r.get(1)?, seen_at: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Tx<'_> {
    /// Adds a category, or brings a retired one back with its new label.
    /// Without a label, a new category is labelled by its name and an existing one keeps its label.
    pub fn add_category(&self, name: &str, parent: Option<&str>, label: Option<&str>) -> Result<(), StoreError> {
        if let Some(parent) = parent {
            if parent == name {
                return Err(StoreError::Refused(format!("{name:?} cannot be a subcategory of itself")));
            }
            let children: i64 =
                self.conn.query_row("SELECT COUNT(*) FROM categories WHERE parent = ?1", [name], |r| r.get(0))?;
            if children > 0 {
                return Err(StoreError::Refused(format!(
                    "{name:?} has subcategories, so it cannot go under {parent:?}: categories have two levels"
                )));
            }
            let grandparent: Option<Option<String>> = self
                .conn
                .query_row("SELECT parent FROM categories WHERE name = ?1 AND retired_at IS NULL", [parent], |r| {
                    r.get(0)
                })
                .optional()?;
            match grandparent {
                None => return Err(StoreError::Refused(format!("no category {parent:?} to put {name:?} under"))),
                Some(Some(_)) => {
                    return Err(StoreError::Refused(format!(
                        "{parent:?} is a subcategory already; categories have two levels"
                    )));
                }
                Some(None) => {}
            }
        }
        self.conn.execute(
            "INSERT INTO categories (name, parent, label) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET parent = excluded.parent, label = coalesce(?4, label), retired_at = NULL",
            params![name, parent, label.unwrap_or(name), label],
        )?;
        Ok(())
    }

    /// Retires a category and its subcategories: no longer offered, kept on the tickets that have it.
    pub fn retire_category(&self, name: &str, now: i64) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE categories SET retired_at = ?2 WHERE (name = ?1 OR parent = ?1) AND retired_at IS NULL",
            params![name, now],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("category {name:?}")));
        }
        Ok(())
    }

    pub fn save_canned_reply(&self, name: &str, body: &str, author: &str, now: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO canned_replies (name, body, author, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, author = excluded.author,
                 updated_at = excluded.updated_at",
            params![name, body, author, now],
        )?;
        Ok(())
    }

    pub fn delete_canned_reply(&self, name: &str) -> Result<(), StoreError> {
        if self.conn.execute("DELETE FROM canned_replies WHERE name = ?1", [name])? == 0 {
            return Err(StoreError::NotFound(format!("canned reply {name:?}")));
        }
        Ok(())
    }

    /// Saves a view under its owner's name for it, replacing the one of that name.
    pub fn save_view(
        &self,
        owner: &str,
        name: &str,
        query: &str,
        shared: bool,
        now: i64,
    ) -> Result<SavedView, StoreError> {
        let id = self.conn.query_row(
            "INSERT INTO saved_views (owner, name, query, shared, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query, shared = excluded.shared
             RETURNING id",
            params![owner, name, query, shared, now],
            |r| r.get(0),
        )?;
        Ok(SavedView { id, owner: owner.to_owned(), name: name.to_owned(), query: query.to_owned(), shared })
    }

    pub fn delete_view(&self, id: i64) -> Result<(), StoreError> {
        if self.conn.execute("DELETE FROM saved_views WHERE id = ?1", [id])? == 0 {
            return Err(StoreError::NotFound(format!("saved view {id}")));
        }
        Ok(())
    }

    pub fn set_console_pref(&self, user: &str, name: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO console_prefs (user, name, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (user, name) DO UPDATE SET value = excluded.value",
            params![user, name, value],
        )?;
        Ok(())
    }

    /// Records a console's heartbeat; rows older than `forget_before` go, so the table stays the size of the desk.
    pub fn mark_presence(
        &self,
        ticket: i64,
        user: &str,
        state: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM presence WHERE seen_at < ?1", [forget_before])?;
        self.conn.execute(
            "INSERT INTO presence (ticket, user, state, seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (ticket, user) DO UPDATE SET state = excluded.state, seen_at = excluded.seen_at",
            params![ticket, user, state, now],
        )?;
        Ok(())
    }
}
