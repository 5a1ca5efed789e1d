//! The e-mail channel's use cases: a message that arrived (by IMAP or piped in) threads into its ticket or opens
//! one, in one transaction with its record (and the IMAP cursor, so a restart neither reads it twice nor skips it);
//! a public reply on a ticket with a mail thread is queued for the requester; a new ticket gets one
//! acknowledgement. Parsing and the loop rules are `lifeline_shared::mail`'s.

use lifeline_shared::mail::{self as rules, Inbound, Limits, Mailbox, Outbound};
use lifeline_shared::wire::{MAX_BODY, MAX_SUBJECT};
use tracing::{info, warn};

use super::{Effects, Error};
use crate::desk::access::{Act, require};
use crate::desk::actor::Actor;
use crate::desk::policy::{MailDesk, Policy};
use crate::desk::priority::Level;
use crate::desk::tickets::{Channel, Event, MAX_NAME, Status, TicketState};
use crate::store::auth::User;
use crate::store::mail::{MailRecord, NewMail};
use crate::store::people::Fields;
use crate::store::{Store, StoreError, Tx, now_ms};

/// Where a message came from in a mailbox: written with what it made, so the reader resumes right after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// What became of a message.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Receipt {
    /// `new_ticket`, `follow_up`, `auto_note`, `new_after_closed`, `ignored_automated`, `ignored_own`,
    /// `rate_limited` or `duplicate`.
    pub outcome: String,
    pub ticket: Option<i64>,
}

/// A message piped in by a mail server (`POST /api/inbound/email`), as the account it was given.
pub async fn deliver(store: &Store, policy: &Policy, user: &User, raw: Vec<u8>) -> Result<(Receipt, Effects), Error> {
    require(user.role, Act::DeliverMail)?;
    receive(store, policy, &raw, None).await
}

/// Takes one raw message. A message the parser refuses is the sender's fault and is refused with why; with a
/// cursor, the cursor still moves past it, so one broken message never stalls the mailbox.
pub async fn receive(
    store: &Store,
    policy: &Policy,
    raw: &[u8],
    cursor: Option<Cursor>,
) -> Result<(Receipt, Effects), Error> {
    let Some(desk) = policy.mail.clone() else {
        return Err(StoreError::Refused("the help desk has no [mail] address configured".into()).into());
    };
    let limits = Limits { max_attachment: desk.max_attachment, ..Limits::default() };
    let inbound = match rules::parse(raw, &limits) {
        Ok(inbound) => inbound,
        Err(e) => {
            if let Some(cursor) = cursor {
                store.write(move |c| c.set_mail_cursor(&cursor.mailbox, cursor.uidvalidity, cursor.uid)).await?;
            }
            return Err(StoreError::Refused(format!("the message is refused: {e}")).into());
        }
    };
    let sla = policy.sla.clone();
    let priority = policy.matrix.priority(Level::Medium, Level::Medium);
    let key = inbound.message_id.clone().unwrap_or_else(|| stand_in_id(raw));
    let receipt = store
        .write(move |c| {
            let now = now_ms();
            let receipt = take(c, &desk, &inbound, &key, priority, now)?;
            if let Some(ticket) = receipt.ticket {
                super::sla::refresh(c, &sla, ticket, now)?;
            }
            if let Some(cursor) = &cursor {
                c.set_mail_cursor(&cursor.mailbox, cursor.uidvalidity, cursor.uid)?;
            }
            Ok(receipt)
        })
        .await?;
    info!(outcome = receipt.outcome, ticket = ?receipt.ticket, "mail received");
    crate::metrics::METRICS.mail("in", &receipt.outcome);
    let effects = receipt.ticket.map(Effects::thread).unwrap_or_default();
    Ok((receipt, effects))
}

/// Where a message has no Message-ID, the domain of the one it is known by: reserved (RFC 2606), so it names no
/// real message and is never written into our replies' In-Reply-To.
const STAND_IN_DOMAIN: &str = "no-message-id.invalid";

/// What a message without a Message-ID is known by: its bytes' digest, so the same message read again (its mailbox's
/// UIDVALIDITY changed, or a mail server piped it twice) is a duplicate, as one with a Message-ID would be.
fn stand_in_id(raw: &[u8]) -> String {
    use sha2::Digest;
    format!("{}@{STAND_IN_DOMAIN}", hex::encode(&sha2::Sha256::digest(raw)[..16]))
}

/// The decision and its writes, in the caller's transaction. `key` is the message's Message-ID or its stand-in.
fn take(
    c: &Tx<'_>,
    desk: &MailDesk,
    inbound: &Inbound,
    key: &str,
    priority: Level,
    now: i64,
) -> Result<Receipt, StoreError> {
    let sender = inbound.from.address.as_str();
    let record = |c: &Tx<'_>, ticket: Option<i64>, outcome: &str| {
        let mail = NewMail {
            direction: "in",
            message_id: Some(key),
            ticket,
            address: sender,
            subject: &inbound.subject,
            refs: &inbound.references,
            outcome,
        };
        c.record_mail(&mail, now)
    };
    let receipt = |outcome: &str, ticket| Receipt { outcome: outcome.into(), ticket };
    if c.mail_seen(key)? {
        return Ok(receipt("duplicate", None));
    }
    let ours = desk.ours();
    if ours.iter().any(|a| a.eq_ignore_ascii_case(sender)) {
        record(c, None, "ignored_own")?;
        return Ok(receipt("ignored_own", None));
    }
    let person = |c: &Tx<'_>| person_for(c, &inbound.from, now);
    let text = if inbound.reply_text.trim().is_empty() { &inbound.body } else { &inbound.reply_text };
    match thread_of(c, inbound)? {
        Some(number) if c.ticket(number)?.state.status != Status::Closed => {
            let state = c.ticket(number)?.state;
            let (_, name) = person(c)?;
            let actor = Actor::requester(&name);
            let outcome = if rules::may_reopen(inbound, &ours) {
                c.append_event(number, None, &actor, &Event::RequesterReply { body: clip(text, MAX_BODY) }, now)?;
                if matches!(state.status, Status::Resolved | Status::PendingUser) {
                    let reopened = Event::StatusChanged {
                        from: state.status,
                        to: Status::Open,
                        reason: Some("the requester answered by e-mail".into()),
                        until: None,
                        code: None,
                        first_contact: false,
                    };
                    c.append_event(number, None, &actor, &reopened, now)?;
                }
                "follow_up"
            } else {
                // An out-of-office or a bounce on a ticket: the technician should know, the ticket stays as it is.
                let note = format!("Automatic mail from {sender}:\n\n{}", clip(text, MAX_BODY - 200));
                c.append_event(number, None, &Actor::server(), &Event::InternalNote { body: note }, now)?;
                "auto_note"
            };
            let message = record(c, Some(number), outcome)?;
            keep_attachments(c, number, message, inbound, now)?;
            Ok(receipt(outcome, Some(number)))
        }
        closed => {
            if inbound.automated.is_some() && closed.is_none() {
                record(c, None, "ignored_automated")?;
                return Ok(receipt("ignored_automated", None));
            }
            let hour_ago = now - 3_600_000;
            let opened = c.mail_count(sender, "in", "new_ticket", hour_ago)?
                + c.mail_count(sender, "in", "new_after_closed", hour_ago)?;
            if opened >= i64::from(desk.new_tickets_per_hour) {
                warn!(sender, opened, "mail sender over the hourly limit of new tickets; not opening another");
                record(c, None, "rate_limited")?;
                return Ok(receipt("rate_limited", None));
            }
            let (person_id, name) = person(c)?;
            let subject = match clip(inbound.subject.trim(), MAX_SUBJECT) {
                s if s.is_empty() => "(no subject)".to_owned(),
                s => s,
            };
            let mut description = clip(&inbound.body, MAX_BODY);
            if let Some(old) = closed {
                description = clip(&format!("(Follows up closed ticket #{old}.)\n\n{description}"), MAX_BODY);
            }
            let created = Event::Created {
                subject,
                description,
                channel: Channel::Email,
                requester: name.clone(),
                agent_id: None,
                category: None,
                person: Some(person_id),
                urgency: Level::Medium,
                impact: Level::Medium,
                priority,
                ticket_type: Default::default(),
            };
            let (number, _) = c.open_ticket(None, &[(Actor::requester(&name), created)], now)?;
            let outcome = if closed.is_some() { "new_after_closed" } else { "new_ticket" };
            let message = record(c, Some(number), outcome)?;
            keep_attachments(c, number, message, inbound, now)?;
            if desk.acknowledge && rules::should_auto_reply(inbound, &ours).is_ok() {
                acknowledge(c, desk, number, inbound, now)?;
            }
            Ok(receipt(outcome, Some(number)))
        }
    }
}

/// The ticket a message continues: one of our Message-IDs it answers (looked up whole among those we sent), else
/// the subject's `[#N]` if the sender is that ticket's requester (anyone can type a token); followed through merges.
fn thread_of(c: &Tx<'_>, inbound: &Inbound) -> Result<Option<i64>, StoreError> {
    let ids: Vec<&str> = inbound.thread_ids().collect();
    let mut found = c.ticket_of_sent_mail(&ids)?;
    if found.is_none()
        && let Some(token) = rules::ticket_token(&inbound.subject).and_then(|n| i64::try_from(n).ok())
        && let Ok(ticket) = c.ticket(token)
        && requester_address(c, &ticket.state)?.is_some_and(|a| a.eq_ignore_ascii_case(&inbound.from.address))
    {
        found = Some(token);
    }
    let Some(mut number) = found else { return Ok(None) };
    while let Some(into) = c.ticket(number)?.state.merged_into {
        number = into;
    }
    Ok(Some(number))
}

fn requester_address(c: &Tx<'_>, state: &TicketState) -> Result<Option<String>, StoreError> {
    match state.person {
        Some(id) => Ok(c.person(id)?.email),
        None => Ok(None),
    }
}

/// The person with the sender's address, or a new record of them.
fn person_for(c: &Tx<'_>, from: &Mailbox, now: i64) -> Result<(i64, String), StoreError> {
    let name = from.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&from.address);
    let name = clip(name, MAX_NAME);
    if let Some(id) = c.person_by_email(&from.address)? {
        return Ok((id, c.person(id)?.name));
    }
    let fields = Fields { name: Some(name.clone()), email: Some(from.address.clone()), phone: None, department: None };
    super::people::check(&fields)?;
    Ok((c.add_person(&fields, now)?, name))
}

fn keep_attachments(c: &Tx<'_>, number: i64, message: i64, inbound: &Inbound, now: i64) -> Result<(), StoreError> {
    for a in &inbound.attachments {
        c.add_attachment(number, message, &a.name, &a.content_type, &a.bytes, now)?;
    }
    if !inbound.dropped.is_empty() {
        let list: Vec<String> =
            inbound.dropped.iter().map(|d| format!("- {} ({}, {} bytes)", d.name, d.content_type, d.size)).collect();
        let note = format!("Attachments not kept (over the size or count limit):\n{}", list.join("\n"));
        c.append_event(number, None, &Actor::server(), &Event::InternalNote { body: clip(&note, MAX_BODY) }, now)?;
    }
    Ok(())
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn random_part() -> String {
    crate::store::auth::random_secret(16).chars().filter(char::is_ascii_alphanumeric).collect()
}

/// One acknowledgement of a new ticket per sender a day, marked as automatic.
fn acknowledge(c: &Tx<'_>, desk: &MailDesk, number: i64, inbound: &Inbound, now: i64) -> Result<(), StoreError> {
    let sender = &inbound.from.address;
    if c.mail_count(sender, "out", "ack", now - 24 * 3_600_000)? > 0 {
        return Ok(());
    }
    let body = format!(
        "Your message reached the help desk as ticket #{number}. Reply to this message to add to it; we will answer \
         here.\n"
    );
    let parent = inbound.message_id.as_deref();
    let refs = rules::references_for(parent, &inbound.references);
    send(c, desk, number, &inbound.from, &inbound.subject, body, parent, refs, true, now)
}

/// Queues a public reply for the requester of a ticket that has a mail thread (it came by mail, or its requester
/// wrote by mail), answering their latest message. Called in the transaction that adds the reply.
pub fn queue_reply(
    c: &Tx<'_>,
    desk: &MailDesk,
    number: i64,
    state: &TicketState,
    body: &str,
) -> Result<(), StoreError> {
    let thread = c.ticket_mail(number)?;
    let last_in: Option<&MailRecord> = thread.iter().rev().find(|m| m.direction == "in");
    if last_in.is_none() && state.channel != Channel::Email {
        return Ok(());
    }
    let Some(address) = requester_address(c, state)? else { return Ok(()) };
    let to = Mailbox { address, name: Some(state.requester.clone()) };
    let parent = last_in.and_then(|m| m.message_id.as_deref()).filter(|id| !id.ends_with(STAND_IN_DOMAIN));
    let refs = rules::references_for(parent, last_in.map_or(&[][..], |m| &m.refs));
    send(c, desk, number, &to, &state.subject, body.to_owned(), parent, refs, false, now_ms())
}

#[allow(clippy::too_many_arguments)]
fn send(
    c: &Tx<'_>,
    desk: &MailDesk,
    number: i64,
    to: &Mailbox,
    subject: &str,
    body: String,
    parent: Option<&str>,
    references: Vec<String>,
    automatic: bool,
    now: i64,
) -> Result<(), StoreError> {
    let ticket = u64::try_from(number).unwrap_or_default();
    let sent_before = c.ticket_mail(number)?.iter().filter(|m| m.direction == "out").count() as u64;
    let message_id = rules::message_id(ticket, sent_before + 1, &desk.domain, &random_part());
    let out = Outbound {
        from: Mailbox { address: desk.address.clone(), name: desk.name.clone() },
        to: vec![to.clone()],
        subject: format!("Re: {}", rules::ticket_subject(ticket, subject)),
        body_text: body,
        message_id: message_id.clone(),
        in_reply_to: parent.map(str::to_owned),
        references: references.clone(),
        auto_submitted: automatic,
        date: now / 1000,
    };
    // Our own configuration or a requester's address the parser accepted but SMTP would not: the reply stays on
    // the ticket, the mail is not sent, and the log says why.
    let raw = match rules::render(&out) {
        Ok(raw) => raw,
        Err(e) => {
            warn!(ticket = number, error = %e, "cannot write the mail for this reply; it is not sent");
            return Ok(());
        }
    };
    let mail = NewMail {
        direction: "out",
        message_id: Some(&message_id),
        ticket: Some(number),
        address: &to.address,
        subject: &out.subject,
        refs: &references,
        outcome: if automatic { "ack" } else { "reply" },
    };
    let id = c.record_mail(&mail, now)?;
    c.queue_mail(id, &desk.address, &to.address, &raw, now)
}

/// The channel's log, newest first, for admins.
pub async fn log(store: &Store, user: &User, limit: i64) -> Result<Vec<MailRecord>, Error> {
    require(user.role, Act::ManageIntegrations)?;
    Ok(store.read(move |c| c.mail_log(limit.clamp(1, 1000))).await?)
}
