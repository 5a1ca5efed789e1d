//! IPP as the agent speaks it to CUPS (RFC 8010 encoding, RFC 8011 semantics, CUPS's own operations), and the HTTP/1.1
//! framing around it: requests built here, answers decoded from untrusted bytes with hard limits. No IO: the agent's
//! `checks::cups` owns the socket and the timeouts, so this decoder can be fuzzed on its own.
//!
//! Only what the printing checks need is interpreted (integers, enums, booleans and the string types); every other
//! value is checked for a well-formed length and then dropped, so a hostile answer can cost at most
//! [`MAX_BODY`] bytes and [`MAX_RECORDS`] attribute records, and never a panic.

/// Largest IPP body accepted: enough for thousands of printers or jobs with the few attributes we ask for.
pub const MAX_BODY: usize = 1 << 20;
/// Largest HTTP head (status line and headers) accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// Most bytes a reader should ever buffer for one answer: a head, and a body with the framing of small chunks.
pub const MAX_HTTP: usize = MAX_HEAD + 2 * MAX_BODY;
/// Most attribute records (names and extra values, collection members included) in one answer.
pub const MAX_RECORDS: usize = 50_000;
/// Longest attribute name: a keyword (RFC 8011 5.1.4).
pub const MAX_NAME: usize = 255;
/// Longest string value: text(MAX) and uri are 1023 octets (RFC 8011 5.1.2, 5.1.6).
pub const MAX_VALUE: usize = 1023;
/// Deepest nesting of collections accepted.
const MAX_DEPTH: usize = 8;

/// The operations the printing checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// RFC 8011 4.2.6.
    GetJobs,
    /// RFC 8011 4.2.12: a stopped printer starts processing jobs again.
    ResumePrinter,
    /// PWG 5100.11 5.1: cancels the listed (or all) not-completed jobs; CUPS keeps them in the job history, where
    /// Purge-Jobs would erase them and their files without a trace.
    CancelJobs,
    /// CUPS's own: every local queue with the attributes asked for.
    CupsGetPrinters,
}

impl Operation {
    fn code(self) -> u16 {
        match self {
            Operation::GetJobs => 0x000a,
            Operation::ResumePrinter => 0x0011,
            Operation::CancelJobs => 0x0038,
            Operation::CupsGetPrinters => 0x4002,
        }
    }
}

/// Group delimiter tags (RFC 8010 3.5.1).
pub mod group {
    pub const OPERATION: u8 = 0x01;
    pub const JOB: u8 = 0x02;
    pub const END: u8 = 0x03;
    pub const PRINTER: u8 = 0x04;
}

/// Value tags (RFC 8010 3.5.2) this module writes or interprets.
mod tag {
    pub const INTEGER: u8 = 0x21;
    pub const BOOLEAN: u8 = 0x22;
    pub const ENUM: u8 = 0x23;
    pub const DATE_TIME: u8 = 0x31;
    pub const RESOLUTION: u8 = 0x32;
    pub const RANGE: u8 = 0x33;
    pub const BEGIN_COLLECTION: u8 = 0x34;
    pub const TEXT_WITH_LANGUAGE: u8 = 0x35;
    pub const NAME_WITH_LANGUAGE: u8 = 0x36;
    pub const END_COLLECTION: u8 = 0x37;
    pub const TEXT: u8 = 0x41;
    pub const NAME: u8 = 0x42;
    pub const KEYWORD: u8 = 0x44;
    pub const URI: u8 = 0x45;
    pub const MEMBER_NAME: u8 = 0x4a;
    pub const CHARSET: u8 = 0x47;
    pub const NATURAL_LANGUAGE: u8 = 0x48;
    pub const EXTENSION: u8 = 0x7f;
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IppError {
    #[error("the answer is not HTTP/1.x: {0}")]
    Http(&'static str),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer ended early")]
    Truncated,
    #[error("malformed IPP at byte {at}: {why}")]
    Malformed { at: usize, why: &'static str },
    #[error("request value for {0:?} is longer than {MAX_VALUE} bytes")]
    ValueTooLong(String),
}

/// An IPP request under construction: version 2.0, then the operation attributes in the order RFC 8011 4.1.4 asks,
/// charset and natural language first.
#[derive(Debug)]
pub struct Request {
    bytes: Vec<u8>,
    /// The first value that did not fit; reported by [`Request::finish`] so building never panics.
    too_long: Option<String>,
}

impl Request {
    pub fn new(operation: Operation, request_id: u32) -> Request {
        let mut bytes = vec![2, 0];
        bytes.extend_from_slice(&operation.code().to_be_bytes());
        bytes.extend_from_slice(&request_id.to_be_bytes());
        bytes.push(group::OPERATION);
        Request { bytes, too_long: None }.value(tag::CHARSET, "attributes-charset", b"utf-8").value(
            tag::NATURAL_LANGUAGE,
            "attributes-natural-language",
            b"en",
        )
    }

    pub fn uri(self, name: &str, value: &str) -> Request {
        self.value(tag::URI, name, value.as_bytes())
    }

    pub fn name(self, name: &str, value: &str) -> Request {
        self.value(tag::NAME, name, value.as_bytes())
    }

    pub fn keyword(self, name: &str, value: &str) -> Request {
        self.value(tag::KEYWORD, name, value.as_bytes())
    }

    /// A `1setOf keyword`: the first value carries the name, the others an empty one (RFC 8010 3.1.5).
    pub fn keywords(self, name: &str, values: &[&str]) -> Request {
        values
            .iter()
            .enumerate()
            .fold(self, |r, (i, v)| r.value(tag::KEYWORD, if i == 0 { name } else { "" }, v.as_bytes()))
    }

    pub fn integer(self, name: &str, value: i32) -> Request {
        self.value(tag::INTEGER, name, &value.to_be_bytes())
    }

    pub fn integers(self, name: &str, values: &[i32]) -> Request {
        values
            .iter()
            .enumerate()
            .fold(self, |r, (i, v)| r.value(tag::INTEGER, if i == 0 { name } else { "" }, &v.to_be_bytes()))
    }

    pub fn finish(mut self) -> Result<Vec<u8>, IppError> {
        if let Some(name) = self.too_long {
            return Err(IppError::ValueTooLong(name));
        }
        self.bytes.push(group::END);
        Ok(self.bytes)
    }

    fn value(mut self, value_tag: u8, name: &str, value: &[u8]) -> Request {
        let (Ok(name_len), Ok(value_len)) = (u16::try_from(name.len()), u16::try_from(value.len())) else {
            self.too_long.get_or_insert_with(|| name.to_owned());
            return self;
        };
        if name.len() > MAX_NAME || value.len() > MAX_VALUE {
            self.too_long.get_or_insert_with(|| name.to_owned());
            return self;
        }
        self.bytes.push(value_tag);
        self.bytes.extend_from_slice(&name_len.to_be_bytes());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(&value_len.to_be_bytes());
        self.bytes.extend_from_slice(value);
        self
    }
}

/// The HTTP/1.1 POST that carries `body` to CUPS on its local socket. `user` goes into CUPS's `PeerCred`
/// authorization, which the scheduler checks against the socket's peer credentials: that is how root (or a member of
/// CUPS's SystemGroup) may run administrative operations without a password.
pub fn http_post(resource: &str, user: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {resource} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\
         Authorization: PeerCred {user}\r\nConnection: close\r\nUser-Agent: lifeline-agent\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// An HTTP answer's status and its whole body.
#[derive(Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Reads an HTTP/1.x answer from the bytes received so far. `Ok(None)` means more bytes are needed; `eof` says the
/// peer closed the stream, which ends a body that has neither a length nor chunks. The body may be sent with
/// `Content-Length` or `Transfer-Encoding: chunked`; either way it is capped at [`MAX_BODY`]. Interim `1xx` answers
/// are skipped.
pub fn http_answer(mut bytes: &[u8], eof: bool) -> Result<Option<HttpAnswer>, IppError> {
    loop {
        let Some(head_len) = find(bytes, b"\r\n\r\n").map(|i| i + 4) else {
            if bytes.len() > MAX_HEAD {
                return Err(IppError::Http("head longer than 8 KiB"));
            }
            return if eof { Err(IppError::Truncated) } else { Ok(None) };
        };
        if head_len > MAX_HEAD {
            return Err(IppError::Http("head longer than 8 KiB"));
        }
        let head = std::str::from_utf8(&bytes[..head_len]).map_err(|_| IppError::Http("head is not text"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = match status_line.split(' ').collect::<Vec<_>>().as_slice() {
            [version, code, ..] if version.starts_with("HTTP/1.") && code.len() == 3 => {
                code.parse::<u16>().map_err(|_| IppError::Http("status code is not a number"))?
            }
            _ => return Err(IppError::Http("no HTTP/1.x status line")),
        };
        let rest = &bytes[head_len..];
        if (100..200).contains(&status) {
            bytes = rest;
            continue;
        }
        let (mut length, mut chunked) = (None, false);
        for line in lines.filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once(':').ok_or(IppError::Http("header line without ':'"))?;
            let value = value.trim();
            if key.eq_ignore_ascii_case("content-length") {
                if !value.bytes().all(|b| b.is_ascii_digit()) || value.is_empty() || value.len() > 12 {
                    return Err(IppError::Http("Content-Length is not a number"));
                }
                let n: usize = value.parse().map_err(|_| IppError::Http("Content-Length is not a number"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(IppError::Http("two different Content-Length headers"));
                }
                length = Some(n);
            } else if key.eq_ignore_ascii_case("transfer-encoding") {
                if !value.eq_ignore_ascii_case("chunked") {
                    return Err(IppError::Http("a transfer encoding other than chunked"));
                }
                chunked = true;
            }
        }
        return match (chunked, length) {
            (true, Some(_)) => Err(IppError::Http("both Content-Length and chunked")),
            (true, None) => Ok(dechunk(rest, eof)?.map(|body| HttpAnswer { status, body })),
            (false, Some(n)) if n > MAX_BODY => Err(IppError::TooLarge(MAX_BODY)),
            (false, Some(n)) => match rest.get(..n) {
                Some(body) => Ok(Some(HttpAnswer { status, body: body.to_vec() })),
                None if eof => Err(IppError::Truncated),
                None => Ok(None),
            },
            (false, None) if rest.len() > MAX_BODY => Err(IppError::TooLarge(MAX_BODY)),
            (false, None) => Ok(eof.then(|| HttpAnswer { status, body: rest.to_vec() })),
        };
    }
}

/// A chunked body (RFC 9112 7.1): hex sizes with optional extensions, each chunk followed by CRLF, ended by a zero
/// chunk and optional trailers.
fn dechunk(mut rest: &[u8], eof: bool) -> Result<Option<Vec<u8>>, IppError> {
    let more = || if eof { Err(IppError::Truncated) } else { Ok(None) };
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return if rest.len() > 64 { Err(IppError::Http("chunk size line too long")) } else { more() };
        };
        let line = std::str::from_utf8(&rest[..line_end]).map_err(|_| IppError::Http("chunk size is not text"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        if size_text.is_empty() || size_text.len() > 8 || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IppError::Http("chunk size is not a hex number"));
        }
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| IppError::Http("chunk size is not a hex number"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers, if any, end with an empty line; nothing in them matters here.
            return match find(rest, b"\r\n\r\n").map(|_| ()).or_else(|| rest.starts_with(b"\r\n").then_some(())) {
                Some(()) => Ok(Some(body)),
                None if rest.len() > MAX_HEAD => Err(IppError::Http("trailers longer than 8 KiB")),
                None => more(),
            };
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(IppError::TooLarge(MAX_BODY));
        }
        let Some(data) = rest.get(..size) else { return more() };
        match rest.get(size..size + 2) {
            Some(b"\r\n") => {}
            Some(_) => return Err(IppError::Http("chunk not followed by CRLF")),
            None => return more(),
        }
        body.extend_from_slice(data);
        rest = &rest[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A decoded IPP answer: only the attributes of interest keep their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub version: (u8, u8),
    /// `0x0000..=0x00ff` are successes (RFC 8011 B.1).
    pub status: u16,
    pub request_id: u32,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub tag: u8,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `integer` and `enum`.
    Integer(i32),
    Boolean(bool),
    /// Every string type; for the `...WithLanguage` ones, the string without its language.
    Text(String),
    /// A well-formed value of a type nothing here reads (dates, ranges, collections, out-of-band values…), by tag.
    Other(u8),
}

impl Response {
    pub fn is_success(&self) -> bool {
        self.status < 0x0100
    }

    /// The groups with this delimiter tag, in order: one per printer or job in a listing.
    pub fn groups(&self, tag: u8) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(move |g| g.tag == tag)
    }

    /// Why CUPS answered as it did, in its own words, if it said.
    pub fn status_message(&self) -> Option<&str> {
        self.groups(group::OPERATION).find_map(|g| g.get("status-message")).and_then(Attribute::text)
    }
}

impl Group {
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

impl Attribute {
    pub fn text(&self) -> Option<&str> {
        self.texts().next()
    }

    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.values.iter().filter_map(|v| match v {
            Value::Text(t) => Some(t.as_str()),
            _ => None,
        })
    }

    pub fn integer(&self) -> Option<i32> {
        self.values.iter().find_map(|v| match v {
            Value::Integer(i) => Some(*i),
            _ => None,
        })
    }

    pub fn boolean(&self) -> Option<bool> {
        self.values.iter().find_map(|v| match v {
            Value::Boolean(b) => Some(*b),
            _ => None,
        })
    }
}

/// Decodes an IPP answer body (RFC 8010 3.1), refusing anything malformed, oversized or trailing.
pub fn decode(body: &[u8]) -> Result<Response, IppError> {
    if body.len() > MAX_BODY {
        return Err(IppError::TooLarge(MAX_BODY));
    }
    let mut r = Reader { bytes: body, at: 0 };
    let version = (r.u8()?, r.u8()?);
    if !(1..=2).contains(&version.0) {
        return Err(r.malformed("not IPP version 1.x or 2.x"));
    }
    let status = r.u16()?;
    let request_id = r.u32()?;
    let mut groups: Vec<Group> = Vec::new();
    let (mut records, mut depth) = (0usize, 0usize);
    loop {
        let value_tag = r.u8()?;
        if value_tag == group::END {
            if depth > 0 {
                return Err(r.malformed("collection not ended"));
            }
            if r.at != body.len() {
                return Err(r.malformed("bytes after the end of the attributes"));
            }
            return Ok(Response { version, status, request_id, groups });
        }
        if value_tag < 0x10 {
            if depth > 0 {
                return Err(r.malformed("group tag inside a collection"));
            }
            groups.push(Group { tag: value_tag, attributes: Vec::new() });
            continue;
        }
        records += 1;
        if records > MAX_RECORDS {
            return Err(r.malformed("too many attributes"));
        }
        let Some(current) = groups.last_mut() else {
            return Err(r.malformed("attribute before any group tag"));
        };
        if value_tag == tag::EXTENSION {
            return Err(r.malformed("extended value tags are not supported"));
        }
        let name_len = usize::from(r.u16()?);
        if name_len > MAX_NAME {
            return Err(r.malformed("attribute name longer than 255 bytes"));
        }
        let name = r.bytes(name_len)?;
        let value_len = usize::from(r.u16()?);
        let value_at = r.at;
        let raw = r.bytes(value_len)?;
        let bad = |why| IppError::Malformed { at: value_at, why };
        // Collections (RFC 8010 3.1.6): members are records with empty names between the begin and end tags. Their
        // values are checked and dropped; the attribute holding the collection keeps a `Value::Other`.
        let inside = depth > 0;
        if inside && name_len != 0 {
            return Err(bad("collection member with a name"));
        }
        if value_tag == tag::END_COLLECTION {
            depth = depth.checked_sub(1).ok_or(bad("end of a collection that did not begin"))?;
            if value_len != 0 {
                return Err(bad("end of a collection with a value"));
            }
            continue;
        }
        let value = value(value_tag, raw).map_err(bad)?;
        if value_tag == tag::BEGIN_COLLECTION {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(bad("collections nested too deep"));
            }
        }
        if inside {
            continue;
        }
        if name_len == 0 {
            let last = current.attributes.last_mut().ok_or(bad("additional value without an attribute"))?;
            last.values.push(value);
        } else {
            let name = std::str::from_utf8(name).map_err(|_| bad("attribute name is not UTF-8"))?;
            current.attributes.push(Attribute { name: name.to_owned(), values: vec![value] });
        }
    }
}

/// One value, checked against its type's length rules.
fn value(value_tag: u8, raw: &[u8]) -> Result<Value, &'static str> {
    let exact =
        |n: usize, v: Value| if raw.len() == n { Ok(v) } else { Err("value has the wrong length for its type") };
    let text = |bytes: &[u8]| match std::str::from_utf8(bytes) {
        _ if bytes.len() > MAX_VALUE => Err("string value longer than 1023 bytes"),
        Ok(s) => Ok(Value::Text(s.to_owned())),
        Err(_) => Err("string value is not UTF-8"),
    };
    match value_tag {
        tag::INTEGER | tag::ENUM => match <[u8; 4]>::try_from(raw) {
            Ok(b) => Ok(Value::Integer(i32::from_be_bytes(b))),
            Err(_) => Err("integer that is not 4 bytes"),
        },
        tag::BOOLEAN => match raw {
            [0] => Ok(Value::Boolean(false)),
            [1] => Ok(Value::Boolean(true)),
            _ => Err("boolean that is not one byte 0 or 1"),
        },
        tag::DATE_TIME => exact(11, Value::Other(value_tag)),
        tag::RESOLUTION => exact(9, Value::Other(value_tag)),
        tag::RANGE => exact(8, Value::Other(value_tag)),
        tag::TEXT_WITH_LANGUAGE | tag::NAME_WITH_LANGUAGE => {
            // A length-prefixed language, then a length-prefixed string, filling the value exactly.
            let split = |b: &[u8]| -> Option<(usize, usize)> {
                let lang = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
                let at = 2 + lang;
                let len = usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
                (at + 2 + len == b.len()).then_some((at + 2, len))
            };
            let (start, len) = split(raw).ok_or("string with language whose lengths do not add up")?;
            text(&raw[start..start + len])
        }
        tag::TEXT..=tag::MEMBER_NAME => text(raw),
        // Out-of-band values, octet strings, collections' own values and types registered after RFC 8010: kept
        // only as their tag.
        0x10..=0x7e if raw.len() <= MAX_VALUE => Ok(Value::Other(value_tag)),
        0x10..=0x7e => Err("value longer than 1023 bytes"),
        _ => Err("value tag out of range"),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], IppError> {
        let out = self.bytes.get(self.at..self.at + n).ok_or(IppError::Truncated)?;
        self.at += n;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, IppError> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, IppError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, IppError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn malformed(&self, why: &'static str) -> IppError {
        IppError::Malformed { at: self.at, why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers captured from CUPS 2.4 (`cupsd` with two queues, `office-1` stopped with three jobs, one of them
    /// alice's titled "Salary review.pdf", and `lab` idle).
    const PRINTERS: &[u8] = include_bytes!("../testdata/ipp/cups-get-printers.http");
    const JOBS: &[u8] = include_bytes!("../testdata/ipp/get-jobs.http");
    const NOT_FOUND: &[u8] = include_bytes!("../testdata/ipp/get-jobs-not-found.http");
    const CANCELLED: &[u8] = include_bytes!("../testdata/ipp/cancel-jobs.http");
    const RESUMED: &[u8] = include_bytes!("../testdata/ipp/resume-printer.http");
    const UNAUTHORIZED: &[u8] = include_bytes!("../testdata/ipp/unauthorized.http");
    const ALL: [&[u8]; 6] = [PRINTERS, JOBS, NOT_FOUND, CANCELLED, RESUMED, UNAUTHORIZED];

    fn answer(bytes: &[u8]) -> HttpAnswer {
        http_answer(bytes, false).unwrap().unwrap()
    }

    fn ipp(bytes: &[u8]) -> Response {
        decode(&answer(bytes).body).unwrap()
    }

    #[test]
    fn requests_encode_to_known_bytes() {
        let get_jobs = Request::new(Operation::GetJobs, 7)
            .uri("printer-uri", "ipp://localhost/")
            .name("requesting-user-name", "root")
            .integer("limit", 500)
            .keyword("which-jobs", "not-completed")
            .keywords("requested-attributes", &["job-id", "job-state"])
            .finish()
            .unwrap();
        let expected = [
            &[2, 0, 0x00, 0x0a, 0, 0, 0, 7, 0x01][..],
            b"\x47\x00\x12attributes-charset\x00\x05utf-8",
            b"\x48\x00\x1battributes-natural-language\x00\x02en",
            b"\x45\x00\x0bprinter-uri\x00\x10ipp://localhost/",
            b"\x42\x00\x14requesting-user-name\x00\x04root",
            b"\x21\x00\x05limit\x00\x04\x00\x00\x01\xf4",
            b"\x44\x00\x0awhich-jobs\x00\x0dnot-completed",
            b"\x44\x00\x14requested-attributes\x00\x06job-id",
            b"\x44\x00\x00\x00\x09job-state",
            b"\x03",
        ]
        .concat();
        assert_eq!(get_jobs, expected);

        let cancel = Request::new(Operation::CancelJobs, 0x0102_0304).integers("job-ids", &[1, -2]).finish().unwrap();
        let tail = b"\x21\x00\x07job-ids\x00\x04\x00\x00\x00\x01\x21\x00\x00\x00\x04\xff\xff\xff\xfe\x03";
        assert_eq!(cancel[..9], [2, 0, 0x00, 0x38, 1, 2, 3, 4, 0x01]);
        assert!(cancel.ends_with(tail), "{cancel:02x?}");
        let printers = Request::new(Operation::CupsGetPrinters, 1).finish().unwrap();
        assert_eq!(printers[2..4], [0x40, 0x02]);
        let resume = Request::new(Operation::ResumePrinter, 1).finish().unwrap();
        assert_eq!(resume[2..4], [0x00, 0x11]);

        let too_long = Request::new(Operation::GetJobs, 1).uri("printer-uri", &"x".repeat(1024)).finish();
        assert_eq!(too_long, Err(IppError::ValueTooLong("printer-uri".into())));
        assert!(Request::new(Operation::GetJobs, 1).name(&"n".repeat(70_000), "v").finish().is_err());
    }

    #[test]
    fn the_http_post_names_the_user_for_peer_credentials() {
        let post = String::from_utf8(http_post("/admin/", "root", b"\x02\x00")).unwrap();
        assert!(post.starts_with("POST /admin/ HTTP/1.1\r\n"), "{post}");
        for header in ["Content-Type: application/ipp\r\n", "Content-Length: 2\r\n", "Authorization: PeerCred root\r\n"]
        {
            assert!(post.contains(header), "{post}");
        }
        assert!(post.ends_with("\r\n\r\n\x02\x00"));
    }

    #[test]
    fn decodes_what_cups_answered() {
        let printers = ipp(PRINTERS);
        assert!(printers.is_success());
        assert_eq!((printers.version, printers.request_id), ((2, 0), 1));
        let found: Vec<(&str, i32, bool, Vec<&str>)> = printers
            .groups(group::PRINTER)
            .map(|g| {
                (
                    g.get("printer-name").and_then(Attribute::text).unwrap(),
                    g.get("printer-state").and_then(Attribute::integer).unwrap(),
                    g.get("printer-is-accepting-jobs").and_then(Attribute::boolean).unwrap(),
                    g.get("printer-state-reasons").unwrap().texts().collect(),
                )
            })
            .collect();
        assert_eq!(found, [("lab", 3, true, vec!["none"]), ("office-1", 5, true, vec!["paused"])]);

        let jobs = ipp(JOBS);
        let found: Vec<(i32, &str, &str)> = jobs
            .groups(group::JOB)
            .map(|g| {
                (
                    g.get("job-id").and_then(Attribute::integer).unwrap(),
                    g.get("job-originating-user-name").and_then(Attribute::text).unwrap(),
                    g.get("job-printer-uri").and_then(Attribute::text).unwrap(),
                )
            })
            .collect();
        let uri = "ipp://localhost/printers/office-1";
        assert_eq!(found, [(1, "root", uri), (2, "root", uri), (3, "alice", uri)]);
        assert!(jobs.groups(group::JOB).all(|g| g.get("job-state").and_then(Attribute::integer) == Some(3)));
        assert!(!JOBS.windows(6).any(|w| w == b"Salary"), "job names are never asked for");

        let missing = ipp(NOT_FOUND);
        assert_eq!(missing.status, 0x0406);
        assert!(!missing.is_success());
        assert_eq!(missing.status_message(), Some("The printer or class does not exist."));

        for done in [CANCELLED, RESUMED] {
            let r = ipp(done);
            assert!(r.is_success() && r.groups.len() == 1, "{r:?}");
        }
        let refused = answer(UNAUTHORIZED);
        assert_eq!(refused.status, 401);
        assert!(refused.body.starts_with(b"<!DOCTYPE HTML"));
    }

    #[test]
    fn a_cut_answer_is_incomplete_until_the_stream_ends() {
        for bytes in ALL {
            for cut in 0..bytes.len() {
                assert_eq!(http_answer(&bytes[..cut], false), Ok(None), "cut at {cut}");
                assert!(http_answer(&bytes[..cut], true).is_err(), "cut at {cut} and closed");
            }
            assert!(http_answer(bytes, true).unwrap().is_some());
        }
        let body = answer(JOBS).body;
        for cut in 0..body.len() {
            assert_eq!(decode(&body[..cut]), Err(IppError::Truncated), "body cut at {cut}");
        }
    }

    /// `answer`'s head and body, with the body sent in chunks of `size` bytes.
    fn chunked(size: usize, extension: &str, trailer: &str) -> Vec<u8> {
        let mut out =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/ipp\r\n\r\n".to_vec();
        for chunk in answer(JOBS).body.chunks(size) {
            out.extend_from_slice(format!("{:x}{extension}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
        out
    }

    #[test]
    fn chunked_answers_give_the_same_body() {
        let body = answer(JOBS).body;
        for (size, extension, trailer) in [(1, "", ""), (7, ";name=value", ""), (4096, "", "X-Trailer: 1\r\n")] {
            let bytes = chunked(size, extension, trailer);
            assert_eq!(http_answer(&bytes, false), Ok(Some(HttpAnswer { status: 200, body: body.clone() })));
            for cut in 0..bytes.len() {
                assert_eq!(http_answer(&bytes[..cut], false), Ok(None), "chunks of {size} cut at {cut}");
            }
        }
    }

    #[test]
    fn malformed_http_is_refused() {
        let ok_head = "HTTP/1.1 200 OK\r\n";
        let big = format!("{:x}\r\n", MAX_BODY + 1);
        let cases: &[(String, IppError)] = &[
            ("SSH-2.0-OpenSSH\r\n\r\n".into(), IppError::Http("no HTTP/1.x status line")),
            ("HTTP/1.1 2000 OK\r\n\r\n".into(), IppError::Http("no HTTP/1.x status line")),
            (
                format!("{ok_head}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
                IppError::Http("two different Content-Length headers"),
            ),
            (format!("{ok_head}Content-Length: -1\r\n\r\n"), IppError::Http("Content-Length is not a number")),
            (format!("{ok_head}Content-Length: {}\r\n\r\n", MAX_BODY + 1), IppError::TooLarge(MAX_BODY)),
            (
                format!("{ok_head}Transfer-Encoding: gzip\r\n\r\n"),
                IppError::Http("a transfer encoding other than chunked"),
            ),
            (
                format!("{ok_head}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
                IppError::Http("both Content-Length and chunked"),
            ),
            (
                format!("{ok_head}Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
                IppError::Http("chunk size is not a hex number"),
            ),
            (
                format!("{ok_head}Transfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"),
                IppError::Http("chunk not followed by CRLF"),
            ),
            (format!("{ok_head}Transfer-Encoding: chunked\r\n\r\n{big}"), IppError::TooLarge(MAX_BODY)),
            (format!("{ok_head}Bad header\r\n\r\n"), IppError::Http("header line without ':'")),
            (format!("{ok_head}X: {}\r\n\r\n", "a".repeat(MAX_HEAD)), IppError::Http("head longer than 8 KiB")),
        ];
        for (text, expected) in cases {
            assert_eq!(http_answer(text.as_bytes(), false).as_ref(), Err(expected), "{text:?}");
        }
        assert_eq!(http_answer(&[b'x'; MAX_HEAD + 1], false), Err(IppError::Http("head longer than 8 KiB")));
        let interim = [b"HTTP/1.1 100 Continue\r\n\r\n".as_slice(), UNAUTHORIZED].concat();
        assert_eq!(answer(&interim).status, 401);
        let until_closed = b"HTTP/1.0 200 OK\r\n\r\nbody";
        assert_eq!(http_answer(until_closed, false), Ok(None));
        assert_eq!(http_answer(until_closed, true), Ok(Some(HttpAnswer { status: 200, body: b"body".to_vec() })));
    }

    fn record(value_tag: u8, name: &str, value: &[u8]) -> Vec<u8> {
        let mut out = vec![value_tag];
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    /// An answer header, a printer group holding `records`, and the end tag.
    fn body(records: &[Vec<u8>]) -> Vec<u8> {
        [&[2, 0, 0, 0, 0, 0, 0, 1, group::PRINTER][..], &records.concat(), &[group::END]].concat()
    }

    #[test]
    fn collections_are_skipped_and_the_attributes_after_them_read() {
        let media_col = [
            record(tag::BEGIN_COLLECTION, "media-col-default", b""),
            record(tag::MEMBER_NAME, "", b"media-size"),
            record(tag::BEGIN_COLLECTION, "", b""),
            record(tag::MEMBER_NAME, "", b"x-dimension"),
            record(tag::INTEGER, "", &21000i32.to_be_bytes()),
            record(tag::END_COLLECTION, "", b""),
            record(tag::END_COLLECTION, "", b""),
            record(tag::BEGIN_COLLECTION, "", b""),
            record(tag::END_COLLECTION, "", b""),
            record(tag::NAME_WITH_LANGUAGE, "printer-name", b"\x00\x02en\x00\x03lab"),
            record(0x13, "printer-state-message", b""),
        ];
        let r = decode(&body(&media_col)).unwrap();
        let attributes = &r.groups[0].attributes;
        assert_eq!(attributes[0].values, [Value::Other(tag::BEGIN_COLLECTION), Value::Other(tag::BEGIN_COLLECTION)]);
        assert_eq!(attributes[1].text(), Some("lab"));
        assert_eq!(attributes[2].values, [Value::Other(0x13)]);
        assert_eq!(attributes.len(), 3);
    }

    #[test]
    fn malformed_ipp_is_refused_with_a_reason() {
        let name = |n: &str| record(tag::NAME, "printer-name", n.as_bytes());
        let malformed = |records: &[Vec<u8>]| match decode(&body(records)) {
            Err(IppError::Malformed { why, .. }) => why,
            other => panic!("{other:?}"),
        };
        let cases: &[(&[Vec<u8>], &str)] = &[
            (&[record(tag::INTEGER, "n", &[0, 1, 2])], "integer that is not 4 bytes"),
            (&[record(tag::BOOLEAN, "b", &[2])], "boolean that is not one byte 0 or 1"),
            (&[record(tag::INTEGER, "", &[0; 4])], "additional value without an attribute"),
            (&[record(tag::NAME, &"n".repeat(256), b"x")], "attribute name longer than 255 bytes"),
            (&[name(&"v".repeat(1024))], "string value longer than 1023 bytes"),
            (&[record(tag::NAME, "printer-name", b"\xff\xfe")], "string value is not UTF-8"),
            (
                &[record(tag::TEXT_WITH_LANGUAGE, "m", b"\x00\x09en\x00\x01x")],
                "string with language whose lengths do not add up",
            ),
            (&[record(tag::END_COLLECTION, "", b"")], "end of a collection that did not begin"),
            (&[record(tag::BEGIN_COLLECTION, "c", b"")], "collection not ended"),
            (&[record(tag::BEGIN_COLLECTION, "c", b""), name("x")], "collection member with a name"),
            (&[record(tag::DATE_TIME, "d", &[0; 10])], "value has the wrong length for its type"),
            (&[record(tag::EXTENSION, "x", &[0; 4])], "extended value tags are not supported"),
            (&[record(0x80, "x", b"")], "value tag out of range"),
            (&[record(0x30, "x", &[0; 1024])], "value longer than 1023 bytes"),
        ];
        for (records, expected) in cases {
            assert_eq!(malformed(records), *expected, "{records:02x?}");
        }
        let nested: Vec<Vec<u8>> = std::iter::once(record(tag::BEGIN_COLLECTION, "c", b""))
            .chain((0..MAX_DEPTH).map(|_| record(tag::BEGIN_COLLECTION, "", b"")))
            .collect();
        assert_eq!(malformed(&nested), "collections nested too deep");
        let many = vec![name("x"); MAX_RECORDS + 1];
        assert_eq!(malformed(&many), "too many attributes");
        assert!(decode(&body(&vec![name("x"); MAX_RECORDS])).is_ok());

        let before_group = [&[2, 0, 0, 0, 0, 0, 0, 1][..], &name("x"), &[group::END]].concat();
        assert!(matches!(
            decode(&before_group),
            Err(IppError::Malformed { why: "attribute before any group tag", .. })
        ));
        let trailing = [body(&[name("x")]), vec![0]].concat();
        assert!(matches!(
            decode(&trailing),
            Err(IppError::Malformed { why: "bytes after the end of the attributes", .. })
        ));
        let http_not_ipp = answer(UNAUTHORIZED).body;
        assert!(matches!(decode(&http_not_ipp), Err(IppError::Malformed { why: "not IPP version 1.x or 2.x", .. })));
        assert_eq!(decode(&vec![0; MAX_BODY + 1]), Err(IppError::TooLarge(MAX_BODY)));
    }
}
