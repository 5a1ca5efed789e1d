//! What each fuzz target does with its input, kept out of `fuzz_targets/` so that `cargo test` can replay every seed
//! and every saved crash on stable Rust, without libFuzzer or sanitizers (see `tests/replay.rs`).
//!
//! Every function here takes arbitrary bytes and may panic only when it has found a bug: a decoder panicking, or a
//! property below failing. Decoding errors are the expected outcome for most inputs and are ignored.

use std::fmt::Debug;
use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lifeline_shared::catalog::{Check, RecordType};
use lifeline_shared::codec::{self, CodecError, MAX_FRAME_LEN, PREFIX_LEN};
use lifeline_shared::dbus::{self, Kind, MethodCall};
use lifeline_shared::ipp;
use lifeline_shared::journal::{self, Filter, Limits, Scan};
use lifeline_shared::mail::{self, Mailbox, Outbound};
use lifeline_shared::token::EnrollToken;
use lifeline_shared::wire::{
    AgentControl, EnrollRequest, EnrollResponse, Goodbye, LiveSample, LocalEvent, LocalRequest, LocalResponse, Request,
    Response, ServerControl,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod seeds;

/// A target's harness: arbitrary bytes in, a panic only on a bug.
pub type Harness = fn(&[u8]);

/// The targets, by the name of their binary and of their seed directory.
pub const TARGETS: &[(&str, Harness)] = &[
    ("frame", frame),
    ("messages", messages),
    ("enroll", enroll),
    ("token", token),
    ("server_control", server_control),
    ("ipp", ipp),
    ("journal", journal_file),
    ("dbus", dbus_message),
    ("mail", mail_message),
];

/// A type that crosses a trust boundary through [`codec`].
pub trait Message: Serialize + DeserializeOwned + PartialEq + Debug {}
impl<T: Serialize + DeserializeOwned + PartialEq + Debug> Message for T {}

/// `frame`: the length-prefixed stream format, for every message type.
///
/// The input is read as a byte stream carrying frames of one type, once per type: the first frame is what a reader
/// sees first, and the loop goes on frame after frame as `lifeline_net::frame::read` and the agent's spool do, until
/// the buffer runs out (incomplete) or a frame is refused (the stream would be closed).
pub fn frame(data: &[u8]) {
    stream::<Request>(data);
    stream::<Response>(data);
    stream::<AgentControl>(data);
    stream::<ServerControl>(data);
    stream::<EnrollRequest>(data);
    stream::<EnrollResponse>(data);
    stream::<LocalRequest>(data);
    stream::<LocalResponse>(data);
    stream::<LiveSample>(data);
}

/// `messages`: one frame body (no length prefix), decoded as each message type in turn (a server's goodbye arrives
/// as a close reason, not on a stream, but through the same codec).
pub fn messages(data: &[u8]) {
    body::<Request>(data);
    body::<Response>(data);
    body::<AgentControl>(data);
    body::<ServerControl>(data);
    body::<EnrollRequest>(data);
    body::<EnrollResponse>(data);
    body::<LocalRequest>(data);
    body::<LocalResponse>(data);
    body::<LiveSample>(data);
    body::<LocalEvent>(data);
    body::<Goodbye>(data);
}

/// `enroll`: the one message the server reads from a peer that has no certificate yet, as a body and as a stream.
pub fn enroll(data: &[u8]) {
    body::<EnrollRequest>(data);
    stream::<EnrollRequest>(data);
}

/// `token`: enrollment token text, as pasted by an admin (lossily converted to UTF-8), and the same bytes as the
/// decoded body of an otherwise well-formed token, so the fuzzer reaches the three-part parser without having to
/// produce valid base64url first.
pub fn token(data: &[u8]) {
    token_text(&String::from_utf8_lossy(data));
    token_text(&format!("ll1.{}", URL_SAFE_NO_PAD.encode(data)));
}

/// `server_control`: what an agent reads from the server, then the check it is asked to run, validated as the agent
/// validates it before running anything.
pub fn server_control(data: &[u8]) {
    if let Some(ServerControl::RunCheck(req)) = body::<ServerControl>(data) {
        check(&req.check);
    }
}

/// `ipp`: what the agent reads from CUPS's socket, as an HTTP answer (before and at the end of the stream) and its
/// body as IPP, and the same bytes as an IPP body on their own, so the fuzzer reaches the attribute decoder without
/// having to produce an HTTP head first.
pub fn ipp(data: &[u8]) {
    let at_end = ipp::http_answer(data, true);
    if let Ok(Some(answer)) = ipp::http_answer(data, false) {
        assert_eq!(at_end.as_ref(), Ok(&Some(answer)), "a complete answer changed when the stream ended");
    }
    if let Ok(Some(answer)) = &at_end {
        assert!(answer.body.len() <= ipp::MAX_BODY, "a body of {} bytes passed the cap", answer.body.len());
        ipp_body(&answer.body);
    }
    ipp_body(data);
}

/// `journal`: a journal file as the agent reads it from disk: the header, then every entry in a window starting
/// halfway through the file's time span, within a byte budget. A scan ends (with an error or not) inside that budget,
/// keeps no more matches than it may, newest first, and hands back messages without control characters.
pub fn journal_file(data: &[u8]) {
    let Ok(header) = journal::header(&mut &data[..]) else {
        return;
    };
    let units = ["cups.service", "UNIT"];
    let limits = Limits { max_bytes: 1 << 20, keep: 4, max_message: 64 };
    let since_us = header.head_realtime_us / 2 + header.tail_realtime_us / 2;
    let filter = Filter { units: &units, since_us, until_us: u64::MAX, max_priority: 7 };
    let mut scan = Scan::default();
    let _ = journal::scan(&mut &data[..], &header, &filter, &limits, &mut scan);
    assert!(scan.bytes_read <= limits.max_bytes, "read {} bytes past the budget", scan.bytes_read);
    let matched = scan.matched;
    let newest = scan.newest(&limits);
    assert!(newest.len() <= limits.keep && newest.len() as u64 <= matched, "kept {} of {matched}", newest.len());
    assert!(newest.windows(2).all(|w| w[0].realtime_us >= w[1].realtime_us), "not newest first");
    for found in newest {
        assert!(found.priority <= 7 && found.realtime_us >= since_us, "{found:?}");
        if let journal::Message::Text { text, .. } = &found.message {
            assert!(!text.chars().any(char::is_control), "a control character in {text:?}");
        }
    }
}

/// `dbus`: what the agent reads from the system bus. The length the first 16 bytes announce, and the input decoded as
/// one message, whole and cut at that length as the agent reads it; the same bytes as the bus's answer to
/// authentication. Then the input's text as the arguments of a call, which must decode again as what was sent.
pub fn dbus_message(data: &[u8]) {
    let announced = data.first_chunk().map(dbus::message_len);
    if let Ok(message) = dbus::decode(data) {
        assert_eq!(announced, Some(Ok(data.len())), "decoded a message whose header announces another length");
        assert!(data.len() <= dbus::MAX_MESSAGE, "decoded {} bytes, past the cap", data.len());
        match message.kind {
            Kind::MethodReturn => assert!(message.reply_serial.is_some(), "{message:?}"),
            Kind::Error => assert!(message.reply_serial.is_some() && message.error_name.is_some(), "{message:?}"),
            _ => {}
        }
        let text_first = matches!(message.signature.as_bytes().first(), Some(b's' | b'o'));
        assert_eq!(message.first_arg.is_some(), text_first, "{message:?}");
    }
    if let Some(Ok(len)) = announced {
        assert!(len <= dbus::MAX_MESSAGE, "announced {len} bytes, past the cap");
        if let Some(message) = data.get(..len) {
            let _ = dbus::decode(message);
        }
    }
    let _ = dbus::auth_accepted(data);

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<&str> = text.split('\n').take(8).collect();
    let call = MethodCall {
        destination: "org.freedesktop.systemd1",
        path: "/org/freedesktop/systemd1",
        interface: "org.freedesktop.systemd1.Manager",
        member: "RestartUnit",
        args: &args,
    };
    let serial = NonZeroU32::MIN.saturating_add(data.len() as u32);
    match dbus::method_call(&call, serial) {
        Ok(bytes) => match dbus::decode(&bytes) {
            Ok(m) => {
                assert_eq!((m.kind, m.serial), (Kind::MethodCall, serial.get()), "{m:?}");
                assert_eq!(m.signature, "s".repeat(args.len()));
                assert_eq!(m.first_arg.as_deref(), args.first().copied());
            }
            Err(e) => panic!("a call with {args:?} does not decode again: {e}"),
        },
        Err(e) => assert!(text.contains('\0') || bytes_needed(&args) > dbus::MAX_MESSAGE, "{args:?}: {e}"),
    }
}

/// `mail`: a raw e-mail as the help desk receives it, parsed with small limits (so truncation and dropping are
/// reached) and with the defaults. What comes out stays inside the limits, and threading and the loop rules take it
/// without panicking. Then the help desk's answer to it: everything `parse` kept must render, and the answer must
/// parse back with its ids, its subject, its body and its ticket.
pub fn mail_message(data: &[u8]) {
    let small = mail::Limits {
        max_message: 1 << 20,
        max_body: 1024,
        max_attachment: 256,
        max_attachments: 2,
        max_references: 4,
    };
    for limits in [small, mail::Limits::default()] {
        let Ok(inbound) = mail::parse(data, &limits) else {
            continue;
        };
        assert!(inbound.body.len() <= limits.max_body, "a body of {} bytes passed the cap", inbound.body.len());
        assert!(inbound.reply_text.len() <= inbound.body.len(), "the reply text is longer than the body");
        assert!(inbound.subject.len() <= mail::MAX_SUBJECT, "a subject of {} bytes", inbound.subject.len());
        assert!(!inbound.subject.chars().any(char::is_control), "a control character in {:?}", inbound.subject);
        assert!(
            inbound.in_reply_to.len() <= limits.max_references && inbound.references.len() <= limits.max_references
        );
        assert!(inbound.to.len() <= mail::MAX_RECIPIENTS && inbound.cc.len() <= mail::MAX_RECIPIENTS);
        assert!(inbound.attachments.len() <= limits.max_attachments && inbound.dropped.len() <= limits.max_attachments);
        for a in &inbound.attachments {
            assert!(a.size == a.bytes.len() && a.size <= limits.max_attachment, "{} of {} bytes", a.name, a.size);
            assert!(!a.name.is_empty() && !a.name.contains(['/', '\\']), "attachment name {:?}", a.name);
        }
        let _ = mail::ticket_token(&inbound.subject);
        let _ = mail::threading(&inbound, "desk.example");
        let _ = mail::should_auto_reply(&inbound, &["help@desk.example"]);
        answer(&inbound);
    }
}

/// The help desk's answer to `inbound`, rendered and parsed back.
fn answer(inbound: &mail::Inbound) {
    let reply = Outbound {
        from: Mailbox { address: "help@desk.example".into(), name: Some("Help Desk".into()) },
        to: vec![inbound.from.clone()],
        subject: format!("Re: {}", mail::ticket_subject(42, &inbound.subject)),
        body_text: inbound.reply_text.clone(),
        message_id: mail::message_id(42, 1, "desk.example", "fuzz0123456789ab"),
        in_reply_to: inbound.message_id.clone(),
        references: mail::references_for(inbound.message_id.as_deref(), &inbound.references),
        auto_submitted: inbound.automated.is_none(),
        date: 1_700_000_000,
    };
    let raw = match mail::render(&reply) {
        Ok(raw) => raw,
        Err(e) => panic!("parse kept what render refuses: {e}"),
    };
    let back = match mail::parse(&raw, &mail::Limits::default()) {
        Ok(back) => back,
        Err(e) => panic!("our own answer does not parse: {e}"),
    };
    assert_eq!(back.from.address, reply.from.address);
    assert_eq!(back.to, std::slice::from_ref(&inbound.from.address));
    assert_eq!(back.message_id.as_ref(), Some(&reply.message_id));
    assert_eq!(back.in_reply_to, reply.in_reply_to.iter().cloned().collect::<Vec<_>>());
    assert_eq!(back.references, reply.references);
    // mail-builder writes an ASCII subject as it is, so text that reads as an RFC 2047 encoded word comes back
    // decoded; only the token is sure to survive that. `Re: ` may push a subject past the length `parse` keeps.
    if !reply.subject.contains("=?") {
        assert!(reply.subject.starts_with(&back.subject), "{:?} came back as {:?}", reply.subject, back.subject);
        assert!(back.subject == reply.subject || back.subject.len() > mail::MAX_SUBJECT - 4, "{:?}", back.subject);
    }
    assert_eq!(back.body, reply.body_text);
    assert_eq!(back.date, Some(reply.date));
    assert_eq!(back.automated, reply.auto_submitted.then_some(mail::Automation::AutoReplied));
    // The answer's References may name other tickets' ids from the input, so its own ticket is checked through the
    // subject and its Message-ID.
    assert_eq!(mail::ticket_token(&back.subject), Some(42));
    assert_eq!(mail::our_ticket_in(back.message_id.as_deref(), "desk.example"), Some(42));
}

/// An upper bound on the size of a call with these arguments: its header is under 256 bytes.
fn bytes_needed(args: &[&str]) -> usize {
    256 + args.iter().map(|a| a.len() + 8).sum::<usize>()
}

/// A decoded IPP body holds no more than the decoder's limits allow.
fn ipp_body(data: &[u8]) {
    let Ok(response) = ipp::decode(data) else {
        return;
    };
    let attributes = response.groups.iter().flat_map(|g| &g.attributes);
    let values: usize = attributes.clone().map(|a| a.values.len()).sum();
    assert!(values <= ipp::MAX_RECORDS, "{values} values passed the cap of {}", ipp::MAX_RECORDS);
    for a in attributes {
        assert!(!a.name.is_empty() && a.name.len() <= ipp::MAX_NAME, "attribute name {:?}", a.name);
        assert!(a.texts().all(|t| t.len() <= ipp::MAX_VALUE), "{}: a value passed the cap", a.name);
    }
}

/// Decodes consecutive frames of type `T` from `data` until it runs out or a frame is refused.
fn stream<T: Message>(data: &[u8]) {
    let mut rest = data;
    loop {
        let got = codec::decode_frame::<T>(rest);
        // The same frame read in two steps, as `lifeline_net::frame::read` does: the prefix alone first, then exactly
        // that many body bytes. Both readers must agree on where the frame ends and whether it is valid.
        let prefix = rest.first_chunk::<PREFIX_LEN>().map(|p| codec::body_len(*p));
        match (&got, prefix) {
            (Ok(None), None) => return,
            (Ok(None), Some(Ok(len))) => {
                assert!(rest.len() < PREFIX_LEN + len, "complete frame of {len} bytes reported as incomplete");
                return;
            }
            (Err(CodecError::TooLarge { len, max }), Some(Err(CodecError::TooLarge { .. }))) => {
                assert!(*len > *max && *max == MAX_FRAME_LEN, "bad TooLarge: {len} > {max}");
                return;
            }
            (Err(CodecError::Malformed(_) | CodecError::Trailing(_)), Some(Ok(len))) => {
                let body = &rest[PREFIX_LEN..PREFIX_LEN + len];
                assert!(codec::decode_body::<T>(body).is_err(), "decode_frame refused a body decode_body accepts");
                return;
            }
            (Ok(Some((msg, used))), Some(Ok(len))) => {
                assert_eq!(*used, PREFIX_LEN + len, "frame length disagrees with its prefix");
                assert!(*used <= rest.len(), "consumed {used} of {} bytes", rest.len());
                let body = &rest[PREFIX_LEN..*used];
                assert!(codec::decode_body::<T>(body).is_ok(), "decode_body refused a body decode_frame accepts");
                // Every strict prefix of a whole frame is incomplete, never invalid: check the longest one.
                assert!(
                    matches!(codec::decode_frame::<T>(&rest[..used - 1]), Ok(None)),
                    "a frame cut one byte short was not reported as incomplete"
                );
                round_trip(msg, body.len());
                rest = &rest[*used..];
            }
            (got, prefix) => panic!("decode_frame gave {got:?} for a prefix that reads as {prefix:?}"),
        }
    }
}

/// Decodes `data` as one body of type `T`; on success checks the round trip and returns the message.
fn body<T: Message>(data: &[u8]) -> Option<T> {
    let msg = codec::decode_body::<T>(data).ok()?;
    round_trip(&msg, data.len());
    Some(msg)
}

/// A decoded message must encode again, to no more bytes than it was read from (so a message the server accepted can
/// always be stored or forwarded), and decoding that encoding must give back the same message and the same bytes.
fn round_trip<T: Message>(msg: &T, decoded_from: usize) {
    let bytes = match codec::encode(msg) {
        Ok(bytes) => bytes,
        Err(e) => panic!("decoded {msg:?} but cannot encode it again: {e}"),
    };
    assert!(
        bytes.len() - PREFIX_LEN <= decoded_from,
        "re-encoding grew {decoded_from} bytes to {}",
        bytes.len() - PREFIX_LEN
    );
    let back = match codec::decode_frame::<T>(&bytes) {
        Ok(Some((back, used))) if used == bytes.len() => back,
        other => panic!("{msg:?} encoded to {bytes:02x?}, which decodes as {other:?}"),
    };
    // A float NaN is not equal to itself, so values are compared only when the original equals itself; the bytes are
    // always compared, which is what matters on the wire.
    if is_reflexive(msg) {
        assert_eq!(&back, msg, "round trip changed the message");
    }
    assert_eq!(codec::encode(&back).ok(), Some(bytes), "round trip changed the encoding of {msg:?}");
}

fn is_reflexive<T: PartialEq>(value: &T) -> bool {
    value.eq(value)
}

fn token_text(text: &str) {
    let Ok(token) = EnrollToken::parse(text) else {
        return;
    };
    assert!(!token.server.is_empty() && token.secret.len() >= 16, "accepted {token:?}");
    let encoded = token.encode();
    assert_eq!(EnrollToken::parse(&encoded).as_ref(), Ok(&token), "token did not survive encode and parse");
}

/// What an agent does with a check it received: describe it for the history, validate it before running it. Also
/// holds validation to agree with the server's own parser: a check passes `validate` exactly when its parameters,
/// written out as a technician would type them, pass `Check::parse` and give back the same check.
fn check(check: &Check) {
    let valid = check.validate();
    let description = check.describe();
    assert!(description.starts_with(check.definition().name), "{check:?} described as {description:?}");
    let Some(params) = params_of(check) else {
        return;
    };
    let parsed = Check::parse(check.definition().name, &params);
    match (&valid, &parsed) {
        (Ok(()), Ok(parsed)) => assert_eq!(parsed, check, "parse({params:?}) gave another check"),
        (Err(_), Err(_)) => {}
        _ => panic!("{check:?}: validate says {valid:?} but parse({params:?}) says {parsed:?}"),
    }
}

/// The `key=value` parameters a technician would type for `check`; `None` for a check this harness does not know yet.
fn params_of(check: &Check) -> Option<Vec<(String, String)>> {
    let p = |k: &str, v: String| (k.to_owned(), v);
    // New checks and record types are appended to the catalog; until listed here they skip this property.
    #[allow(unreachable_patterns)]
    let params = match check {
        Check::SystemSummary | Check::NetworkInterfaces | Check::ListeningPorts | Check::PrinterQueue => vec![],
        Check::TopProcesses { count } => vec![p("count", count.to_string())],
        Check::DiskUsage { path } => vec![p("path", path.clone())],
        Check::DnsResolve { name, record } => {
            let record = match record {
                RecordType::A => "a",
                RecordType::Aaaa => "aaaa",
                _ => return None,
            };
            vec![p("name", name.clone()), p("record", record.to_owned())]
        }
        Check::TcpConnect { host, port } => vec![p("host", host.clone()), p("port", port.to_string())],
        Check::ServiceStatus { unit } => vec![p("unit", unit.clone())],
        Check::ProcessList { command_lines } => {
            vec![p("command-lines", if *command_lines { "yes" } else { "no" }.to_owned())]
        }
        Check::ClearPrintQueue { printer } => vec![p("printer", printer.clone())],
        Check::JournalErrors { unit, hours } => vec![p("unit", unit.clone()), p("hours", hours.to_string())],
        _ => return None,
    };
    Some(params)
}
