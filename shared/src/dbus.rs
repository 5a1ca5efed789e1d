//! D-Bus as the agent speaks it to systemd (D-Bus Specification, "Message Protocol" and "Authentication Protocol"):
//! the two authentication lines, method calls with string arguments built here, and whatever the bus sends back
//! decoded from untrusted bytes under a hard size limit. No IO: the agent's `checks::dbus` owns the socket and the
//! deadline, so this decoder can be fuzzed on its own.
//!
//! Only what the checks read is interpreted: the message type, the serials, the error name, the body's signature and
//! its first argument when that is a string or an object path (a job path, an error's message). Every other header
//! field is checked for a well-formed value of its type and skipped.

use std::num::NonZeroU32;

/// Largest message accepted. Replies to the checks' calls are well under a kilobyte; the protocol's own limit is
/// 128 MiB, which a reader must never allocate because a peer's header says so.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The fixed start of every message, which is enough to know its whole length ([`message_len`]).
pub const FIXED_HEADER: usize = 16;
/// Longest line accepted from the bus while authenticating.
pub const MAX_AUTH_LINE: usize = 256;
/// Ends authentication: from here on both sides send messages.
pub const BEGIN: &[u8] = b"BEGIN\r\n";

const PROTOCOL_VERSION: u8 = 1;
const METHOD_CALL: u8 = 1;

/// Header field codes, and the one type each must have.
mod field {
    pub const PATH: u8 = 1;
    pub const INTERFACE: u8 = 2;
    pub const MEMBER: u8 = 3;
    pub const ERROR_NAME: u8 = 4;
    pub const REPLY_SERIAL: u8 = 5;
    pub const DESTINATION: u8 = 6;
    pub const SENDER: u8 = 7;
    pub const SIGNATURE: u8 = 8;
    pub const UNIX_FDS: u8 = 9;
    pub const TYPES: [(u8, &str); 9] = [
        (PATH, "o"),
        (INTERFACE, "s"),
        (MEMBER, "s"),
        (ERROR_NAME, "s"),
        (REPLY_SERIAL, "u"),
        (DESTINATION, "s"),
        (SENDER, "s"),
        (SIGNATURE, "g"),
        (UNIX_FDS, "u"),
    ];
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DbusError {
    #[error("a D-Bus message of {0} bytes is larger than the {MAX_MESSAGE} accepted")]
    TooLarge(u64),
    #[error("the D-Bus message ended early")]
    Truncated,
    #[error("malformed D-Bus message at byte {at}: {why}")]
    Malformed { at: usize, why: &'static str },
    #[error("cannot send the call: {0}")]
    Unsendable(&'static str),
    #[error("the bus did not accept the agent's credentials; it answered {0:?}")]
    AuthRefused(String),
}

/// What a client says first: the NUL byte every connection starts with, then EXTERNAL authentication as `uid`, which
/// the bus compares with the socket's peer credentials. The uid is sent as the hex of its decimal digits.
pub fn auth_external(uid: u32) -> Vec<u8> {
    let hex: String = uid.to_string().bytes().map(|b| format!("{b:02x}")).collect();
    format!("\0AUTH EXTERNAL {hex}\r\n").into_bytes()
}

/// The bus's answer to [`auth_external`], one line with its `\r\n`: `OK` and the bus's GUID (32 hex digits) when it
/// accepted; anything else (`REJECTED`, `ERROR`, a line cut short) is quoted in the error.
pub fn auth_accepted(line: &[u8]) -> Result<(), DbusError> {
    match line.strip_suffix(b"\r\n").and_then(|l| l.strip_prefix(b"OK ")) {
        Some(guid) if guid.len() == 32 && guid.iter().all(u8::is_ascii_hexdigit) => Ok(()),
        _ => Err(DbusError::AuthRefused(String::from_utf8_lossy(line).into_owned())),
    }
}

/// A method call with string arguments: all the agent ever sends.
#[derive(Debug, Clone, Copy)]
pub struct MethodCall<'a> {
    pub destination: &'a str,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub args: &'a [&'a str],
}

/// The call as a little-endian message. Names are not checked here: they are the agent's own constants, and a bus
/// closes the connection on an invalid one. Arguments may come from a technician, so a NUL in one, which D-Bus
/// strings cannot hold, is an error rather than a message the bus would refuse.
pub fn method_call(call: &MethodCall<'_>, serial: NonZeroU32) -> Result<Vec<u8>, DbusError> {
    let mut m = vec![b'l', METHOD_CALL, 0, PROTOCOL_VERSION];
    m.extend_from_slice(&[0; 4]); // body length, known at the end
    m.extend_from_slice(&serial.get().to_le_bytes());
    m.extend_from_slice(&[0; 4]); // header fields' length, known after them
    for (code, type_code, value) in [
        (field::PATH, b'o', call.path),
        (field::INTERFACE, b's', call.interface),
        (field::MEMBER, b's', call.member),
        (field::DESTINATION, b's', call.destination),
    ] {
        pad(&mut m, 8);
        m.extend_from_slice(&[code, 1, type_code, 0]);
        put_string(&mut m, value)?;
    }
    if !call.args.is_empty() {
        let signature = "s".repeat(call.args.len());
        let len = u8::try_from(signature.len()).map_err(|_| DbusError::Unsendable("more than 255 arguments"))?;
        pad(&mut m, 8);
        m.extend_from_slice(&[field::SIGNATURE, 1, b'g', 0, len]);
        m.extend_from_slice(signature.as_bytes());
        m.push(0);
    }
    let fields_len = m.len() - FIXED_HEADER;
    pad(&mut m, 8);
    let body_start = m.len();
    for arg in call.args {
        put_string(&mut m, arg)?;
    }
    let body_len = m.len() - body_start;
    if m.len() > MAX_MESSAGE {
        return Err(DbusError::Unsendable("the message is larger than 64 KiB"));
    }
    // Both fit in a u32: the whole message is at most 64 KiB.
    m[4..8].copy_from_slice(&(body_len as u32).to_le_bytes());
    m[12..16].copy_from_slice(&(fields_len as u32).to_le_bytes());
    Ok(m)
}

fn pad(m: &mut Vec<u8>, to: usize) {
    m.resize(m.len().next_multiple_of(to), 0);
}

fn put_string(m: &mut Vec<u8>, s: &str) -> Result<(), DbusError> {
    if s.contains('\0') {
        return Err(DbusError::Unsendable("a string holds a NUL byte"));
    }
    let len = u32::try_from(s.len()).map_err(|_| DbusError::Unsendable("a string is longer than 4 GiB"))?;
    pad(m, 4);
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(s.as_bytes());
    m.push(0);
    Ok(())
}

/// The length of the whole message that starts with `fixed`: the fixed header, the header fields, the padding after
/// them and the body. A reader reads exactly that many bytes, and never more than [`MAX_MESSAGE`].
pub fn message_len(fixed: &[u8; FIXED_HEADER]) -> Result<usize, DbusError> {
    let big = match fixed[0] {
        b'l' => false,
        b'B' => true,
        _ => return Err(DbusError::Malformed { at: 0, why: "the first byte is neither 'l' nor 'B'" }),
    };
    if fixed[3] != PROTOCOL_VERSION {
        return Err(DbusError::Malformed { at: 3, why: "not version 1 of the protocol" });
    }
    let word = |at: usize| {
        let b = [fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]];
        u64::from(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    };
    // At most 2 * 4 GiB: no overflow in u64.
    let total = (FIXED_HEADER as u64 + word(12)).next_multiple_of(8) + word(4);
    match usize::try_from(total) {
        Ok(len) if len <= MAX_MESSAGE => Ok(len),
        _ => Err(DbusError::TooLarge(total)),
    }
}

/// A message's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall,
    MethodReturn,
    Error,
    Signal,
    /// A type newer than this code, which the specification says to ignore.
    Other(u8),
}

/// What the agent reads of an incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub serial: u32,
    /// The call this answers; always there in a method return or an error.
    pub reply_serial: Option<u32>,
    /// Always there in an error.
    pub error_name: Option<String>,
    /// The body's types; empty for an empty body.
    pub signature: String,
    /// The body's first argument when it is a string or an object path.
    pub first_arg: Option<String>,
}

/// Decodes exactly one whole message, as long as [`message_len`] says.
pub fn decode(bytes: &[u8]) -> Result<Message, DbusError> {
    let fixed = bytes.first_chunk::<FIXED_HEADER>().ok_or(DbusError::Truncated)?;
    let len = message_len(fixed)?;
    if bytes.len() < len {
        return Err(DbusError::Truncated);
    }
    if bytes.len() > len {
        return Err(DbusError::Malformed { at: len, why: "bytes after the end of the message" });
    }
    let big = fixed[0] == b'B';
    let kind = match fixed[1] {
        0 => return Err(DbusError::Malformed { at: 1, why: "message type 0 is invalid" }),
        1 => Kind::MethodCall,
        2 => Kind::MethodReturn,
        3 => Kind::Error,
        4 => Kind::Signal,
        other => Kind::Other(other),
    };
    let mut header = Reader { bytes, at: 4, big };
    let body_len = header.u32()?;
    let serial = header.u32()?;
    if serial == 0 {
        return Err(header.malformed("serial 0 is invalid"));
    }
    // Within the message, which `message_len` bounded.
    let fields_end = FIXED_HEADER.saturating_add(header.u32()? as usize);
    let fields_bytes = bytes.get(..fields_end).ok_or(DbusError::Truncated)?;
    let mut fields = Reader { bytes: fields_bytes, at: FIXED_HEADER, big };
    let (mut reply_serial, mut error_name, mut signature) = (None, None, String::new());
    while fields.at < fields_end {
        fields.align(8)?;
        let code = fields.u8()?;
        let type_code = fields.signature()?;
        if let Some((_, wanted)) = field::TYPES.iter().find(|(c, _)| *c == code)
            && type_code != *wanted
        {
            return Err(fields.malformed("a header field has the wrong type"));
        }
        match code {
            0 => return Err(fields.malformed("header field 0 is invalid")),
            field::REPLY_SERIAL => reply_serial = Some(fields.u32()?),
            field::ERROR_NAME => error_name = Some(fields.string()?.to_owned()),
            field::SIGNATURE => signature = fields.signature()?.to_owned(),
            _ => fields.skip(type_code)?,
        }
    }
    let mut body = Reader { bytes, at: fields_end, big };
    body.align(8)?;
    if signature.is_empty() && body_len > 0 {
        return Err(body.malformed("a body without a signature"));
    }
    if matches!(kind, Kind::MethodReturn | Kind::Error) && reply_serial.is_none() {
        return Err(body.malformed("a reply without the serial it answers"));
    }
    if kind == Kind::Error && error_name.is_none() {
        return Err(body.malformed("an error without a name"));
    }
    let first_arg = match signature.as_bytes().first() {
        Some(b's') => Some(body.string()?.to_owned()),
        Some(b'o') => Some(body.object_path()?.to_owned()),
        _ => None,
    };
    Ok(Message { kind, serial, reply_serial, error_name, signature, first_arg })
}

/// Reads values at their alignment, which counts from the message's first byte; never past `bytes`.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    big: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DbusError> {
        let end = self.at.checked_add(n).ok_or(self.malformed("a length overflows"))?;
        let taken = self.bytes.get(self.at..end).ok_or(self.malformed("a value runs past its end"))?;
        self.at = end;
        Ok(taken)
    }

    fn align(&mut self, to: usize) -> Result<(), DbusError> {
        let pad = self.at.next_multiple_of(to) - self.at;
        if self.take(pad)?.iter().any(|&b| b != 0) {
            return Err(self.malformed("padding that is not zero"));
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DbusError> {
        self.take(N)?.try_into().map_err(|_| self.malformed("a value runs past its end"))
    }

    fn u8(&mut self) -> Result<u8, DbusError> {
        Ok(u8::from_ne_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DbusError> {
        self.align(4)?;
        let b = self.array()?;
        Ok(if self.big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// A string or an object path: a 32-bit length, UTF-8 without NUL, then a NUL.
    fn string(&mut self) -> Result<&'a str, DbusError> {
        let len = self.u32()? as usize;
        self.text(len)
    }

    /// An object path is shown to the technician as it is (a job path), so its characters are checked too.
    fn object_path(&mut self) -> Result<&'a str, DbusError> {
        let path = self.string()?;
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/') {
            return Err(self.malformed("an object path with characters other than A-Z, a-z, 0-9, _ and /"));
        }
        Ok(path)
    }

    /// A signature: an 8-bit length, ASCII type codes, then a NUL.
    fn signature(&mut self) -> Result<&'a str, DbusError> {
        let len = usize::from(self.u8()?);
        let text = self.text(len)?;
        if !text.bytes().all(|b| b"ybnqiuxtdsoghva(){}".contains(&b)) {
            return Err(self.malformed("a signature that is not type codes"));
        }
        Ok(text)
    }

    fn text(&mut self, len: usize) -> Result<&'a str, DbusError> {
        let bytes = self.take(len)?;
        if self.u8()? != 0 || bytes.contains(&0) {
            return Err(self.malformed("a string that is not ended by its only NUL"));
        }
        std::str::from_utf8(bytes).map_err(|_| self.malformed("a string that is not UTF-8"))
    }

    /// Skips a header field's value. Every field the specification defines has a basic type; a container in an
    /// unknown field is refused rather than walked.
    fn skip(&mut self, type_code: &str) -> Result<(), DbusError> {
        match type_code.as_bytes() {
            b"y" => self.take(1).map(drop),
            b"n" | b"q" => self.align(2).and_then(|()| self.take(2)).map(drop),
            b"b" | b"i" | b"u" | b"h" => self.u32().map(drop),
            b"x" | b"t" | b"d" => self.align(8).and_then(|()| self.take(8)).map(drop),
            b"s" | b"o" => self.string().map(drop),
            b"g" => self.signature().map(drop),
            _ => Err(self.malformed("a header field that is not of one basic type")),
        }
    }

    fn malformed(&self, why: &'static str) -> DbusError {
        DbusError::Malformed { at: self.at, why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What dbus-daemon 1.14 sent a client that said Hello and then called RestartUnit on a private bus where
    /// nothing provides systemd: the reply naming the client, the NameAcquired signal, and the error.
    const HELLO_REPLY: &[u8] = include_bytes!("../testdata/dbus/hello-reply.bin");
    const NAME_ACQUIRED: &[u8] = include_bytes!("../testdata/dbus/name-acquired.bin");
    const SERVICE_UNKNOWN: &[u8] = include_bytes!("../testdata/dbus/service-unknown.bin");
    /// systemd's answers to RestartUnit as zbus 5.19 marshals them, in both byte orders (a bus passes a message on in
    /// the byte order its sender chose, and libdbus and sd-bus always use the machine's own).
    const JOB_LE: &[u8] = include_bytes!("../testdata/dbus/restart-unit-reply-le.bin");
    const JOB_BE: &[u8] = include_bytes!("../testdata/dbus/restart-unit-reply-be.bin");
    const NO_SUCH_UNIT_BE: &[u8] = include_bytes!("../testdata/dbus/no-such-unit-be.bin");
    const ALL: [&[u8]; 6] = [HELLO_REPLY, NAME_ACQUIRED, SERVICE_UNKNOWN, JOB_LE, JOB_BE, NO_SUCH_UNIT_BE];

    const RESTART: MethodCall<'static> = MethodCall {
        destination: "org.freedesktop.systemd1",
        path: "/org/freedesktop/systemd1",
        interface: "org.freedesktop.systemd1.Manager",
        member: "RestartUnit",
        args: &["cups.service", "replace"],
    };

    fn serial(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn message(kind: Kind, serial: u32, reply_serial: Option<u32>, signature: &str, first_arg: &str) -> Message {
        Message {
            kind,
            serial,
            reply_serial,
            error_name: None,
            signature: signature.into(),
            first_arg: Some(first_arg.into()),
        }
    }

    fn with(bytes: &[u8], changes: &[(usize, u8)]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for &(at, byte) in changes {
            out[at] = byte;
        }
        out
    }

    fn malformed(bytes: &[u8]) -> &'static str {
        match decode(bytes) {
            Err(DbusError::Malformed { why, .. }) => why,
            other => panic!("expected a malformed message, got {other:?}"),
        }
    }

    /// Worked out by hand from the specification, field by field (offsets on the right), and identical to what
    /// zbus 5.19 marshals for the same call with serial 2; a real dbus-daemon accepts the agent's calls built the
    /// same way (`agent/src/checks/dbus.rs`).
    #[test]
    fn a_restart_call_encodes_to_known_bytes() {
        let expected = [
            // 'l', METHOD_CALL, no flags, version 1; body 32 bytes; serial 2; header fields 160 bytes.
            &b"l\x01\x00\x01\x20\x00\x00\x00\x02\x00\x00\x00\xa0\x00\x00\x00"[..],
            // 16: PATH 'o', 25 bytes; padded from 50 to 56.
            b"\x01\x01o\x00\x19\x00\x00\x00/org/freedesktop/systemd1\x00\x00\x00\x00\x00\x00\x00",
            // 56: INTERFACE 's', 32 bytes; padded from 97 to 104.
            b"\x02\x01s\x00\x20\x00\x00\x00org.freedesktop.systemd1.Manager\x00\x00\x00\x00\x00\x00\x00\x00",
            // 104: MEMBER 's', 11 bytes; padded from 124 to 128.
            b"\x03\x01s\x00\x0b\x00\x00\x00RestartUnit\x00\x00\x00\x00\x00",
            // 128: DESTINATION 's', 24 bytes; padded from 161 to 168.
            b"\x06\x01s\x00\x18\x00\x00\x00org.freedesktop.systemd1\x00\x00\x00\x00\x00\x00\x00\x00",
            // 168: SIGNATURE 'g' "ss"; the fields end at 176, already a multiple of 8.
            b"\x08\x01g\x00\x02ss\x00",
            // 176: the body, "cups.service" padded from 193 to 196, then "replace".
            b"\x0c\x00\x00\x00cups.service\x00\x00\x00\x00\x07\x00\x00\x00replace\x00",
        ]
        .concat();
        assert_eq!(method_call(&RESTART, serial(2)).unwrap(), expected);
    }

    #[test]
    fn calls_decode_again_with_and_without_arguments() {
        let restart = method_call(&RESTART, serial(2)).unwrap();
        assert_eq!(message_len(restart.first_chunk().unwrap()), Ok(restart.len()));
        assert_eq!(decode(&restart), Ok(message(Kind::MethodCall, 2, None, "ss", "cups.service")));

        let flush = MethodCall { member: "FlushCaches", args: &[], ..RESTART };
        let flush = method_call(&flush, serial(u32::MAX)).unwrap();
        assert_eq!(flush[4..8], [0; 4], "no body");
        let decoded = decode(&flush).unwrap();
        assert_eq!((decoded.serial, decoded.signature.as_str(), decoded.first_arg), (u32::MAX, "", None));

        let nul = MethodCall { args: &["cups.service\0"], ..RESTART };
        assert_eq!(method_call(&nul, serial(3)), Err(DbusError::Unsendable("a string holds a NUL byte")));
        let huge = "x".repeat(MAX_MESSAGE);
        let huge = MethodCall { args: &[&huge], ..RESTART };
        assert!(matches!(method_call(&huge, serial(3)), Err(DbusError::Unsendable(_))));
    }

    #[test]
    fn decodes_what_a_bus_sent() {
        assert_eq!(decode(HELLO_REPLY), Ok(message(Kind::MethodReturn, 1, Some(1), "s", ":1.0")));
        assert_eq!(decode(NAME_ACQUIRED), Ok(message(Kind::Signal, 2, None, "s", ":1.0")));
        let unknown = decode(SERVICE_UNKNOWN).unwrap();
        assert_eq!((unknown.kind, unknown.reply_serial), (Kind::Error, Some(2)));
        assert_eq!(unknown.error_name.as_deref(), Some("org.freedesktop.DBus.Error.ServiceUnknown"));
        let text = "The name org.freedesktop.systemd1 was not provided by any .service files";
        assert_eq!(unknown.first_arg.as_deref(), Some(text));
        for bytes in ALL {
            assert_eq!(message_len(bytes.first_chunk().unwrap()), Ok(bytes.len()));
        }
    }

    #[test]
    fn decodes_replies_in_both_byte_orders() {
        let job = message(Kind::MethodReturn, 7283, Some(2), "o", "/org/freedesktop/systemd1/job/1234");
        assert_eq!(decode(JOB_LE), Ok(job.clone()));
        assert_eq!(decode(JOB_BE), Ok(job));
        let no_such_unit = decode(NO_SUCH_UNIT_BE).unwrap();
        assert_eq!((no_such_unit.kind, no_such_unit.serial, no_such_unit.reply_serial), (Kind::Error, 7284, Some(2)));
        assert_eq!(no_such_unit.error_name.as_deref(), Some("org.freedesktop.systemd1.NoSuchUnit"));
        assert_eq!(no_such_unit.first_arg.as_deref(), Some("Unit nosuch.service not found."));
    }

    #[test]
    fn a_job_path_with_other_characters_is_refused() {
        // The job path starts at 52: "/org/freedesktop/systemd1/job/1234".
        assert_eq!(
            malformed(&with(JOB_LE, &[(82, 0x1b)])),
            "an object path with characters other than A-Z, a-z, 0-9, _ and /"
        );
        assert_eq!(
            malformed(&with(JOB_BE, &[(52, b'o')])),
            "an object path with characters other than A-Z, a-z, 0-9, _ and /"
        );
    }

    #[test]
    fn a_message_of_a_newer_type_is_read_to_be_skipped() {
        let other = decode(&with(NAME_ACQUIRED, &[(1, 9)])).unwrap();
        assert_eq!(other.kind, Kind::Other(9));
    }

    #[test]
    fn lengths_a_peer_states_are_bounded_before_anything_is_read() {
        let mut fixed = *HELLO_REPLY.first_chunk::<FIXED_HEADER>().unwrap();
        fixed[4..8].copy_from_slice(&(MAX_MESSAGE as u32).to_le_bytes());
        assert_eq!(message_len(&fixed), Err(DbusError::TooLarge(MAX_MESSAGE as u64 + 80)));
        fixed[4..8].copy_from_slice(&[0xff; 4]);
        fixed[12..16].copy_from_slice(&[0xff; 4]);
        assert_eq!(message_len(&fixed), Err(DbusError::TooLarge(2 * u64::from(u32::MAX) + 17)));
        let mut big_endian = *JOB_BE.first_chunk::<FIXED_HEADER>().unwrap();
        big_endian[4..8].copy_from_slice(&[0, 1, 0, 0]);
        assert!(matches!(message_len(&big_endian), Err(DbusError::TooLarge(_))));
        assert_eq!(decode(&with(HELLO_REPLY, &[(6, 1)])), Err(DbusError::TooLarge(89 + 65536)));
    }

    #[test]
    fn truncated_messages_and_trailing_bytes_are_errors() {
        for bytes in ALL {
            for len in 0..bytes.len() {
                assert_eq!(decode(&bytes[..len]), Err(DbusError::Truncated), "{len} of {} bytes", bytes.len());
            }
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert_eq!(malformed(&longer), "bytes after the end of the message");
        }
    }

    /// Offsets in `HELLO_REPLY`: header fields DESTINATION at 16 (its string at 24), REPLY_SERIAL at 32, SIGNATURE at
    /// 40 (its length at 44) and SENDER at 48, ending at 77; the body's string at 80. In `SERVICE_UNKNOWN`,
    /// ERROR_NAME is at 32.
    #[test]
    fn malformed_messages_say_what_is_wrong() {
        let cases: &[(&[(usize, u8)], &str)] = &[
            (&[(0, b'x')], "the first byte is neither 'l' nor 'B'"),
            (&[(3, 2)], "not version 1 of the protocol"),
            (&[(1, 0)], "message type 0 is invalid"),
            (&[(8, 0)], "serial 0 is invalid"),
            (&[(16, 0)], "header field 0 is invalid"),
            (&[(34, b's')], "a header field has the wrong type"),
            (&[(16, 10), (18, b'a')], "a header field that is not of one basic type"),
            (&[(29, 1)], "padding that is not zero"),
            (&[(78, 1)], "padding that is not zero"),
            // The fields' length ends inside the padding after the last field.
            (&[(12, 0x3e)], "a value runs past its end"),
            (&[(20, 0xff)], "a value runs past its end"),
            (&[(32, 10)], "a reply without the serial it answers"),
            (&[(40, 10)], "a body without a signature"),
            (&[(24, 0x80)], "a string that is not UTF-8"),
            (&[(44, 2)], "a string that is not ended by its only NUL"),
            (&[(45, b'!')], "a signature that is not type codes"),
            (&[(46, b'!')], "a string that is not ended by its only NUL"),
            (&[(80, 0xff)], "a value runs past its end"),
            (&[(88, b'!')], "a string that is not ended by its only NUL"),
            (&[(84, 0xff)], "a string that is not UTF-8"),
        ];
        for (changes, why) in cases {
            assert_eq!(malformed(&with(HELLO_REPLY, changes)), *why, "{changes:?}");
        }
        assert_eq!(malformed(&with(SERVICE_UNKNOWN, &[(32, 10)])), "an error without a name");
    }

    #[test]
    fn no_single_byte_change_panics() {
        for bytes in ALL {
            for at in 0..bytes.len() {
                for value in [0, 1, 0x7f, 0xff, bytes[at] ^ 0x80] {
                    let _ = decode(&with(bytes, &[(at, value)]));
                }
            }
        }
    }

    #[test]
    fn authenticates_as_the_uid_in_hex_digits() {
        assert_eq!(auth_external(1000), b"\0AUTH EXTERNAL 31303030\r\n");
        assert_eq!(auth_external(0), b"\0AUTH EXTERNAL 30\r\n");
        assert_eq!(auth_accepted(b"OK 2ebb509d8debaf84ea6c60c86b0c6cb9\r\n"), Ok(()));
        for refused in [
            &b"REJECTED EXTERNAL\r\n"[..],
            b"ERROR \"Unknown command\"\r\n",
            b"OK 2ebb509d8debaf84ea6c60c86b0c6cb9",
            b"OK not-a-guid\r\n",
            b"",
        ] {
            let err = auth_accepted(refused).unwrap_err();
            assert_eq!(err, DbusError::AuthRefused(String::from_utf8_lossy(refused).into_owned()));
        }
        let shown = auth_accepted(b"REJECTED EXTERNAL\r\n").unwrap_err().to_string();
        assert_eq!(shown, r#"the bus did not accept the agent's credentials; it answered "REJECTED EXTERNAL\r\n""#);
    }
}
