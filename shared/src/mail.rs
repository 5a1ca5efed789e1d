//! The help desk's e-mail channel without IO: what arrived (decoded within hard limits), which ticket it belongs to,
//! whether it may be answered automatically, and the bytes of a reply. The server owns IMAP, the pipe endpoint, SMTP
//! and the store; everything here is pure so that the decoder can be fuzzed on its own.
//!
//! # Threading
//! Our Message-IDs name their ticket (`<ticket-42.reply-3.RANDOM@desk.example>`, [`message_id`]), so a reply threads by
//! its In-Reply-To alone, or by any entry of its References when a client drops In-Reply-To (Outlook does). Failing
//! that, the `[#42]` token in the subject, read after RFC 2047 decoding, since an encoded subject is how a token gets
//! missed. Anything else opens a new ticket ([`threading`]).
//!
//! # Loops
//! RFC 3834: nothing is answered automatically when it was itself sent by a machine (`Auto-Submitted` other than `no`,
//! `Precedence: bulk|list|junk`, `X-Loop`, Exchange's `X-Auto-Response-Suppress`, a delivery report or a null sender)
//! or from one of our own addresses ([`should_auto_reply`]). What we send automatically says so
//! (`Auto-Submitted: auto-replied`), so another help desk does not answer it either.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as OutAddress;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_parser::{Addr, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// Largest raw message accepted. A 30 MiB attachment is about 41 MiB once base64-encoded with its line breaks.
pub const MAX_MESSAGE: usize = 48 << 20;
/// Largest decoded attachment kept; larger ones are listed in [`Inbound::dropped`].
pub const MAX_ATTACHMENT: usize = 32 << 20;
/// Most attachments kept, and most listed as dropped.
pub const MAX_ATTACHMENTS: usize = 100;
/// Longest body text kept, in bytes of UTF-8.
pub const MAX_BODY: usize = 1 << 20;
/// Most ids kept from In-Reply-To, and from References.
pub const MAX_REFERENCES: usize = 100;
/// Most addresses kept from To, and from Cc.
pub const MAX_RECIPIENTS: usize = 100;
/// Longest subject kept, in bytes: RFC 5322's line limit.
pub const MAX_SUBJECT: usize = 998;
/// Longest display name or attachment file name kept, in bytes.
pub const MAX_NAME: usize = 255;
/// Longest Message-ID kept, in bytes, brackets excluded. Longer ones are not ours and thread nothing.
pub const MAX_ID: usize = 250;
/// Longest e-mail address accepted (RFC 5321's path limit less its brackets).
pub const MAX_ADDRESS: usize = 254;
/// Most digits in a ticket number, in a subject token or one of our Message-IDs: any 18 digits fit a `u64`.
const MAX_TICKET_DIGITS: usize = 18;
/// mail-parser keeps offsets as `u32`.
const MAX_PARSEABLE: usize = u32::MAX as usize;

/// Bounds on what [`parse`] accepts and keeps. [`Limits::default`] uses the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest raw message; a larger one is refused before it is parsed.
    pub max_message: usize,
    /// Longest body text kept, in bytes.
    pub max_body: usize,
    /// Largest decoded attachment kept.
    pub max_attachment: usize,
    /// Most attachments kept, and most listed as dropped.
    pub max_attachments: usize,
    /// Most ids kept from In-Reply-To, and from References.
    pub max_references: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: MAX_MESSAGE,
            max_body: MAX_BODY,
            max_attachment: MAX_ATTACHMENT,
            max_attachments: MAX_ATTACHMENTS,
            max_references: MAX_REFERENCES,
        }
    }
}

/// Why a message was refused. Every case is the sender's: retrying the same bytes gives the same answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    #[error("the message is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("not an e-mail message: no header fields")]
    NoHeaders,
    #[error("the message has no usable sender address in From")]
    NoSender,
}

/// Why [`render`] refused an outgoing message: a bug or bad configuration on our side, not the recipient's.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("not a usable e-mail address: {0:?}")]
    Address(String),
    #[error("not a usable Message-ID: {0:?}")]
    MessageId(String),
    #[error("the message has no recipient")]
    NoRecipient,
}

/// An address with its display name. Parsed addresses are lowercased, so they compare as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

/// A message as the help desk uses it: decoded, bounded, with the facts threading and loop rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub from: Mailbox,
    /// Lowercased addresses, at most [`MAX_RECIPIENTS`].
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// RFC 2047 decoded, control characters and runs of white space made single spaces, at most [`MAX_SUBJECT`]
    /// bytes. Empty when there is none.
    pub subject: String,
    /// Without angle brackets. `None` when missing or unusable: nothing may depend on every message having one.
    pub message_id: Option<String>,
    /// Without angle brackets, at most `max_references` each; an over-long References keeps its first id (the
    /// thread's root) and its last ones (the nearest parents), as RFC 5322 3.6.4 suggests for trimming.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// The Date header as Unix seconds, when it is a valid date.
    pub date: Option<i64>,
    /// The text: text/plain parts when there are any, else HTML with its tags stripped. `\n` line ends, no other
    /// control characters but tabs, at most `max_body` bytes.
    pub body: String,
    /// The text ran past `max_body` bytes and was cut.
    pub body_truncated: bool,
    /// The body without the quoted earlier messages clients append to a reply; best effort, the full body stays in
    /// [`Inbound::body`]. The whole body when nothing is recognised as a quote, or nothing would be left.
    pub reply_text: String,
    pub attachments: Vec<Attachment>,
    /// Attachments seen but not kept, so the ticket can say what is missing.
    pub dropped: Vec<Dropped>,
    /// Set when headers show that a machine sent this. Nothing is answered automatically then, and such mail should
    /// not reopen a ticket either: an out-of-office reply to our answer is not the customer speaking.
    pub automated: Option<Automation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the sender gave, without directories; `attachment-N` when there is none.
    pub name: String,
    /// `type/subtype`, lowercased.
    pub content_type: String,
    /// Decoded size in bytes, `bytes.len()`.
    pub size: usize,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub name: String,
    pub content_type: String,
    pub size: usize,
    pub reason: DropReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Over `max_attachment`.
    TooLarge,
    /// Past `max_attachments`.
    TooMany,
}

/// What shows that a machine sent a message. Ordered from the most telling: when several apply, the first is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Automation {
    /// A delivery report (`multipart/report`, which read receipts use too), a null sender (`Return-Path: <>`) or
    /// MAILER-DAEMON.
    Bounce,
    /// `X-Loop`: a list manager or another help desk marked it as already passed along.
    Loop,
    /// `Auto-Submitted: auto-replied`, or a vacation responder's `X-Autoreply`/`X-Autorespond`.
    AutoReplied,
    /// Any other `Auto-Submitted` value but `no` (`auto-generated`, `auto-notified`).
    AutoGenerated,
    /// `X-Auto-Response-Suppress` asking for no automatic replies (`All`, `AutoReply`, `OOF`): Exchange puts it on
    /// its out-of-office replies, some of which carry nothing else.
    SuppressesReplies,
    /// `Precedence: bulk` or `junk`.
    Bulk,
    /// `Precedence: list`. A help desk address behind a mailing-list style group (Google Groups adds this to every
    /// message it relays) sees it on customers' mail too, which is why it is told apart from [`Automation::Bulk`].
    List,
}

/// Why [`should_auto_reply`] said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAutoReply {
    Automated(Automation),
    /// From one of our own addresses: answering would talk to ourselves.
    FromUs,
}

/// How a message was matched to an existing ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threading {
    /// One of our Message-IDs in In-Reply-To or References. The number is read from the id's shape; a server that
    /// must not trust it looks the whole id up among the ones it sent.
    MessageId(u64),
    /// The `[#N]` token in the subject. Anyone can type one, so the server should check the sender belongs to the
    /// ticket before adding to it.
    Subject(u64),
}

impl Threading {
    pub fn ticket(self) -> u64 {
        match self {
            Threading::MessageId(t) | Threading::Subject(t) => t,
        }
    }
}

/// A message the help desk sends. Ids go without angle brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// Should carry the ticket's token: see [`ticket_subject`].
    pub subject: String,
    pub body_text: String,
    /// From [`message_id`], so that a reply to it threads by In-Reply-To alone.
    pub message_id: String,
    /// The Message-ID of the message answered, if it had one.
    pub in_reply_to: Option<String>,
    /// From [`references_for`].
    pub references: Vec<String>,
    /// Marks an automatic message (the acknowledgement of a new ticket) as RFC 3834 asks, and asks Exchange not to
    /// answer it with an out-of-office reply.
    pub auto_submitted: bool,
    /// Unix seconds for the Date header: this crate reads no clock.
    pub date: i64,
}

impl Inbound {
    /// The ids a reply may name its parent by, nearest first: In-Reply-To, then References from the last entry (the
    /// parent) back to the first (the thread's root).
    pub fn thread_ids(&self) -> impl Iterator<Item = &str> {
        self.in_reply_to.iter().chain(self.references.iter().rev()).map(String::as_str)
    }
}

/// Decodes one raw message (as IMAP FETCH or the pipe delivers it) within `limits`. Too large or without a sender,
/// it is refused; anything else is decoded best effort, since real mail is often slightly broken.
///
/// mail-parser 0.11 checks its own state with `debug_assert!(false, ...)` in places that malformed MIME reaches (a
/// nested message that ends early); a release build parses on correctly, but a build with debug assertions panics
/// there. A debug build that reads real mail should turn them off for that crate
/// (`[profile.dev.package.mail-parser] debug-assertions = false`), as the fuzz crate does.
pub fn parse(raw: &[u8], limits: &Limits) -> Result<Inbound, MailError> {
    let max = limits.max_message.min(MAX_PARSEABLE);
    if raw.len() > max {
        return Err(MailError::TooLarge { len: raw.len(), max });
    }
    let message = MessageParser::new().parse(raw).ok_or(MailError::NoHeaders)?;
    let from = message.from().and_then(|from| from.iter().find_map(mailbox)).ok_or(MailError::NoSender)?;
    let to = addresses(message.all_to().flat_map(|a| a.iter()));
    let cc = addresses(message.all_cc().flat_map(|a| a.iter()));
    let subject = clean_line(message.subject().unwrap_or_default(), MAX_SUBJECT);
    let message_id = message.message_id().map(str::trim).filter(|id| valid_id(id)).map(str::to_owned);
    let in_reply_to = ids(message.in_reply_to(), limits.max_references);
    let references = ids(message.references(), limits.max_references);
    let date = message.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp());
    let (body, body_truncated) = body_text(&message, limits.max_body);
    let reply_text = reply_part(&body).to_owned();
    let (attachments, dropped) = attachments(&message, limits);
    let automated = classify(&message, &from);
    Ok(Inbound {
        from,
        to,
        cc,
        subject,
        message_id,
        in_reply_to,
        references,
        date,
        body,
        body_truncated,
        reply_text,
        attachments,
        dropped,
        automated,
    })
}

/// The ticket number in a subject's `[#N]` token (the first one, wherever it is: after `Re:`, `AW:`, `Fwd:` or other
/// bracketed text), for a subject already RFC 2047 decoded as [`Inbound::subject`] is.
pub fn ticket_token(subject: &str) -> Option<u64> {
    let mut rest = subject;
    while let Some(at) = rest.find("[#") {
        rest = &rest[at + 2..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if (1..=MAX_TICKET_DIGITS).contains(&digits)
            && rest.as_bytes().get(digits) == Some(&b']')
            && let Ok(ticket) = rest[..digits].parse()
        {
            return Some(ticket);
        }
    }
    None
}

/// The ticket named by the first of `ids` that is one of our Message-IDs (see [`message_id`]) on `our_domain`. Pass
/// [`Inbound::thread_ids`], which goes through In-Reply-To and then every References entry.
pub fn our_ticket_in<'a>(ids: impl IntoIterator<Item = &'a str>, our_domain: &str) -> Option<u64> {
    let our_domain = our_domain.trim();
    ids.into_iter().find_map(|id| {
        let id = id.trim();
        let id = id.strip_prefix('<').unwrap_or(id);
        let id = id.strip_suffix('>').unwrap_or(id);
        let (local, domain) = id.rsplit_once('@')?;
        if domain.is_empty() || !domain.eq_ignore_ascii_case(our_domain) {
            return None;
        }
        let rest = local.strip_prefix("ticket-")?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=MAX_TICKET_DIGITS).contains(&digits) || rest.as_bytes().get(digits) != Some(&b'.') {
            return None;
        }
        rest[..digits].parse().ok()
    })
}

/// Which ticket a message belongs to: by our Message-IDs first, then by the subject's token; `None` opens a new one.
pub fn threading(inbound: &Inbound, our_domain: &str) -> Option<Threading> {
    our_ticket_in(inbound.thread_ids(), our_domain)
        .map(Threading::MessageId)
        .or_else(|| ticket_token(&inbound.subject).map(Threading::Subject))
}

/// Whether a message may be answered automatically (the acknowledgement of a new ticket), and why not.
/// `our_addresses` are every address the help desk sends from, compared without regard to case.
pub fn should_auto_reply(inbound: &Inbound, our_addresses: &[&str]) -> Result<(), NoAutoReply> {
    if our_addresses.iter().any(|ours| ours.trim().eq_ignore_ascii_case(&inbound.from.address)) {
        return Err(NoAutoReply::FromUs);
    }
    match inbound.automated {
        Some(automation) => Err(NoAutoReply::Automated(automation)),
        None => Ok(()),
    }
}

/// Whether a message may reopen the resolved ticket it threads into: only a person may, for the reasons that rule
/// out an automatic answer.
pub fn may_reopen(inbound: &Inbound, our_addresses: &[&str]) -> bool {
    should_auto_reply(inbound, our_addresses).is_ok()
}

/// Our Message-ID for a message on `ticket` (without angle brackets): `ticket-N.reply-M.RANDOM@domain`. `random`
/// makes it unique and unguessable (16 or more random letters or digits; other characters and any past 32 are
/// dropped); `domain` should be the help desk's mail domain, which [`our_ticket_in`] is given too.
pub fn message_id(ticket: u64, reply: u64, domain: &str, random: &str) -> String {
    let random: String = random.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .take(150)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("ticket-{ticket}.reply-{reply}.{random}@{domain}")
}

/// The References of an answer to a message with `parent_id` and `parent_references`: the parent's References and
/// then its Message-ID (RFC 5322 3.6.4), at most [`MAX_REFERENCES`], trimmed as [`Inbound::references`] is.
pub fn references_for(parent_id: Option<&str>, parent_references: &[String]) -> Vec<String> {
    let mut ids: Vec<&str> = parent_references.iter().map(|id| id.as_str()).filter(|id| valid_id(id)).collect();
    if let Some(id) = parent_id.filter(|id| valid_id(id))
        && ids.last() != Some(&id)
    {
        ids.push(id);
    }
    trim_ids(ids, MAX_REFERENCES).into_iter().map(str::to_owned).collect()
}

/// `[#N] subject` with the reply and forward prefixes (`Re:`, `AW:`, `Fwd:`...) and this ticket's token taken off
/// the front, so a subject does not grow with every round. A reply may put `Re: ` in front of it.
pub fn ticket_subject(ticket: u64, subject: &str) -> String {
    let token = format!("[#{ticket}]");
    let subject = clean_line(subject, MAX_SUBJECT);
    let mut core = subject.as_str();
    loop {
        core = core.trim_start();
        if let Some(rest) = core.strip_prefix(&token) {
            core = rest;
        } else if let Some(rest) = strip_reply_prefix(core) {
            core = rest;
        } else {
            break;
        }
    }
    let mut out = if core.is_empty() { token } else { format!("{token} {core}") };
    truncate(&mut out, MAX_SUBJECT);
    out
}

/// The message as bytes for SMTP: From, To, Subject, Date, Message-ID, In-Reply-To and References, and a UTF-8
/// text/plain body.
pub fn render(out: &Outbound) -> Result<Vec<u8>, RenderError> {
    let address = |m: &Mailbox| -> Result<OutAddress<'static>, RenderError> {
        let address = m.address.trim();
        if !valid_address(address) {
            return Err(RenderError::Address(m.address.clone()));
        }
        let name = m.name.as_deref().map(|n| clean_line(n, MAX_NAME)).filter(|n| !n.is_empty());
        Ok(OutAddress::new_address(name, address.to_owned()))
    };
    let id = |id: &str| -> Result<String, RenderError> {
        let trimmed = id.trim();
        if valid_id(trimmed) { Ok(trimmed.to_owned()) } else { Err(RenderError::MessageId(id.to_owned())) }
    };
    if out.to.is_empty() {
        return Err(RenderError::NoRecipient);
    }
    let to = out.to.iter().map(address).collect::<Result<Vec<_>, _>>()?;
    let mut builder = MessageBuilder::new()
        .from(address(&out.from)?)
        .to(OutAddress::new_list(to))
        .subject(clean_line(&out.subject, MAX_SUBJECT))
        .date(Date::new(out.date))
        .message_id(id(&out.message_id)?);
    if let Some(parent) = &out.in_reply_to {
        builder = builder.in_reply_to(id(parent)?);
    }
    if !out.references.is_empty() {
        let references = out.references.iter().map(|r| id(r)).collect::<Result<Vec<_>, _>>()?;
        builder = builder.references(MessageId::from(references));
    }
    if out.auto_submitted {
        builder = builder
            .header("Auto-Submitted", Raw::new("auto-replied"))
            .header("X-Auto-Response-Suppress", Raw::new("All"));
    }
    let mut bytes = Vec::new();
    builder.text_body(out.body_text.as_str()).serialize(&mut bytes);
    Ok(bytes)
}

/// A plausible addr-spec: something before and after an `@`, no white space, control characters or the delimiters
/// that would let it break out of a header.
fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && address.len() <= MAX_ADDRESS
        && !address.chars().any(|c| c.is_control() || c.is_whitespace() || "<>()[],;:\"\\".contains(c))
}

/// A Message-ID we keep and may write back into a header: visible ASCII without angle brackets.
fn valid_id(id: &str) -> bool {
    (1..=MAX_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
}

fn mailbox(addr: &Addr<'_>) -> Option<Mailbox> {
    let address = addr.address()?.trim();
    if !valid_address(address) {
        return None;
    }
    let name = addr.name().map(|n| clean_line(n, MAX_NAME)).filter(|n| !n.is_empty());
    Some(Mailbox { address: address.to_lowercase(), name })
}

fn addresses<'a, 'x: 'a>(list: impl Iterator<Item = &'a Addr<'x>>) -> Vec<String> {
    list.filter_map(mailbox).map(|m| m.address).take(MAX_RECIPIENTS).collect()
}

fn ids(value: &HeaderValue<'_>, max: usize) -> Vec<String> {
    let all: Vec<&str> = match value {
        HeaderValue::Text(id) => vec![id.as_ref()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.as_ref()).collect(),
        _ => Vec::new(),
    };
    let valid = all.into_iter().map(str::trim).filter(|id| valid_id(id)).collect();
    trim_ids(valid, max).into_iter().map(str::to_owned).collect()
}

/// At most `max` ids: the first (a thread's root) and the last `max - 1` (the nearest parents).
fn trim_ids(mut ids: Vec<&str>, max: usize) -> Vec<&str> {
    if ids.len() > max {
        let keep_last = max.saturating_sub(1);
        let tail = ids.split_off(ids.len() - keep_last);
        ids.truncate(max.min(1));
        ids.extend(tail);
    }
    ids
}

/// One line of header text: control characters and runs of white space become single spaces, trimmed, at most
/// `max` bytes.
fn clean_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if out.len() >= max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    truncate(&mut out, max);
    out.truncate(out.trim_end().len());
    out
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn truncate(text: &mut String, max: usize) {
    let len = prefix(text, max).len();
    text.truncate(len);
}

/// The longest start of `text` of at most `max` bytes that ends at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut at = max.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    &text[..at]
}

/// The body text, and whether it was cut at `max` bytes.
fn body_text(message: &Message<'_>, max: usize) -> (String, bool) {
    // mail-parser lists an HTML part under `text_body` when there is no plain alternative, so this is "text/plain
    // when there is one, else HTML".
    let parts = if message.text_body.is_empty() { &message.html_body } else { &message.text_body };
    // Gathered one byte past the limit, to tell a cut body from one exactly at it.
    let budget = max.saturating_add(1);
    let mut raw = String::new();
    for part in parts.iter().filter_map(|&id| message.parts.get(id as usize)) {
        if !raw.is_empty() {
            raw.push('\n');
        }
        if raw.len() >= budget {
            break;
        }
        let room = budget - raw.len();
        match &part.body {
            // Only the part that fits is copied: a text part may be most of a 48 MiB message.
            PartType::Text(text) => raw.push_str(prefix(text, room)),
            PartType::Html(html) => raw.push_str(&html_to_text(html, room)),
            _ => {}
        }
    }
    let mut body = clean_text(&raw);
    let truncated = raw.len() > max;
    truncate(&mut body, max);
    body.truncate(body.trim_end().len());
    (body, truncated)
}

/// `\n` line ends, no control characters but tabs, no trailing white space or leading blank lines. Never longer
/// than its input.
fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    let start = out.len() - out.trim_start_matches(['\n', ' ', '\t']).len();
    // Leading blank lines go, but not the indentation of the first line of text.
    let start = out[..start].rfind('\n').map_or(0, |nl| nl + 1);
    out.drain(..start);
    out.truncate(out.trim_end().len());
    out
}

/// HTML as text, at most `max` bytes: tags stripped, block elements on lines of their own, the head, styles and
/// scripts left out, the common entities decoded.
fn html_to_text(html: &str, max: usize) -> String {
    const SKIPPED: [&str; 5] = ["head", "style", "script", "title", "template"];
    const BLOCKS: [&str; 21] = [
        "p",
        "div",
        "li",
        "tr",
        "table",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "hr",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "dd",
    ];
    let mut out = String::new();
    let mut rest = html;
    let mut skipping: Option<&str> = None;
    let mut space = false;
    while !rest.is_empty() && out.len() < max {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let is_tag = rest.starts_with('<')
            && rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if is_tag {
            let (inner, next) = match rest[1..].find('>') {
                Some(end) => (&rest[1..1 + end], &rest[2 + end..]),
                None => (&rest[1..], ""),
            };
            rest = next;
            let closing = inner.starts_with('/');
            let name_len = inner.trim_start_matches('/').bytes().take_while(u8::is_ascii_alphanumeric).count();
            let name = &inner.trim_start_matches('/')[..name_len];
            if let Some(skipped) = skipping {
                if closing && name.eq_ignore_ascii_case(skipped) {
                    skipping = None;
                }
                continue;
            }
            if let Some(skipped) = SKIPPED.iter().find(|s| name.eq_ignore_ascii_case(s)) {
                if !closing && !inner.ends_with('/') {
                    skipping = Some(*skipped);
                }
            } else if name.eq_ignore_ascii_case("br") {
                if !out.ends_with("\n\n") {
                    out.truncate(out.trim_end_matches(' ').len());
                    out.push('\n');
                }
                space = false;
            } else if BLOCKS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
                out.truncate(out.trim_end_matches(' ').len());
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                space = false;
            } else if !closing && (name.eq_ignore_ascii_case("td") || name.eq_ignore_ascii_case("th")) {
                space = !out.is_empty() && !out.ends_with('\n');
            }
            continue;
        }
        // Text up to the next tag; a '<' that starts no tag is text.
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let end = rest[first..].find('<').map_or(rest.len(), |at| at + first);
        let (text, next) = rest.split_at(end);
        rest = next;
        if skipping.is_some() {
            continue;
        }
        let mut chars = text.char_indices();
        while let Some((at, c)) = chars.next() {
            let c = if c == '&' {
                match entity(&text[at + 1..]) {
                    Some((decoded, used)) => {
                        for _ in 0..used {
                            chars.next();
                        }
                        decoded
                    }
                    None => c,
                }
            } else {
                c
            };
            if c.is_whitespace() {
                space = !out.is_empty() && !out.ends_with('\n');
            } else {
                if space {
                    out.push(' ');
                    space = false;
                }
                out.push(c);
            }
        }
    }
    truncate(&mut out, max);
    out
}

/// The character an entity stands for, and how many characters after the `&` it takes, `;` included.
fn entity(text: &str) -> Option<(char, usize)> {
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let name = &text[..end];
    let c = if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        char::from_u32(code)?
    } else {
        match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "shy" => '\u{ad}',
            "copy" => '©',
            "reg" => '®',
            "euro" => '€',
            "hellip" => '…',
            "ndash" => '–',
            "mdash" => '—',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "bull" => '•',
            "auml" => 'ä',
            "ouml" => 'ö',
            "uuml" => 'ü',
            "Auml" => 'Ä',
            "Ouml" => 'Ö',
            "Uuml" => 'Ü',
            "szlig" => 'ß',
            "eacute" => 'é',
            "egrave" => 'è',
            "agrave" => 'à',
            "ccedil" => 'ç',
            _ => return None,
        }
    };
    Some((c, name.chars().count() + 1))
}

/// The body up to the quoted earlier message a reply carries: an attribution line (`On ... wrote:`, as Gmail and
/// Thunderbird write it, possibly wrapped; German and French too), Outlook's `-----Original Message-----` or its
/// `From: ... Sent: ...` header block, or else a trailing block of `>` lines. The whole body when none is found or
/// nothing would be left (a reply written between the quoted lines).
fn reply_part(body: &str) -> &str {
    let mut offset = 0;
    let mut quote_start = None;
    let mut cut = None;
    let mut lines = body.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let start = offset;
        offset += line.len();
        let text = line.trim();
        let following = lines.clone().take(5).map(str::trim);
        if is_separator(text) || is_attribution(text, following.clone()) || is_header_block(text, following) {
            cut = Some(start);
            break;
        }
        if text.starts_with('>') {
            quote_start.get_or_insert(start);
        } else if !text.is_empty() {
            quote_start = None;
        }
    }
    let Some(cut) = cut.or(quote_start) else {
        return body;
    };
    let mut reply = &body[..cut];
    loop {
        let trimmed = reply.trim_end();
        // Outlook's rule above its header block.
        let last = trimmed.rsplit('\n').next().unwrap_or_default().trim();
        if last.len() >= 5 && last.bytes().all(|b| b == b'_') {
            reply = &trimmed[..trimmed.len() - last.len()];
        } else {
            reply = trimmed;
            break;
        }
    }
    if reply.trim().is_empty() { body } else { reply }
}

fn is_separator(line: &str) -> bool {
    const NAMES: [&str; 4] = ["original message", "ursprüngliche nachricht", "message d'origine", "originalnachricht"];
    if !line.starts_with("-----") || line.len() > 100 {
        return false;
    }
    let name = line.trim_matches('-').trim().to_lowercase();
    NAMES.contains(&name.as_str())
}

/// `On <date>, <someone> wrote:` on one line or wrapped over two; German (`Am ... schrieb ...:`), French and Spanish
/// clients put the name after the verb, so the line only has to end with a colon.
fn is_attribution<'a>(line: &str, mut following: impl Iterator<Item = &'a str>) -> bool {
    const FORMS: [(&str, &str); 4] = [("On ", "wrote"), ("Am ", "schrieb"), ("Le ", "écrit"), ("El ", "escribió")];
    let Some((_, verb)) = FORMS.iter().find(|(start, _)| line.starts_with(start)) else {
        return false;
    };
    if line.len() > 300 {
        return false;
    }
    if line.ends_with(':') && line.contains(verb) {
        return true;
    }
    following
        .next()
        .is_some_and(|next| next.len() <= 200 && next.ends_with(':') && (line.contains(verb) || next.contains(verb)))
}

/// Outlook's header block over a quoted message: `From:` and, within a few lines, `Sent:` or `Date:` (bold in the
/// plain text Outlook derives from HTML: `*From:*`). German and French Outlook too.
fn is_header_block<'a>(line: &str, following: impl Iterator<Item = &'a str>) -> bool {
    const FROM: [&str; 4] = ["From:", "Von:", "De:", "De :"];
    const SENT: [&str; 6] = ["Sent:", "Date:", "Gesendet:", "Datum:", "Envoyé :", "Envoyé:"];
    let field = |text: &'a str| text.trim_start_matches('*');
    let line = line.trim_start_matches('*');
    if !FROM.iter().any(|f| line.starts_with(f)) {
        return false;
    }
    // HTML converted without line breaks puts the whole block on one line.
    SENT.iter().any(|s| line.contains(&format!(" {s}")))
        || following.map(field).any(|next| SENT.iter().any(|s| next.starts_with(s)))
}

fn attachments(message: &Message<'_>, limits: &Limits) -> (Vec<Attachment>, Vec<Dropped>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (n, part) in message.attachments.iter().filter_map(|&id| message.parts.get(id as usize)).enumerate() {
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let bytes = part.contents();
        let reason = if bytes.len() > limits.max_attachment {
            Some(DropReason::TooLarge)
        } else if kept.len() >= limits.max_attachments {
            Some(DropReason::TooMany)
        } else {
            None
        };
        let (name, content_type, size) = (attachment_name(part, n), content_type(part), bytes.len());
        match reason {
            None => kept.push(Attachment { name, content_type, size, bytes: bytes.to_vec() }),
            // The list of what is missing is bounded too: a message of many tiny parts must not make it huge.
            Some(reason) if dropped.len() < limits.max_attachments => {
                dropped.push(Dropped { name, content_type, size, reason })
            }
            Some(_) => {}
        }
    }
    (kept, dropped)
}

fn attachment_name(part: &MessagePart<'_>, n: usize) -> String {
    // A name is the sender's text: no directories, so it can never name a path when saved.
    let name = part.attachment_name().map(|name| name.rsplit(['/', '\\']).next().unwrap_or_default());
    let name = clean_line(name.unwrap_or_default(), MAX_NAME);
    match name.as_str() {
        "" | "." | ".." => format!("attachment-{}", n + 1),
        _ => name,
    }
}

fn content_type(part: &MessagePart<'_>) -> String {
    let known = part.content_type().map(|ct| match ct.subtype() {
        Some(subtype) => format!("{}/{}", ct.ctype(), subtype),
        None => ct.ctype().to_owned(),
    });
    let fallback = match part.body {
        PartType::Message(_) => "message/rfc822",
        PartType::Text(_) => "text/plain",
        PartType::Html(_) => "text/html",
        _ => "application/octet-stream",
    };
    clean_line(&known.unwrap_or_else(|| fallback.to_owned()), MAX_NAME).to_ascii_lowercase()
}

fn classify(message: &Message<'_>, from: &Mailbox) -> Option<Automation> {
    let mut found: Option<Automation> = None;
    let mut note = |automation: Automation| {
        found = Some(found.map_or(automation, |f| f.min(automation)));
    };
    if message.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        note(Automation::Bounce);
    }
    let local = from.address.rsplit_once('@').map_or(from.address.as_str(), |(local, _)| local);
    if local.eq_ignore_ascii_case("mailer-daemon") {
        note(Automation::Bounce);
    }
    for header in message.headers() {
        let value = match &header.value {
            HeaderValue::Text(text) => text.trim(),
            HeaderValue::TextList(list) => list.first().map_or("", |text| text.trim()),
            _ => "",
        };
        let name = header.name.as_str();
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        if header.name == HeaderName::ReturnPath {
            let raw = message.raw_message.get(header.offset_start as usize..header.offset_end as usize);
            if raw.is_some_and(|raw| raw.trim_ascii() == b"<>") {
                note(Automation::Bounce);
            }
        } else if is("Auto-Submitted") {
            let kind = value.split(';').next().unwrap_or_default().trim();
            if kind.eq_ignore_ascii_case("auto-replied") {
                note(Automation::AutoReplied);
            } else if !kind.eq_ignore_ascii_case("no") {
                note(Automation::AutoGenerated);
            }
        } else if is("X-Autoreply") || is("X-Autorespond") || is("X-Autoresponder") {
            note(Automation::AutoReplied);
        } else if is("X-Loop") {
            note(Automation::Loop);
        } else if is("X-Auto-Response-Suppress") {
            let suppress =
                |token: &str| ["All", "AutoReply", "OOF"].iter().any(|t| token.trim().eq_ignore_ascii_case(t));
            if value.split(',').any(suppress) {
                note(Automation::SuppressesReplies);
            }
        } else if is("Precedence") {
            if value.eq_ignore_ascii_case("bulk") || value.eq_ignore_ascii_case("junk") {
                note(Automation::Bulk);
            } else if value.eq_ignore_ascii_case("list") {
                note(Automation::List);
            }
        }
    }
    found
}

/// `subject` without one leading `Re:`, `AW:`, `Fwd:` and the like (any case, `Re :` too).
fn strip_reply_prefix(subject: &str) -> Option<&str> {
    const PREFIXES: [&str; 11] = ["re", "aw", "fw", "fwd", "wg", "sv", "vs", "tr", "antw", "ref", "rif"];
    let word = subject.bytes().take_while(u8::is_ascii_alphabetic).count();
    let rest = subject[word..].trim_start_matches(' ').strip_prefix(':')?;
    PREFIXES.iter().any(|p| subject[..word].eq_ignore_ascii_case(p)).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "desk.example";
    const OURS: [&str; 2] = ["help@desk.example", "noreply@desk.example"];

    /// Test messages are written with `\n`; mail goes over the wire with CRLF.
    fn crlf(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    fn parsed(text: &str) -> Inbound {
        parse(&crlf(text), &Limits::default()).unwrap()
    }

    /// What the fuzz target holds every parse to, as well.
    fn within(inbound: &Inbound, limits: &Limits) {
        assert!(inbound.body.len() <= limits.max_body);
        assert!(inbound.reply_text.len() <= inbound.body.len());
        assert!(inbound.subject.len() <= MAX_SUBJECT);
        assert!(inbound.in_reply_to.len() <= limits.max_references);
        assert!(inbound.references.len() <= limits.max_references);
        assert!(inbound.to.len() <= MAX_RECIPIENTS && inbound.cc.len() <= MAX_RECIPIENTS);
        assert!(inbound.attachments.len() <= limits.max_attachments);
        assert!(inbound.dropped.len() <= limits.max_attachments);
        for a in &inbound.attachments {
            assert!(a.size == a.bytes.len() && a.size <= limits.max_attachment);
        }
    }

    /// Outlook (desktop, Exchange Online) answering our message: `RE:` prefix, Thread-Topic and Thread-Index (its own
    /// threading, which we ignore), no In-Reply-To here but References with our id, multipart/alternative with a
    /// quoted-printable plain part that quotes below `-----Original Message-----`.
    const OUTLOOK: &str = "Received: from AM0PR01MB1234.eurprd01.prod.exchangelabs.com by mx.desk.example
From: Alice Example <Alice.Example@Customer.example>
To: Help Desk <help@desk.example>
CC: \"Boss, The\" <boss@customer.example>, it@customer.example
Subject: RE: [#42] Printer on fire
Thread-Topic: [#42] Printer on fire
Thread-Index: AQHabopqXw2k7zK6T0mKz3xYbE0fTw==
Date: Tue, 5 Mar 2024 10:15:00 +0000
Message-ID: <AM0PR01MB1234ABCD5678@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>
References: <ticket-42.reply-1.k3j4h5g6f7d8s9a0@desk.example>
Content-Language: en-US
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
Content-Type: multipart/alternative; boundary=\"_000_AM0PR01MB1234_\"
MIME-Version: 1.0

--_000_AM0PR01MB1234_
Content-Type: text/plain; charset=\"us-ascii\"
Content-Transfer-Encoding: quoted-printable

Thanks, it prints again.

Alice

-----Original Message-----
From: Help Desk <help@desk.example>=20
Sent: Tuesday, March 5, 2024 10:00 AM
To: Alice Example <alice.example@customer.example>
Subject: [#42] Printer on fire

Please restart the spooler.

--_000_AM0PR01MB1234_
Content-Type: text/html; charset=\"us-ascii\"
Content-Transfer-Encoding: quoted-printable

<html><head><style>p.MsoNormal{margin:0}</style></head><body><p class=3D\"MsoNormal\">Thanks, it pri=
nts again.</p></body></html>

--_000_AM0PR01MB1234_--
";

    /// Gmail: `Re:` prefix, In-Reply-To and a References chain (the customer's first message, then ours), the plain
    /// part quoted below `On <date> <name> <address> wrote:`, wrapped onto a second line once it is long, with a
    /// narrow no-break space before AM; the HTML part has the quote in a `gmail_quote` blockquote.
    const GMAIL: &str = "MIME-Version: 1.0
Date: Tue, 5 Mar 2024 11:02:13 +0100
References: <CAF=abc123@mail.gmail.com> <ticket-42.reply-1.k3j4h5g6f7d8s9a0@desk.example>
 <ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example>
In-Reply-To: <ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example>
Message-ID: <CAH+xyz789=def@mail.gmail.com>
Subject: Re: [#42] Printer on fire
From: Bob Customer <bob.customer@gmail.com>
To: Help Desk <help@desk.example>
Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3d4e5f6\"

--000000000000a1b2c3d4e5f6
Content-Type: text/plain; charset=\"UTF-8\"
Content-Transfer-Encoding: quoted-printable

Still broken, see the photo.

On Tue, Mar 5, 2024 at 10:00=E2=80=AFAM Help Desk <help@desk.example>
wrote:

> Please restart the spooler.
>

--000000000000a1b2c3d4e5f6
Content-Type: text/html; charset=\"UTF-8\"
Content-Transfer-Encoding: quoted-printable

<div dir=3D\"ltr\">Still broken, see the photo.</div><br><div class=3D\"gmail_q=
uote\"><div dir=3D\"ltr\" class=3D\"gmail_attr\">On Tue, Mar 5, 2024 at 10:00=E2=
=80=AFAM Help Desk &lt;help@desk.example&gt; wrote:<br></div><blockquote class=
=3D\"gmail_quote\">Please restart the spooler.</blockquote></div>

--000000000000a1b2c3d4e5f6--
";

    /// Thunderbird (German locale): In-Reply-To and References, a single text/plain part, format=flowed, 8bit, the
    /// quote below `Am <date> schrieb <name>:` with `> ` lines.
    const THUNDERBIRD: &str = "Message-ID: <5f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b@customer.example>
Date: Tue, 5 Mar 2024 11:30:00 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Re: [#42] Printer on fire
Content-Language: de-DE
To: Help Desk <help@desk.example>
References: <ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example>
From: Carol <carol@customer.example>
In-Reply-To: <ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example>
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Läuft wieder, danke!

Am 05.03.24 um 10:00 schrieb Help Desk:
> Please restart the spooler.
";

    #[test]
    fn outlook_reply_threads_by_references_and_trims_the_original_message() {
        let m = parsed(OUTLOOK);
        within(&m, &Limits::default());
        assert_eq!(
            m.from,
            Mailbox { address: "alice.example@customer.example".into(), name: Some("Alice Example".into()) }
        );
        assert_eq!(m.to, ["help@desk.example"]);
        assert_eq!(m.cc, ["boss@customer.example", "it@customer.example"]);
        assert_eq!(m.subject, "RE: [#42] Printer on fire");
        assert_eq!(m.message_id.as_deref(), Some("AM0PR01MB1234ABCD5678@AM0PR01MB1234.eurprd01.prod.exchangelabs.com"));
        assert!(m.in_reply_to.is_empty());
        assert_eq!(m.references, ["ticket-42.reply-1.k3j4h5g6f7d8s9a0@desk.example"]);
        assert_eq!(m.date, Some(1_709_633_700));
        assert_eq!(threading(&m, DOMAIN), Some(Threading::MessageId(42)));
        assert!(m.body.starts_with("Thanks, it prints again.\n\nAlice\n\n-----Original Message-----\nFrom: Help Desk"));
        assert!(m.body.ends_with("Please restart the spooler."), "{:?}", m.body);
        assert_eq!(m.reply_text, "Thanks, it prints again.\n\nAlice");
        assert!(m.attachments.is_empty() && m.dropped.is_empty(), "{:?}", m.attachments);
        assert_eq!(m.automated, None);
        assert_eq!(should_auto_reply(&m, &OURS), Ok(()));
        assert!(may_reopen(&m, &OURS));
    }

    #[test]
    fn gmail_reply_threads_by_in_reply_to_and_trims_the_wrapped_attribution() {
        let m = parsed(GMAIL);
        within(&m, &Limits::default());
        assert_eq!(m.from.address, "bob.customer@gmail.com");
        assert_eq!(m.in_reply_to, ["ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example"]);
        assert_eq!(
            m.references,
            [
                "CAF=abc123@mail.gmail.com",
                "ticket-42.reply-1.k3j4h5g6f7d8s9a0@desk.example",
                "ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example"
            ]
        );
        assert_eq!(m.thread_ids().next(), Some("ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example"));
        assert_eq!(threading(&m, DOMAIN), Some(Threading::MessageId(42)));
        assert_eq!(m.date, Some(1_709_632_933));
        // The plain part, not the HTML one.
        assert!(m.body.contains("\n> Please restart the spooler."), "{:?}", m.body);
        assert_eq!(m.reply_text, "Still broken, see the photo.");
    }

    #[test]
    fn thunderbird_reply_trims_a_german_attribution() {
        let m = parsed(THUNDERBIRD);
        within(&m, &Limits::default());
        assert_eq!(m.from, Mailbox { address: "carol@customer.example".into(), name: Some("Carol".into()) });
        assert_eq!(threading(&m, DOMAIN), Some(Threading::MessageId(42)));
        assert_eq!(
            m.body,
            "Läuft wieder, danke!\n\nAm 05.03.24 um 10:00 schrieb Help Desk:\n> Please restart the spooler."
        );
        assert_eq!(m.reply_text, "Läuft wieder, danke!");
    }

    #[test]
    fn html_only_outlook_reply_is_converted_and_trimmed_at_its_header_block() {
        let m = parsed(
            "From: alice@customer.example
Subject: RE: [#42] Printer on fire
Content-Type: text/html; charset=utf-8

<html><head><title>x</title><style>div{}</style></head><body>
<p class=MsoNormal>Thanks &amp; regards,<br>Alice</p>
<script>alert(1)</script>
<div id=\"appendonsend\"></div><hr style=\"display:inline-block\">
<div id=\"divRplyFwdMsg\"><font><b>From:</b> Help Desk &lt;help@desk.example&gt;<br><b>Sent:</b> Tuesday, March 5,
2024 10:00<br><b>To:</b> Alice<br><b>Subject:</b> [#42] Printer on fire</font><div>&nbsp;</div></div>
<div>Please <i>restart</i> the spooler.</div></body></html>
",
        );
        assert_eq!(
            m.body,
            "Thanks & regards,\nAlice\nFrom: Help Desk <help@desk.example>\nSent: Tuesday, March 5, 2024 10:00\n\
             To: Alice\nSubject: [#42] Printer on fire\nPlease restart the spooler."
        );
        assert_eq!(m.reply_text, "Thanks & regards,\nAlice");
        assert_eq!(threading(&m, DOMAIN), Some(Threading::Subject(42)));
    }

    #[test]
    fn quoted_replies_are_trimmed_best_effort() {
        let cases = [
            // Newer Outlook: a rule, then the header block.
            (
                "Fixed.\n\n________________________________\nFrom: Help Desk <help@desk.example>\nSent: Tuesday\nTo: x\n\nOld",
                "Fixed.",
            ),
            // Outlook's plain text made from HTML marks the field names bold.
            ("Fixed.\n\n*From:* Help Desk\n*Sent:* Tuesday\n\nOld", "Fixed."),
            ("Fixed.\n\nVon: Help Desk\nGesendet: Dienstag\nAn: x\n\nOld", "Fixed."),
            ("Fixed.\n\nOn 3/5/24 10:00, Help Desk wrote:\n> Old", "Fixed."),
            ("Fixed.\n\nLe mar. 5 mars 2024 à 10:00, Help Desk <help@desk.example> a écrit :\n> Old", "Fixed."),
            ("Fixed.\n\n-------- Original Message --------\nSubject: x", "Fixed."),
            // A trailing quote without an attribution.
            ("Fixed.\n\n> Old\n>\n> older", "Fixed."),
            // A reply written between the quoted lines keeps everything.
            ("> Did it work?\nYes.\n> Really?\nYes.", "> Did it work?\nYes.\n> Really?\nYes."),
            // Nothing before the quote: keep the whole body rather than nothing.
            ("On Tue, Help Desk wrote:\n> Old", "On Tue, Help Desk wrote:\n> Old"),
            // Words that only look like the start of a header block.
            ("From: my desk the printer is gone.\nIt was there.", "From: my desk the printer is gone.\nIt was there."),
            ("On Monday it broke:\nit says error", "On Monday it broke:\nit says error"),
        ];
        for (body, reply) in cases {
            assert_eq!(reply_part(body), reply, "{body:?}");
        }
    }

    #[test]
    fn html_becomes_text() {
        let cases = [
            ("<div>one</div><div>two</div>", "one\ntwo"),
            ("a<br>b<br><br><br>c", "a\nb\n\nc"),
            (
                "<p>x &lt; y &amp;&amp; y &gt; z &#8364;&#x20AC;&euro; &bogus; &amp</p>",
                "x < y && y > z €€€ &bogus; &amp",
            ),
            ("1 < 2 <b>bold</b>", "1 < 2 bold"),
            ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
            ("<!-- <p>hidden</p> -->shown<style>p{}</style><SCRIPT>x()</SCRIPT>", "shown"),
            ("  lots   of\n\n space  ", "lots of space"),
            ("unterminated <b", "unterminated"),
            ("<!-- never closed", ""),
        ];
        for (html, text) in cases {
            assert_eq!(html_to_text(html, 1000).trim_end(), text, "{html:?}");
        }
        // Cut at a character boundary.
        assert_eq!(html_to_text("ääää", 5), "ää");
    }

    #[test]
    fn encoded_subjects_carry_the_token() {
        let subjects = [
            ("=?UTF-8?B?UmU6IFsjNDJdIERydWNrZXIgbMOkdWZ0IG5pY2h0?=", "Re: [#42] Drucker läuft nicht"),
            ("=?iso-8859-1?Q?AW:_=5B#42=5D_Drucker_l=E4uft_nicht?=", "AW: [#42] Drucker läuft nicht"),
            // The token split over two encoded words, which RFC 2047 joins without the space between them.
            ("=?UTF-8?Q?Re:_=5B#4?=\n =?UTF-8?Q?2=5D_Drucker?=", "Re: [#42] Drucker"),
        ];
        for (encoded, decoded) in subjects {
            let m = parsed(&format!("From: carol@customer.example\nSubject: {encoded}\n\nHallo\n"));
            assert_eq!(m.subject, decoded);
            assert_eq!(ticket_token(&m.subject), Some(42), "{decoded}");
            assert_eq!(threading(&m, DOMAIN), Some(Threading::Subject(42)));
        }
    }

    #[test]
    fn a_message_without_message_id_still_works() {
        let m = parsed("From: backup@customer.example\nTo: help@desk.example\nSubject: [#42] nightly report\n\nOK\n");
        assert_eq!(m.message_id, None);
        assert_eq!((m.in_reply_to.len(), m.references.len(), m.date), (0, 0, None));
        assert_eq!(threading(&m, DOMAIN), Some(Threading::Subject(42)));
        assert_eq!(references_for(m.message_id.as_deref(), &m.references), Vec::<String>::new());
        let reply = Outbound { in_reply_to: None, references: vec![], ..answer(&m) };
        let back = parse(&render(&reply).unwrap(), &Limits::default()).unwrap();
        assert_eq!((back.in_reply_to.len(), back.references.len()), (0, 0));
        assert_eq!(our_ticket_in(back.message_id.as_deref(), DOMAIN), Some(42));

        // A new ticket from such a message, and one with an unusable id.
        let m = parsed("From: x@customer.example\nMessage-ID: <has space@x>\nSubject: help\n\nhi\n");
        assert_eq!((m.message_id.as_deref(), threading(&m, DOMAIN)), (None, None));
    }

    #[test]
    fn out_of_office_replies_are_automated() {
        let oof = |headers: &str| {
            parsed(&format!(
                "From: Dave <dave@customer.example>\nTo: help@desk.example\nSubject: Automatic reply: [#42] Printer\n\
                 In-Reply-To: <ticket-42.reply-3.abc@desk.example>\n{headers}\n\nI am out of the office until Monday.\n"
            ))
        };
        let cases = [
            ("Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All", Some(Automation::AutoReplied)),
            // Exchange without Auto-Submitted.
            ("X-Auto-Response-Suppress: All", Some(Automation::SuppressesReplies)),
            ("X-Auto-Response-Suppress: DR, OOF, AutoReply", Some(Automation::SuppressesReplies)),
            ("X-Auto-Response-Suppress: DR, NDR, RN, NRN", None),
            ("Precedence: bulk", Some(Automation::Bulk)),
            ("Precedence: Junk", Some(Automation::Bulk)),
            ("Precedence: list", Some(Automation::List)),
            ("Precedence: first-class", None),
            ("auto-submitted: Auto-Generated", Some(Automation::AutoGenerated)),
            ("Auto-Submitted: auto-notified; owner-email=\"x@y\"", Some(Automation::AutoGenerated)),
            ("Auto-Submitted: no", None),
            ("X-Autoreply: yes", Some(Automation::AutoReplied)),
            ("X-Loop: help@desk.example\nPrecedence: bulk", Some(Automation::Loop)),
        ];
        for (headers, automated) in cases {
            let m = oof(headers);
            assert_eq!(m.automated, automated, "{headers}");
            assert_eq!(should_auto_reply(&m, &OURS), automated.map_or(Ok(()), |a| Err(NoAutoReply::Automated(a))));
            assert_eq!(may_reopen(&m, &OURS), automated.is_none());
            // It still threads: the server records it, it just does not act on it.
            assert_eq!(threading(&m, DOMAIN), Some(Threading::MessageId(42)));
        }
    }

    #[test]
    fn bounces_are_automated() {
        let bounce = "Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.desk.example>
To: help@desk.example
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"
Message-Id: <20240305100001.ABC@mx.desk.example>

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.desk.example
Final-Recipient: rfc822; nobody@customer.example
Action: failed
Status: 5.1.1

--B1
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Help Desk <help@desk.example>
Message-ID: <ticket-42.reply-4.q1w2@desk.example>
Subject: [#42] Printer on fire

--B1--
";
        let m = parsed(bounce);
        within(&m, &Limits::default());
        assert_eq!(m.automated, Some(Automation::Bounce));
        assert_eq!(should_auto_reply(&m, &OURS), Err(NoAutoReply::Automated(Automation::Bounce)));
        assert!(m.body.starts_with("I'm sorry"), "{:?}", m.body);
        let types: Vec<&str> = m.attachments.iter().map(|a| a.content_type.as_str()).collect();
        assert_eq!(types, ["message/delivery-status", "text/rfc822-headers"]);

        // Each sign alone.
        let plain = |headers: &str| parsed(&format!("{headers}\nSubject: x\n\nbody\n")).automated;
        assert_eq!(plain("From: MAILER-DAEMON@mx.customer.example"), Some(Automation::Bounce));
        assert_eq!(plain("Return-Path: <>\nFrom: someone@customer.example"), Some(Automation::Bounce));
        assert_eq!(plain("Return-Path: <a@b.example>\nFrom: someone@customer.example"), None);
        assert_eq!(
            plain("From: x@customer.example\nContent-Type: multipart/report; report-type=disposition-notification"),
            Some(Automation::Bounce)
        );
    }

    #[test]
    fn mail_from_our_own_address_is_not_answered() {
        let m = parsed("From: Help Desk <Help@Desk.Example>\nTo: help@desk.example\nSubject: hello\n\nhi\n");
        assert_eq!(m.from.address, "help@desk.example");
        assert_eq!(m.automated, None);
        assert_eq!(should_auto_reply(&m, &OURS), Err(NoAutoReply::FromUs));
        assert!(!may_reopen(&m, &OURS));
        assert_eq!(should_auto_reply(&m, &["other@desk.example"]), Ok(()));
    }

    /// A message with one attachment of `content` per entry, base64 in lines of 76 as mail clients write it.
    fn with_attachments(contents: &[&[u8]]) -> Vec<u8> {
        use base64::Engine;
        let mut raw = String::from(
            "From: alice@customer.example\nSubject: logs\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
             --b\nContent-Type: text/plain\n\nSee the attached files.\n",
        );
        for (n, content) in contents.iter().enumerate() {
            raw.push_str(&format!(
                "--b\nContent-Type: application/octet-stream; name=\"dump-{n}.bin\"\nContent-Disposition: attachment; \
                 filename=\"../../dump-{n}.bin\"\nContent-Transfer-Encoding: base64\n\n"
            ));
            let encoded = base64::engine::general_purpose::STANDARD.encode(content);
            for line in encoded.as_bytes().chunks(76) {
                raw.push_str(std::str::from_utf8(line).unwrap());
                raw.push('\n');
            }
        }
        raw.push_str("--b--\n");
        crlf(&raw)
    }

    #[test]
    fn a_30_mib_attachment_fits_the_default_limits() {
        let content: Vec<u8> = (0..30u32 << 20).map(|i| (i % 251) as u8).collect();
        let raw = with_attachments(&[&content]);
        assert!(raw.len() > 40 << 20 && raw.len() < MAX_MESSAGE, "{} bytes", raw.len());

        let m = parse(&raw, &Limits::default()).unwrap();
        within(&m, &Limits::default());
        assert_eq!(m.body, "See the attached files.");
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(
            (a.name.as_str(), a.content_type.as_str(), a.size),
            ("dump-0.bin", "application/octet-stream", 30 << 20)
        );
        assert!(a.bytes == content);

        let limits = Limits { max_attachment: (30 << 20) - 1, ..Limits::default() };
        let m = parse(&raw, &limits).unwrap();
        assert!(m.attachments.is_empty());
        assert_eq!(
            m.dropped,
            [Dropped {
                name: "dump-0.bin".into(),
                content_type: "application/octet-stream".into(),
                size: 30 << 20,
                reason: DropReason::TooLarge
            }]
        );
    }

    #[test]
    fn attachment_limits_hold_on_both_sides() {
        let raw = with_attachments(&[&[1; 1000], &[2; 1001], &[3; 10], &[4; 10]]);
        let limits = Limits { max_attachment: 1000, max_attachments: 2, ..Limits::default() };
        let m = parse(&raw, &limits).unwrap();
        within(&m, &limits);
        let kept: Vec<(&str, usize)> = m.attachments.iter().map(|a| (a.name.as_str(), a.size)).collect();
        assert_eq!(kept, [("dump-0.bin", 1000), ("dump-2.bin", 10)]);
        let dropped: Vec<(&str, DropReason)> = m.dropped.iter().map(|d| (d.name.as_str(), d.reason)).collect();
        assert_eq!(dropped, [("dump-1.bin", DropReason::TooLarge), ("dump-3.bin", DropReason::TooMany)]);

        // The list of what was dropped is bounded as well.
        let limits = Limits { max_attachment: 0, max_attachments: 1, ..Limits::default() };
        let m = parse(&raw, &limits).unwrap();
        assert_eq!((m.attachments.len(), m.dropped.len()), (0, 1));
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let limits = Limits { max_message: 100, ..Limits::default() };
        let raw = crlf(&format!("From: a@b.example\nSubject: x\n\n{}", "y".repeat(100)));
        assert_eq!(parse(&raw, &limits), Err(MailError::TooLarge { len: raw.len(), max: 100 }));
        assert!(MailError::TooLarge { len: 101, max: 100 }.to_string().contains("101 bytes"));
    }

    #[test]
    fn bodies_and_id_lists_are_bounded() {
        let refs: Vec<String> = (0..150).map(|n| format!("<r{n}@x.example>")).collect();
        let raw = format!(
            "From: a@b.example\nReferences: {}\nIn-Reply-To: <r149@x.example>\n\n{}\nää\n",
            refs.join("\n "),
            "long line ".repeat(100)
        );
        let limits = Limits { max_body: 1001, max_references: 10, ..Limits::default() };
        let m = parse(&crlf(&raw), &limits).unwrap();
        within(&m, &limits);
        assert!(m.body_truncated && m.body.len() == 999 && m.body.ends_with("long line"), "{}", m.body.len());
        let kept: Vec<&str> = m.references.iter().map(String::as_str).collect();
        assert_eq!(kept.len(), 10);
        assert_eq!((kept[0], kept[1], kept[9]), ("r0@x.example", "r141@x.example", "r149@x.example"));

        let m = parse(&crlf(&raw), &Limits::default()).unwrap();
        assert!(!m.body_truncated && m.body.ends_with("long line \nää"));
    }

    /// Deterministic junk, without a random number generator in the dependencies.
    fn junk(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn malformed_messages_give_an_error_or_a_best_effort_parse() {
        let limits = Limits::default();
        let mut inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\r\n\r\n".to_vec(),
            b"no header here, just text without a colon".to_vec(),
            // Unterminated boundary, a truncated base64 part, a nested message cut short.
            crlf(
                "From: a@b.example\nContent-Type: multipart/mixed; boundary=\"X\"\n\n--X\nContent-Type: text/plain\n\nhello\n\
                  --X\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLj\n--X\n\
                  Content-Type: message/rfc822\n\nFrom: c@d.example\nContent-Type: multipart/alternative; boundary=Y\n\n--Y\n",
            ),
            // Garbage headers: NUL, invalid UTF-8, empty names, a From without an address.
            b"\x00\x01: \xff\xfe\r\nFrom: \r\n::::\r\n: x\r\nSubject: =?UTF-8?B?////?= =?bogus?Q?=ZZ?=\r\n\r\nbody\xff"
                .to_vec(),
            b"From: <>\r\nFrom: \"only a name\"\r\n\r\nx".to_vec(),
            // Headers only, without even a line end.
            b"From: a@b.example\r\nSubject: x".to_vec(),
            // A boundary that is empty, and one that never appears.
            crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=\"\"\n\n--\n\nx\n----\n"),
            crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=nowhere\n\nall text\n"),
        ];
        // Deep nesting.
        let mut nested = String::from("From: a@b.example\n");
        for depth in 0..1000 {
            nested.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{depth}\"\n\n--b{depth}\n"));
        }
        nested.push_str("Content-Type: text/plain\n\ndeep\n");
        inputs.push(crlf(&nested));
        for seed in 0..32 {
            let mut raw = junk(seed, 4096);
            inputs.push(raw.clone());
            // Junk after a plausible head, so the parser gets past the headers.
            raw.splice(0..0, crlf("From: a@b.example\nContent-Type: multipart/mixed; boundary=a\n\n--a\n"));
            inputs.push(raw);
        }
        for raw in &inputs {
            match parse(raw, &limits) {
                Ok(m) => {
                    within(&m, &limits);
                    let _ = ticket_token(&m.subject);
                    let _ = threading(&m, DOMAIN);
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        assert_eq!(parse(b"", &limits), Err(MailError::NoHeaders));
        assert_eq!(parse(b"Subject: hi\r\n\r\nno sender", &limits), Err(MailError::NoSender));
        assert_eq!(parse(b"From: <>\r\nFrom: \"only a name\"\r\n\r\nx", &limits), Err(MailError::NoSender));
        let headers_only = parse(b"From: a@b.example\r\nSubject: x\r\n", &limits).unwrap();
        assert_eq!((headers_only.subject.as_str(), headers_only.body.as_str()), ("x", ""));
    }

    #[test]
    fn ticket_tokens() {
        let cases = [
            ("[#42] Printer", Some(42)),
            ("Re: AW: Fwd: [#42] Printer", Some(42)),
            ("[EXTERNAL] RE: [#42]", Some(42)),
            ("[#x] [#7] [#8]", Some(7)),
            ("[#[#5]", Some(5)),
            ("[#123456789012345678]", Some(123_456_789_012_345_678)),
            ("[#1234567890123456789]", None),
            ("[#] [# 42] [#42 ] [#-1] [#4a] [#42", None),
            ("#42 Printer", None),
            ("", None),
        ];
        for (subject, ticket) in cases {
            assert_eq!(ticket_token(subject), ticket, "{subject}");
        }
    }

    #[test]
    fn our_tickets_in_message_ids() {
        let id = message_id(42, 3, "Desk.Example", "k3j4-h5g6 f7d8/s9a0");
        assert_eq!(id, "ticket-42.reply-3.k3j4h5g6f7d8s9a0@desk.example");
        assert_eq!(our_ticket_in([id.as_str()], DOMAIN), Some(42));
        assert_eq!(our_ticket_in(["<ticket-7.reply-1.x@DESK.EXAMPLE>"], "desk.example"), Some(7));
        let others = [
            "ticket-42.reply-1.x@other.example",
            "ticket-42.reply-1.x@desk.example.evil",
            "ticket-42@desk.example",
            "ticket-.reply-1@desk.example",
            "xticket-42.reply-1@desk.example",
            "ticket-1234567890123456789.x@desk.example",
            "CAF=abc@mail.gmail.com",
            "",
            "@",
        ];
        assert_eq!(our_ticket_in(others, DOMAIN), None);
        // The first of ours wins: In-Reply-To, then References from the nearest parent back.
        let ids = ["CAF=abc@mail.gmail.com", "ticket-9.reply-2.b@desk.example", "ticket-8.reply-1.a@desk.example"];
        assert_eq!(our_ticket_in(ids, DOMAIN), Some(9));
        // Every id `message_id` makes is one we can write into a header.
        assert!(valid_id(&message_id(u64::MAX, u64::MAX, &"d".repeat(300), &"r".repeat(300))));
    }

    #[test]
    fn subjects_for_tickets() {
        let cases = [
            ("Printer on fire", "[#42] Printer on fire"),
            ("Re: AW: [#42] Printer on fire", "[#42] Printer on fire"),
            ("RE : fwd:[#42]Printer", "[#42] Printer"),
            ("[#7] other system", "[#42] [#7] other system"),
            ("Reply needed", "[#42] Reply needed"),
            ("Re:", "[#42]"),
            ("", "[#42]"),
            ("line\r\nbreak\tand\x07bell", "[#42] line break and bell"),
        ];
        for (subject, expected) in cases {
            assert_eq!(ticket_subject(42, subject), expected, "{subject:?}");
            assert_eq!(ticket_token(expected), Some(42));
        }
        assert!(ticket_subject(42, &"ü".repeat(1000)).len() <= MAX_SUBJECT);
    }

    #[test]
    fn references_of_an_answer() {
        let refs = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(references_for(Some("b@x"), &refs(&["a@x"])), ["a@x", "b@x"]);
        assert_eq!(references_for(Some("a@x"), &refs(&["a@x"])), ["a@x"]);
        assert_eq!(references_for(None, &refs(&["a@x"])), ["a@x"]);
        assert_eq!(references_for(Some("bad id"), &refs(&["<a@x>", "a@x"])), ["a@x"]);
        let long: Vec<String> = (0..200).map(|n| format!("r{n}@x")).collect();
        let trimmed = references_for(Some("p@x"), &long);
        assert_eq!(trimmed.len(), MAX_REFERENCES);
        assert_eq!((trimmed[0].as_str(), trimmed[1].as_str()), ("r0@x", "r102@x"));
        assert_eq!(trimmed.last().map(String::as_str), Some("p@x"));
    }

    /// Our public answer to `parent`.
    fn answer(parent: &Inbound) -> Outbound {
        Outbound {
            from: Mailbox { address: "help@desk.example".into(), name: Some("Lifeline Help Desk".into()) },
            to: vec![parent.from.clone()],
            subject: format!("Re: {}", ticket_subject(42, &parent.subject)),
            body_text: "Hello Bob,\n\nplease send the photo again – the first one did not arrive. ✓\n\n-- \nHelp Desk"
                .into(),
            message_id: message_id(42, 3, DOMAIN, "a1b2c3d4e5f6g7h8"),
            in_reply_to: parent.message_id.clone(),
            references: references_for(parent.message_id.as_deref(), &parent.references),
            auto_submitted: false,
            date: 1_709_636_400,
        }
    }

    #[test]
    fn a_rendered_reply_parses_back_and_threads() {
        let parent = parsed(GMAIL);
        let reply = answer(&parent);
        let raw = render(&reply).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Message-ID: <ticket-42.reply-3.a1b2c3d4e5f6g7h8@desk.example>\r\n"), "{text}");
        assert!(text.contains("In-Reply-To: <CAH+xyz789=def@mail.gmail.com>\r\n"), "{text}");
        assert!(text.contains("charset=\"utf-8\"") || text.contains("charset=utf-8"), "{text}");
        assert!(!text.contains("Auto-Submitted"), "{text}");

        let back = parse(&raw, &Limits::default()).unwrap();
        assert_eq!(back.from, reply.from);
        assert_eq!(back.to, ["bob.customer@gmail.com"]);
        assert_eq!(back.subject, "Re: [#42] Printer on fire");
        assert_eq!(back.message_id.as_deref(), Some(reply.message_id.as_str()));
        assert_eq!(back.in_reply_to, ["CAH+xyz789=def@mail.gmail.com"]);
        assert_eq!(back.references, [&parent.references[..], &["CAH+xyz789=def@mail.gmail.com".to_string()]].concat());
        assert_eq!(back.body, reply.body_text);
        assert_eq!(back.date, Some(reply.date));
        assert_eq!(back.automated, None);
        assert_eq!(ticket_token(&back.subject), Some(42));

        // The customer answers with In-Reply-To alone and a subject without the token: it still threads.
        let customer = Outbound {
            from: parent.from.clone(),
            to: vec![reply.from.clone()],
            subject: "thanks".into(),
            body_text: "Here it is.".into(),
            message_id: "CAH+second@mail.gmail.com".into(),
            in_reply_to: back.message_id.clone(),
            references: vec![],
            auto_submitted: false,
            date: 1_709_640_000,
        };
        let again = parse(&render(&customer).unwrap(), &Limits::default()).unwrap();
        assert_eq!(threading(&again, DOMAIN), Some(Threading::MessageId(42)));
        assert_eq!(should_auto_reply(&again, &OURS), Ok(()));
    }

    #[test]
    fn an_acknowledgement_is_marked_automatic() {
        let request = parsed(
            "From: Erin <erin@customer.example>\nMessage-ID: <new@customer.example>\n\
             Subject: =?UTF-8?B?TmV1ZSBBbmZyYWdlOiBCaWxkc2NoaXJtIGZsYWNrZXJ0IOKckw==?=\n\nDer Bildschirm flackert.\n",
        );
        assert_eq!(threading(&request, DOMAIN), None);
        assert_eq!(should_auto_reply(&request, &OURS), Ok(()));
        let ack = Outbound {
            subject: ticket_subject(43, &request.subject),
            body_text: "We have your request.".into(),
            message_id: message_id(43, 0, DOMAIN, "q9w8e7r6t5y4u3i2"),
            auto_submitted: true,
            ..answer(&request)
        };
        let raw = render(&ack).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"), "{text}");
        assert!(text.contains("X-Auto-Response-Suppress: All\r\n"), "{text}");
        let back = parse(&raw, &Limits::default()).unwrap();
        assert_eq!(back.subject, "[#43] Neue Anfrage: Bildschirm flackert ✓");
        assert_eq!(back.automated, Some(Automation::AutoReplied));
        // Were it to come back to us (a customer's forwarding rule), nothing answers it again.
        assert_eq!(
            should_auto_reply(&back, &["someone@else.example"]),
            Err(NoAutoReply::Automated(Automation::AutoReplied))
        );
        assert_eq!(our_ticket_in(back.message_id.as_deref(), DOMAIN), Some(43));
    }

    #[test]
    fn render_refuses_what_would_break_a_header() {
        let parent = parsed(GMAIL);
        let good = answer(&parent);
        let bad_to = Outbound { to: vec![Mailbox { address: "bob\r\nBcc: x@y".into(), name: None }], ..good.clone() };
        assert!(matches!(render(&bad_to), Err(RenderError::Address(_))));
        let no_to = Outbound { to: vec![], ..good.clone() };
        assert_eq!(render(&no_to), Err(RenderError::NoRecipient));
        let bad_id = Outbound { in_reply_to: Some("a>\r\nBcc: x@y".into()), ..good.clone() };
        assert!(matches!(render(&bad_id), Err(RenderError::MessageId(_))));
        let bad_ref = Outbound { references: vec!["ok@x".into(), "not ok@x".into()], ..good.clone() };
        assert!(matches!(render(&bad_ref), Err(RenderError::MessageId(_))));
        // Names and subjects are encoded, never raw: no header can be smuggled in.
        let sneaky = Outbound {
            subject: "x\r\nBcc: victim@y.example".into(),
            from: Mailbox { address: "help@desk.example".into(), name: Some("A\r\nBcc: victim@y.example".into()) },
            ..good
        };
        let raw = render(&sneaky).unwrap();
        let back = parse(&raw, &Limits::default()).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("\nBcc:"));
        assert_eq!(back.subject, "x Bcc: victim@y.example");
    }
}
