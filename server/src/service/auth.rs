//! Signing in: a name and password for a token, and a token for the person behind it. And the limits on guessing,
//! for passwords here and for enrollment tokens on the collector's behalf.
//!
//! Failed attempts are counted per account name as typed, known or not, so an unknown name meets exactly what a known
//! one does, and per source address. Past a few free failures, each further one makes its name or address wait
//! before its next attempt is even checked: [`FIRST_WAIT_MS`], doubled with every failure, up to a lockout. A wait is
//! a refusal with the time left (the API's 429 with `Retry-After`), not an answer held back: holding answers costs a
//! connection per attempt and does not slow an attacker who sends many at once, while a refusal costs one read.
//!
//! The counts live in the store rather than in this process, so a restart does not wipe them and servers sharing a
//! database later share them too. Passwords are checked outside any lock, so a burst of parallel guesses all pass the
//! first look; the transaction recording each outcome looks again, and once the burst has earned a wait every later
//! guess in it is answered with that wait, right or wrong, so it learns no more than guesses one at a time would.

use std::net::{IpAddr, Ipv6Addr};

use serde_json::json;
use tracing::warn;

use crate::store::auth::{self, Failures, Scope, User};
use crate::store::{Read, Store, StoreError, Tx, now_ms};

/// A token that ends after a working day, and its holder.
#[derive(Debug)]
pub struct Session {
    pub token: String,
    pub user: User,
    pub expires_at: i64,
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    Granted(Session),
    /// A wrong password or an unknown name: one answer for both.
    Refused,
    /// Too many failures for this name or from this address: try again in this many seconds. No password was
    /// checked, or its result is not told.
    Wait(u64),
}

/// The wait after the first failure past the free ones. Long enough that a client retrying at once is refused rather
/// than slipping through, short enough that a person who mistyped a few times more barely notices.
pub const FIRST_WAIT_MS: i64 = 2_000;

/// How failures on one name or address turn into waits. Settings an admin may want to tune; they belong in
/// server.toml once the configuration is free to grow.
struct Limit {
    scope: Scope,
    /// Failures answered as usual: typing mistakes.
    free: u32,
    /// The longest wait, which the doubling reaches after a few more failures: the lockout.
    lockout_ms: i64,
    /// A run of failures is forgotten this long after its last one.
    forget_after_ms: i64,
}

/// Per account name: five mistakes, then waits of 2 s, 4 s, 8 s ... up to a 15-minute lockout, kept until a login
/// succeeds or a day passes without a failure. Once locked that allows about a hundred guesses a day.
const LOGIN_NAME: Limit =
    Limit { scope: Scope::LoginName, free: 5, lockout_ms: 15 * 60_000, forget_after_ms: 24 * 3_600_000 };

/// Per source address, over all the names tried from it, which the per-name limit cannot see: one machine spraying a
/// password over many names. Generous, because a help desk's office may share one address, and forgotten after an
/// hour without a failure; a success does not reset it, or one valid account would reset it for the rest.
const LOGIN_ADDRESS: Limit =
    Limit { scope: Scope::LoginAddress, free: 20, lockout_ms: 15 * 60_000, forget_after_ms: 3_600_000 };

/// Per source address, for enrollments. A token's secret cannot be guessed, so this limit is about cost: every
/// refused enrollment costs a certificate signature and a log line. Short lockouts, so a rollout behind one address
/// that had a bad token waits at most five minutes once the token is fixed.
const ENROLL_ADDRESS: Limit =
    Limit { scope: Scope::EnrollAddress, free: 5, lockout_ms: 5 * 60_000, forget_after_ms: 3_600_000 };

impl Limit {
    /// How long the next attempt waits after `count` failures in a row.
    fn wait_after(&self, count: u32) -> i64 {
        let past_free = count.saturating_sub(self.free);
        if past_free == 0 {
            return 0;
        }
        let doublings = (past_free - 1).min(32);
        FIRST_WAIT_MS.saturating_mul(1 << doublings).min(self.lockout_ms)
    }

    /// Until when `failures` keep the next attempt waiting, if they still do at `now`. The longest wait is shorter
    /// than the time after which a run is forgotten, so a forgotten run never keeps anyone waiting.
    fn waits_until(&self, failures: &Failures, now: i64) -> Option<i64> {
        let until = failures.last_at.saturating_add(self.wait_after(failures.count));
        (until > now).then_some(until)
    }

    /// The run after one more failure at `now`; a forgotten run starts again at one.
    fn failed(&self, before: Option<Failures>, now: i64) -> Failures {
        let count = match before {
            Some(f) if now.saturating_sub(f.last_at) < self.forget_after_ms => f.count.saturating_add(1),
            _ => 1,
        };
        Failures { count, last_at: now, refusal_audited: false }
    }
}

/// One name or address under a [`Limit`].
#[derive(Clone)]
struct Key {
    limit: &'static Limit,
    subject: String,
}

impl Key {
    fn failures(&self, c: &Read<'_>) -> Result<Option<Failures>, StoreError> {
        c.failures(self.limit.scope, &self.subject)
    }

    /// Counts one more failure; returns the run, and until when it makes the next attempt wait if it does.
    fn fail(&self, tx: &Tx<'_>, now: i64) -> Result<(Failures, Option<i64>), StoreError> {
        let run = self.limit.failed(self.failures(tx)?, now);
        tx.set_failures(self.limit.scope, &self.subject, &run)?;
        tx.prune_failures(self.limit.scope, now.saturating_sub(self.limit.forget_after_ms))?;
        Ok((run, self.limit.waits_until(&run, now)))
    }
}

/// What `keys` say of an attempt at `now`: the latest end of their waits, if any of them waits, and whether one of
/// those waits has had no refusal audited yet.
fn waiting(c: &Read<'_>, keys: &[Key], now: i64) -> Result<(Option<i64>, bool), StoreError> {
    let (mut latest, mut unaudited) = (None, false);
    for key in keys {
        if let Some(run) = key.failures(c)?
            && let Some(until) = key.limit.waits_until(&run, now)
        {
            latest = latest.max(Some(until));
            unaudited |= !run.refusal_audited;
        }
    }
    Ok((latest, unaudited))
}

/// Whole seconds left until `until`, rounded up: a client waiting this long is not refused again.
fn seconds_left(until: i64, now: i64) -> u64 {
    u64::try_from(until.saturating_sub(now)).unwrap_or(0).div_ceil(1000).max(1)
}

/// The subject an address is counted under: IPv4 as it is, IPv6 by its /64, since one host is usually given a whole
/// /64 and could otherwise use a fresh address for every attempt.
fn address(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

/// The seconds an attempt must wait if any of `keys` waits, told at once, for a read. The first attempt refused in
/// each wait is audited as `action`, with `detail` and the wait's end; later ones are not, so that knocking on grows
/// neither the audit chain nor the writer's work.
async fn refuse_while_waiting(
    store: &Store,
    keys: &[Key],
    actor: &str,
    action: &'static str,
    detail: &serde_json::Value,
) -> Result<Option<u64>, StoreError> {
    let (now, seen) = (now_ms(), keys.to_vec());
    let (until, unaudited) = store.read(move |c| waiting(c, &seen, now)).await?;
    let Some(until) = until else { return Ok(None) };
    if unaudited {
        let (keys, actor, mut detail) = (keys.to_vec(), actor.to_owned(), detail.clone());
        detail["until"] = json!(until);
        store
            .write(move |tx| {
                let now = now_ms();
                let mut first = false;
                for key in &keys {
                    if let Some(run) = key.failures(tx)?
                        && key.limit.waits_until(&run, now).is_some()
                        && !run.refusal_audited
                    {
                        tx.set_failures(key.limit.scope, &key.subject, &Failures { refusal_audited: true, ..run })?;
                        first = true;
                    }
                }
                if first {
                    tx.audit(&actor, action, &detail, now)?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(Some(seconds_left(until, now_ms())))
}

/// A login from `from`. `Refused` for an unknown name and for a wrong password alike, after the same work, so
/// neither the answer nor its timing tells which accounts exist; and the same waits for both. Every outcome is
/// audited: logins, refusals, the start of each wait, and the first attempt refused during it.
pub async fn login(store: &Store, name: String, password: String, from: IpAddr) -> Result<Login, StoreError> {
    let from = address(from);
    let keys =
        vec![Key { limit: &LOGIN_NAME, subject: name.clone() }, Key { limit: &LOGIN_ADDRESS, subject: from.clone() }];
    let detail = json!({ "user": name, "address": from });
    if let Some(secs) = refuse_while_waiting(store, &keys, &name, "login.refused-locked", &detail).await? {
        return Ok(Login::Wait(secs));
    }
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
    let (login, started) = store
        .write(move |tx| {
            let now = now_ms();
            // Parallel attempts may have failed while this one's password was checked.
            let (until, _) = waiting(tx, &keys, now)?;
            let mut started = Vec::new();
            let login = match (user, until) {
                (Some(user), None) => {
                    tx.forget_failures(LOGIN_NAME.scope, &name)?;
                    let expires_at = now + auth::LOGIN_TOKEN_MS;
                    let token = tx.issue_api_token(&user, now, Some(expires_at))?;
                    let detail = json!({ "user": name, "address": from, "expires_at": expires_at });
                    tx.audit(&name, "user.login", &detail, now)?;
                    Login::Granted(Session { token, user, expires_at })
                }
                (Some(_), Some(until)) => {
                    let mut detail = detail;
                    detail["until"] = json!(until);
                    tx.audit(&name, "login.refused-locked", &detail, now)?;
                    Login::Wait(seconds_left(until, now))
                }
                (None, waiting_already) => {
                    tx.audit(&name, "user.login-refused", &detail, now)?;
                    let mut latest = waiting_already;
                    for key in &keys {
                        let (run, Some(until)) = key.fail(tx, now)? else { continue };
                        let counted = key.limit.scope.as_str();
                        let detail = json!({
                            "user": name, "address": from, "counted": counted, "failures": run.count, "until": until,
                        });
                        tx.audit(&name, "login.locked", &detail, now)?;
                        started.push((counted, key.subject.clone(), run.count, until));
                        latest = latest.max(Some(until));
                    }
                    // An attempt whose own failure starts a wait is told it failed; one overtaken by a wait that
                    // parallel attempts started meanwhile is told to wait, as a right password would be.
                    match waiting_already {
                        Some(_) => Login::Wait(seconds_left(latest.unwrap_or(now), now)),
                        None => Login::Refused,
                    }
                }
            };
            Ok((login, started))
        })
        .await?;
    for (counted, subject, failures, until) in started {
        warn!(counted, subject, failures, until, "failed logins: the next one waits");
    }
    Ok(login)
}

/// The seconds enrollments from `from` must wait, if they must: asked before a request is worked on.
pub async fn enrollment_wait(store: &Store, from: IpAddr) -> Result<Option<u64>, StoreError> {
    let from = address(from);
    let keys = [Key { limit: &ENROLL_ADDRESS, subject: from.clone() }];
    refuse_while_waiting(store, &keys, &from, "enroll.refused-locked", &json!({ "address": from })).await
}

/// Counts a refused enrollment from `from`; the start of each wait it causes is audited.
pub async fn enrollment_failed(store: &Store, from: IpAddr) -> Result<(), StoreError> {
    let key = Key { limit: &ENROLL_ADDRESS, subject: address(from) };
    let subject = key.subject.clone();
    let started = store
        .write(move |tx| {
            let now = now_ms();
            let (run, until) = key.fail(tx, now)?;
            if let Some(until) = until {
                let detail = json!({ "address": key.subject, "failures": run.count, "until": until });
                tx.audit(&key.subject, "enroll.locked", &detail, now)?;
            }
            Ok(until.map(|until| (run.count, until)))
        })
        .await?;
    if let Some((failures, until)) = started {
        warn!(address = %subject, failures, until, "failed enrollments: the next one from this address waits");
    }
    Ok(())
}

/// Ends `user`'s own token at once (the console's logout), audited as a revocation by them.
pub async fn logout(store: &Store, user: &User, token: &str) -> Result<(), StoreError> {
    let (id, by) = (auth::token_id(token), user.name.clone());
    store.write(move |tx| tx.revoke_api_token(&id, &by, now_ms()).map(drop)).await
}

/// The person a bearer token belongs to, if it is known and has not ended.
pub async fn user_by_token(store: &Store, token: String) -> Result<Option<User>, StoreError> {
    store.read(move |c| c.user_by_api_token(&token, now_ms())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_free_ones_double_the_wait_up_to_the_lockout() {
        let cases =
            [(0, 0), (5, 0), (6, 2_000), (7, 4_000), (8, 8_000), (14, 512_000), (15, 900_000), (u32::MAX, 900_000)];
        for (count, wait) in cases {
            assert_eq!(LOGIN_NAME.wait_after(count), wait, "{count} failures");
        }
        assert_eq!(ENROLL_ADDRESS.wait_after(100), 300_000);
        assert_eq!(LOGIN_ADDRESS.wait_after(20), 0);
        assert_eq!(LOGIN_ADDRESS.wait_after(21), 2_000);
    }

    #[test]
    fn a_wait_runs_from_the_last_failure_and_an_old_run_starts_again() {
        let run = |count, last_at| Failures { count, last_at, refusal_audited: true };
        let fresh = |count, last_at| Failures { count, last_at, refusal_audited: false };
        assert_eq!(LOGIN_NAME.waits_until(&run(6, 1_000), 1_000), Some(3_000));
        assert_eq!(LOGIN_NAME.waits_until(&run(6, 1_000), 2_999), Some(3_000));
        assert_eq!(LOGIN_NAME.waits_until(&run(6, 1_000), 3_000), None);
        assert_eq!(LOGIN_NAME.waits_until(&run(5, 1_000), 1_000), None);
        let day = LOGIN_NAME.forget_after_ms;
        assert_eq!(LOGIN_NAME.failed(None, 7), fresh(1, 7));
        assert_eq!(LOGIN_NAME.failed(Some(run(9, 0)), day - 1), fresh(10, day - 1));
        assert_eq!(LOGIN_NAME.failed(Some(run(9, 0)), day), fresh(1, day));
        for limit in [&LOGIN_NAME, &LOGIN_ADDRESS, &ENROLL_ADDRESS] {
            assert!(limit.lockout_ms < limit.forget_after_ms, "{:?} forgets a run that still waits", limit.scope);
        }
    }

    #[test]
    fn addresses_are_counted_by_host_and_ipv6_by_its_64() {
        let cases = [
            ("192.0.2.7", "192.0.2.7"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
            ("::1", "::/64"),
        ];
        for (ip, subject) in cases {
            assert_eq!(address(ip.parse().unwrap()), subject, "{ip}");
        }
    }

    #[test]
    fn seconds_left_round_up_so_a_client_that_waits_them_is_not_refused_again() {
        let cases = [(1_000, 0, 1), (1_001, 0, 2), (2_000, 1, 2), (5, 5, 1), (0, 10, 1)];
        for (until, now, secs) in cases {
            assert_eq!(seconds_left(until, now), secs, "{until} at {now}");
        }
    }
}
