//! Requesters on record: a name with what reaches them, and the machines and local accounts they use, so that a help
//! request from `ann` on a machine finds Ann, and all her tickets show in one list whatever channel they came by.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Read, StoreError, Tx};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub department: Option<String>,
    /// Set when this record was merged into another one, which carries on.
    pub merged_into: Option<i64>,
    pub accounts: Vec<Account>,
}

/// A local account on a machine that is this person's.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Account {
    pub agent_id: String,
    pub local_user: String,
}

/// What a person record holds besides its accounts; `None` leaves a field as it is on an edit.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub department: Option<String>,
}

const COLUMNS: &str = "id, name, email, phone, department, merged_into";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        phone: r.get(3)?,
        department: r.get(4)?,
        merged_into: r.get(5)?,
        accounts: Vec::new(),
    })
}

impl Read<'_> {
    pub fn person(&self, id: i64) -> Result<Person, StoreError> {
        let mut person = self
            .conn
            .query_row(&format!("SELECT {COLUMNS} FROM people WHERE id = ?1"), [id], row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("person {id}")))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT agent_id, local_user FROM person_accounts WHERE person = ?1 ORDER BY agent_id")?;
        person.accounts = stmt
            .query_map([id], |r| Ok(Account { agent_id: r.get(0)?, local_user: r.get(1)? }))?
            .collect::<Result<_, _>>()?;
        Ok(person)
    }

    /// People whose name, e-mail or department contains `search`, merged records left out; at most 500.
    pub fn people(&self, search: Option<&str>) -> Result<Vec<Person>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM people WHERE merged_into IS NULL AND (?1 IS NULL
                 OR instr(lower(name), lower(?1)) OR instr(lower(coalesce(email, '')), lower(?1))
                 OR instr(lower(coalesce(department, '')), lower(?1)))
             ORDER BY name, id LIMIT 500"
        ))?;
        Ok(stmt.query_map([search], row)?.collect::<Result<_, _>>()?)
    }

    /// The person a machine's local account belongs to, following merges to the record that carries on.
    pub fn person_of_account(&self, agent_id: &str, local_user: &str) -> Result<Option<i64>, StoreError> {
        let found: Option<i64> = self
            .conn
            .query_row(
                "SELECT coalesce(p.merged_into, p.id) FROM person_accounts a JOIN people p ON p.id = a.person
                 WHERE a.agent_id = ?1 AND a.local_user = ?2",
                [agent_id, local_user],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found)
    }

    /// The person with this address, following a merged record to the one that carries on.
    pub fn person_by_email(&self, email: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT coalesce(merged_into, id) FROM people WHERE email = ?1 COLLATE NOCASE
                 ORDER BY merged_into IS NOT NULL, id LIMIT 1",
                [email],
                |r| r.get(0),
            )
            .optional()?)
    }
}

impl Tx<'_> {
    pub fn add_person(&self, fields: &Fields, now: i64) -> Result<i64, StoreError> {
        let name = fields.name.as_deref().ok_or_else(|| StoreError::Refused("a person needs a name".into()))?;
        self.refuse_taken_email(fields.email.as_deref(), None)?;
        self.conn.execute(
            "INSERT INTO people (name, email, phone, department, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![name, fields.email, fields.phone, fields.department, now],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn edit_person(&self, id: i64, fields: &Fields, now: i64) -> Result<Person, StoreError> {
        let person = self.person(id)?;
        if let Some(into) = person.merged_into {
            return Err(StoreError::Conflict(format!("person {id} was merged into {into}; edit {into}")));
        }
        self.refuse_taken_email(fields.email.as_deref(), Some(id))?;
        self.conn.execute(
            "UPDATE people SET name = coalesce(?2, name), email = coalesce(?3, email), phone = coalesce(?4, phone),
                 department = coalesce(?5, department), updated_at = ?6 WHERE id = ?1",
            params![id, fields.name, fields.email, fields.phone, fields.department, now],
        )?;
        self.person(id)
    }

    /// Makes a machine's local account this person's, moving it from whoever had it.
    pub fn link_account(&self, id: i64, agent_id: &str, local_user: &str) -> Result<(), StoreError> {
        if self.agent(agent_id)?.is_none() {
            return Err(StoreError::Refused(format!("no agent {agent_id}")));
        }
        if let Some(into) = self.person(id)?.merged_into {
            return Err(StoreError::Conflict(format!("person {id} was merged into {into}; link to {into}")));
        }
        self.conn.execute(
            "INSERT INTO person_accounts (agent_id, local_user, person) VALUES (?1, ?2, ?3)
             ON CONFLICT (agent_id, local_user) DO UPDATE SET person = excluded.person",
            params![agent_id, local_user, id],
        )?;
        Ok(())
    }

    /// Folds one record into another: its accounts move, its tickets list under the other, and it points there.
    pub fn merge_person(&self, from: i64, into: i64, now: i64) -> Result<Person, StoreError> {
        if from == into {
            return Err(StoreError::Refused("a person cannot be merged into themselves".into()));
        }
        let (source, target) = (self.person(from)?, self.person(into)?);
        for (p, what) in [(&source, "merged"), (&target, "merged into")] {
            if let Some(other) = p.merged_into {
                return Err(StoreError::Conflict(format!(
                    "person {} was already merged into {other}; it cannot be {what}",
                    p.id
                )));
            }
        }
        self.conn.execute("UPDATE person_accounts SET person = ?2 WHERE person = ?1", [from, into])?;
        // Records merged into `from` before now follow it, so that a merge never leaves a chain to walk.
        self.conn.execute(
            "UPDATE people SET merged_into = ?2, updated_at = ?3 WHERE id = ?1 OR merged_into = ?1",
            [from, into, now],
        )?;
        if target.email.is_none() && source.email.is_some() {
            self.conn.execute("UPDATE people SET email = ?2 WHERE id = ?1", params![into, source.email])?;
        }
        self.person(into)
    }

    fn refuse_taken_email(&self, email: Option<&str>, me: Option<i64>) -> Result<(), StoreError> {
        if let Some(email) = email
            && let Some(other) = self.person_by_email(email)?
            && Some(other) != me
        {
            return Err(StoreError::Conflict(format!("person {other} already has the address {email}")));
        }
        Ok(())
    }
}
