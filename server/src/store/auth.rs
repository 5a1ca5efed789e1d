//! Enrollment tokens, technician accounts, API tokens, and the counts of failed logins and enrollments (their rules
//! are in `service::auth`). Secrets are stored only as hashes: SHA-256 for the random, high-entropy tokens (looked up
//! on every request, so a slow hash would only cost CPU), argon2 for passwords, which people choose.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Read, StoreError, Tx};
use crate::desk::access::Role;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh random secret, URL-safe, with `bytes` of entropy.
pub fn random_secret(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::Rng::fill(&mut rand::rng(), buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub struct NewToken {
    pub id: String,
    pub secret: String,
}

/// What failed attempts are counted against: an account name as typed (known or not), or a source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    LoginName,
    LoginAddress,
    EnrollAddress,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::LoginName => "login-name",
            Scope::LoginAddress => "login-address",
            Scope::EnrollAddress => "enroll-address",
        }
    }
}

/// The run of failed attempts on one name or address, up to its last failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub last_at: i64,
    /// Whether an attempt refused during the wait this run imposes was audited already: only the first one is, so
    /// an attacker who keeps knocking cannot grow the audit chain.
    pub refusal_audited: bool,
}

impl Read<'_> {
    pub fn failures(&self, scope: Scope, subject: &str) -> Result<Option<Failures>, StoreError> {
        let conn = self.conn;
        conn.prepare_cached(
            "SELECT failures, last_failure_at, refusal_audited FROM failed_attempts WHERE scope = ?1 AND subject = ?2",
        )?
        .query_row(params![scope.as_str(), subject], |r| {
            Ok(Failures { count: r.get(0)?, last_at: r.get(1)?, refusal_audited: r.get(2)? })
        })
        .optional()
        .map_err(StoreError::from)
    }

    pub fn user_by_api_token(&self, token: &str, now: i64) -> Result<Option<User>, StoreError> {
        let conn = self.conn;
        let row: Option<(i64, String, String)> = conn
            .query_row(
                "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = ?1 AND (t.expires_at IS NULL OR t.expires_at > ?2)",
                params![sha256_hex(token), now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(id, name, role)| Ok(User { id, name, role: parse_role(&role)? })).transpose()
    }

    /// The account and password hash to check a login against; the check itself runs outside the store's lock
    /// (argon2 takes real time on purpose).
    pub fn password_hash(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        let conn = self.conn;
        let row: Option<(i64, String, String)> = conn
            .query_row("SELECT id, role, password_hash FROM users WHERE name = ?1", [name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(id, role, hash)| Ok((User { id, name: name.to_owned(), role: parse_role(&role)? }, hash))).transpose()
    }

    /// Every account, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id, name, role FROM users ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        let mut users = Vec::new();
        for row in rows {
            let (id, name, role) = row?;
            users.push(User { id, name, role: parse_role(&role)? });
        }
        Ok(users)
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        let conn = self.conn;
        let row: Option<(i64, String)> = conn
            .query_row("SELECT id, role FROM users WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(id, role)| Ok(User { id, name: name.to_owned(), role: parse_role(&role)? })).transpose()
    }
}

impl Tx<'_> {
    /// `by` is who made it, for the audit log: an admin's name, or `local-admin` on the server's own machine.
    pub fn create_enrollment_token(
        &self,
        by: &str,
        now: i64,
        expires_at: i64,
        uses: u32,
        label: &str,
    ) -> Result<NewToken, StoreError> {
        let conn = self.conn;
        let token = NewToken { id: random_secret(6), secret: random_secret(24) };
        conn.execute(
            "INSERT INTO enrollment_tokens (id, secret_hash, created_at, expires_at, uses_left, label)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![token.id, sha256_hex(&token.secret), now, expires_at, uses, label],
        )?;
        let detail = json!({ "token": token.id, "expires_at": expires_at, "uses": uses, "label": label });
        self.audit(by, "token.created", &detail, now)?;
        Ok(token)
    }

    /// Spends one use of the token; the caller's transaction makes the spend and the enrollment one atomic step.
    pub fn spend_enrollment_token(&self, secret: &str, now: i64) -> Result<String, StoreError> {
        let conn = self.conn;
        let row: Option<(String, i64, i64)> = conn
            .query_row(
                "SELECT id, expires_at, uses_left FROM enrollment_tokens WHERE secret_hash = ?1",
                [sha256_hex(secret)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, expires_at, uses_left)) = row else {
            return Err(StoreError::Refused("enrollment token is not known to this server".into()));
        };
        if expires_at <= now {
            return Err(StoreError::Refused(format!("enrollment token {id} has expired; ask for a new one")));
        }
        if uses_left <= 0 {
            return Err(StoreError::Refused(format!("enrollment token {id} has been used up; ask for a new one")));
        }
        conn.execute("UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = ?1", [&id])?;
        Ok(id)
    }

    pub fn add_user(&self, by: &str, name: &str, role: Role, password: &str, now: i64) -> Result<User, StoreError> {
        let conn = self.conn;
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(StoreError::Refused("user names are 1 to 64 letters, digits, '.', '_' or '-'".into()));
        }
        let hash = hash_password(password)?;
        let inserted = conn.execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![name, role.as_str(), hash, now],
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!("user {name} already exists")));
        }
        let user = User { id: conn.last_insert_rowid(), name: name.to_owned(), role };
        self.audit(by, "user.created", &json!({ "user": name, "role": role.as_str() }), now)?;
        Ok(user)
    }

    pub fn set_role(&self, by: &str, name: &str, role: Role, now: i64) -> Result<Role, StoreError> {
        let conn = self.conn;
        let old = self.user_by_name(name)?.ok_or_else(|| StoreError::NotFound(format!("user {name}")))?.role;
        conn.execute("UPDATE users SET role = ?2 WHERE name = ?1", params![name, role.as_str()])?;
        let detail = json!({ "user": name, "from": old.as_str(), "to": role.as_str() });
        self.audit(by, "user.role-changed", &detail, now)?;
        Ok(old)
    }

    /// Issues an API token for `user`, ending at `expires_at` if given; the plain token is returned once and only its
    /// hash is kept.
    pub fn issue_api_token(&self, user: &User, now: i64, expires_at: Option<i64>) -> Result<String, StoreError> {
        let conn = self.conn;
        let token = format!("llt_{}", random_secret(32));
        conn.execute(
            "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![sha256_hex(&token), user.id, now, expires_at],
        )?;
        Ok(token)
    }

    pub fn set_failures(&self, scope: Scope, subject: &str, failures: &Failures) -> Result<(), StoreError> {
        let conn = self.conn;
        conn.prepare_cached(
            "INSERT INTO failed_attempts (scope, subject, failures, last_failure_at, refusal_audited)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (scope, subject) DO UPDATE SET failures = ?3, last_failure_at = ?4, refusal_audited = ?5",
        )?
        .execute(params![
            scope.as_str(),
            subject,
            failures.count,
            failures.last_at,
            failures.refusal_audited
        ])?;
        Ok(())
    }

    pub fn forget_failures(&self, scope: Scope, subject: &str) -> Result<(), StoreError> {
        let conn = self.conn;
        conn.prepare_cached("DELETE FROM failed_attempts WHERE scope = ?1 AND subject = ?2")?
            .execute(params![scope.as_str(), subject])?;
        Ok(())
    }

    /// Deletes the runs of `scope` whose last failure was before `before`: they no longer count, and names made up
    /// by the thousand must not grow the table for ever.
    pub fn prune_failures(&self, scope: Scope, before: i64) -> Result<(), StoreError> {
        let conn = self.conn;
        conn.prepare_cached("DELETE FROM failed_attempts WHERE scope = ?1 AND last_failure_at < ?2")?
            .execute(params![scope.as_str(), before])?;
        Ok(())
    }
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    let mut salt_bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut salt_bytes);
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| StoreError::Internal(format!("cannot make a salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("cannot hash the password: {e}")))
}

/// How long a token from a password login lasts: one working day, so a forgotten laptop session ends by itself.
pub const LOGIN_TOKEN_MS: i64 = 12 * 3600 * 1000;

/// A hash no password is known for, checked when the name is unknown so both refusals take as long.
pub static DECOY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&random_secret(16)).unwrap_or_default());

pub fn password_matches(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::password_hash::PasswordHash::new(hash)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

fn parse_role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown role {s:?}")))
}

/// An API token as an admin sees it: never the secret, only the start of its hash, which names it.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: String,
    pub user: String,
    pub created_at: i64,
    /// `None` for a token an admin made, which does not end; a login's ends after a working day.
    pub expires_at: Option<i64>,
}

/// How many hex digits of a token's hash name it: enough that two tokens of a deployment never share them.
const TOKEN_ID_LEN: i64 = 12;

/// The id `token list` shows for a token.
pub fn token_id(token: &str) -> String {
    sha256_hex(token).chars().take(usize::try_from(TOKEN_ID_LEN).unwrap_or_default()).collect()
}

impl Read<'_> {
    /// Every API token, or those of `user`, newest first; ended ones too, until retention removes them.
    pub fn api_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT substr(t.token_hash, 1, ?2), u.name, t.created_at, t.expires_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE ?1 IS NULL OR u.name = ?1 ORDER BY t.created_at DESC, t.token_hash",
        )?;
        let rows = stmt.query_map(params![user, TOKEN_ID_LEN], |r| {
            Ok(ApiToken { id: r.get(0)?, user: r.get(1)?, created_at: r.get(2)?, expires_at: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Tx<'_> {
    /// Ends the one token whose id is `id` at once, audited; a token is refused from its next request on.
    pub fn revoke_api_token(&self, id: &str, by: &str, now: i64) -> Result<ApiToken, StoreError> {
        if i64::try_from(id.len()) != Ok(TOKEN_ID_LEN) || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Refused(format!("a token id is {TOKEN_ID_LEN} hex digits, as `token list` shows")));
        }
        let id = id.to_ascii_lowercase();
        let found = self.api_tokens(None)?.into_iter().find(|t| t.id == id);
        let token = found.ok_or_else(|| StoreError::NotFound(format!("API token {id}")))?;
        self.conn.execute("DELETE FROM api_tokens WHERE substr(token_hash, 1, ?1) = ?2", params![TOKEN_ID_LEN, id])?;
        self.audit(by, "token.revoked", &json!({ "token": id, "user": token.user }), now)?;
        Ok(token)
    }
}
