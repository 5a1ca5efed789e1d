//! A bounded reader of systemd's journal files (<https://systemd.io/JOURNAL_FILE_FORMAT/>), just enough for the
//! `journal-errors` check: walk the entries of one file in a time window and keep one unit's messages at a priority.
//!
//! journald writes these files, but a crash, a full disk or a damaged disk can leave anything in them, so every
//! offset and size is checked against the format and the file before it is used, and the caller caps the bytes read
//! in [`Limits`]. No IO here: the caller hands in a [`Source`] (the agent's reads a file; tests and the fuzzer hand in
//! bytes).
//!
//! Compressed fields (XZ, LZ4, ZSTD) are counted, never decompressed: journald compresses only values above a
//! threshold (512 bytes by default), so unit names and priorities are never compressed, and a long message is shown
//! as "[compressed]" rather than pulling three decompressors into the agent. Entries are found by walking the
//! file's entry arrays, never through the hash tables, so keyed hashing does not matter.

use std::io;

/// The first eight bytes of every journal file.
pub const SIGNATURE: &[u8; 8] = b"LPKSHHRH";

const INCOMPATIBLE_COMPRESSED_XZ: u32 = 1;
const INCOMPATIBLE_COMPRESSED_LZ4: u32 = 2;
const INCOMPATIBLE_KEYED_HASH: u32 = 4;
const INCOMPATIBLE_COMPRESSED_ZSTD: u32 = 8;
/// 32-bit offsets in entry items and entry arrays, and a longer data object header.
const INCOMPATIBLE_COMPACT: u32 = 16;
const INCOMPATIBLE_KNOWN: u32 = INCOMPATIBLE_COMPRESSED_XZ
    | INCOMPATIBLE_COMPRESSED_LZ4
    | INCOMPATIBLE_KEYED_HASH
    | INCOMPATIBLE_COMPRESSED_ZSTD
    | INCOMPATIBLE_COMPACT;

const OBJECT_DATA: u8 = 1;
const OBJECT_ENTRY: u8 = 3;
const OBJECT_ENTRY_ARRAY: u8 = 6;
/// Object flags: the payload is compressed with XZ, LZ4 or ZSTD.
const OBJECT_COMPRESSED: u8 = 1 | 2 | 4;

/// Type, flags, reserved bytes and size.
const OBJECT_HEADER: u64 = 16;
/// Object header, seqnum, realtime, monotonic, boot id and xor hash; the items follow.
const ENTRY_HEADER: u64 = 64;
/// Object header and the next array's offset; the items follow.
const ARRAY_HEADER: u64 = 24;
/// Object header, hash, three offsets and the entry count; the payload follows.
const DATA_HEADER: u64 = 64;
/// Compact files add the tail entry array's offset and count (two 32-bit values).
const DATA_HEADER_COMPACT: u64 = 72;
/// The header fields this reader uses end with `tail_entry_monotonic`; every header systemd ever wrote is longer.
const MIN_HEADER: u64 = 208;

/// More fields than journald ever writes in one entry (`ENTRY_FIELD_COUNT_MAX` is 1024).
pub const MAX_FIELDS: u64 = 2048;
/// Entry array items read at once.
const ITEMS_PER_READ: u64 = 1024;

/// Random access to a journal file's bytes.
pub trait Source {
    /// The file's length in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` with the bytes at `offset`. Only called for ranges inside [`Source::size`].
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl Source for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let from = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let bytes = from
            .checked_add(buf.len())
            .and_then(|to| self.get(from..to))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("not a journal file")]
    NotAJournal,
    #[error("written with features this reader does not know (incompatible flags {0:#x})")]
    Unsupported(u32),
    #[error("damaged: {what} at offset {offset}")]
    Damaged { what: &'static str, offset: u64 },
    #[error("stopped at the limit of {0} bytes read")]
    ReadLimit(u64),
    #[error("reading failed: {0}")]
    Read(#[from] io::Error),
}

fn damaged(what: &'static str, offset: u64) -> JournalError {
    JournalError::Damaged { what, offset }
}

/// What a file's header says, as far as this reader needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub compact: bool,
    pub incompatible_flags: u32,
    pub header_size: u64,
    /// End of the objects: the arena's end, or the file's if the file is shorter.
    end: u64,
    pub entry_array_offset: u64,
    pub n_entries: u64,
    /// Microseconds since 1970 of the file's first and last entries.
    pub head_realtime_us: u64,
    pub tail_realtime_us: u64,
}

/// Reads and checks a file's header.
pub fn header(src: &mut impl Source) -> Result<Header, JournalError> {
    let mut h = [0u8; MIN_HEADER as usize];
    if src.size() < MIN_HEADER {
        return Err(JournalError::NotAJournal);
    }
    src.read_at(0, &mut h)?;
    if !h.starts_with(SIGNATURE) {
        return Err(JournalError::NotAJournal);
    }
    let incompatible_flags = le32(&h, 12);
    if incompatible_flags & !INCOMPATIBLE_KNOWN != 0 {
        return Err(JournalError::Unsupported(incompatible_flags));
    }
    let header_size = le64(&h, 88);
    if header_size < MIN_HEADER || !header_size.is_multiple_of(8) {
        return Err(damaged("header size", 88));
    }
    let end = header_size.checked_add(le64(&h, 96)).ok_or(damaged("arena size", 96))?.min(src.size());
    Ok(Header {
        compact: incompatible_flags & INCOMPATIBLE_COMPACT != 0,
        incompatible_flags,
        header_size,
        end,
        entry_array_offset: le64(&h, 176),
        n_entries: le64(&h, 152),
        head_realtime_us: le64(&h, 184),
        tail_realtime_us: le64(&h, 192),
    })
}

/// Which entries a scan keeps.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Values of `_SYSTEMD_UNIT` (the unit that logged) or `UNIT` (the unit systemd logs about) that match.
    pub units: &'a [&'a str],
    /// The window, in microseconds since 1970, both ends included.
    pub since_us: u64,
    pub until_us: u64,
    /// The highest (least severe) `PRIORITY` kept: 3 keeps err, crit, alert and emerg.
    pub max_priority: u8,
}

/// Bounds on one scan, over every file it reads.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes read from all files together; past it the scan stops with [`JournalError::ReadLimit`].
    pub max_bytes: u64,
    /// Matches kept: the newest this many.
    pub keep: usize,
    /// Bytes of each message kept.
    pub max_message: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The message's first bytes as text, control characters escaped, and whether it was cut.
    Text { text: String, cut: bool },
    /// No plain `MESSAGE`, but a field stored compressed: the message, since journald compresses only long values
    /// and the message is the field that grows long.
    Compressed,
    /// The entry has no `MESSAGE` field.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub realtime_us: u64,
    pub priority: u8,
    pub message: Message,
}

/// What one scan found, added to file after file.
#[derive(Debug, Default)]
pub struct Scan {
    /// Entries inside the time window that were looked at.
    pub entries: u64,
    /// Entries that matched, including those no longer kept.
    pub matched: u64,
    /// Compressed fields met in the window, not read.
    pub compressed_fields: u64,
    pub bytes_read: u64,
    found: Vec<Found>,
}

impl Scan {
    /// The newest matches kept, newest first.
    pub fn newest(&mut self, limits: &Limits) -> &[Found] {
        self.trim(limits.keep);
        &self.found
    }

    fn trim(&mut self, keep: usize) {
        self.found.sort_by_key(|f| std::cmp::Reverse(f.realtime_us));
        self.found.truncate(keep);
    }

    fn keep(&mut self, found: Found, keep: usize) {
        self.matched += 1;
        self.found.push(found);
        // Trimmed in batches so a long run of matches costs a sort now and then, not one per entry.
        if self.found.len() >= keep.saturating_mul(2).max(1) {
            self.trim(keep);
        }
    }
}

/// Walks every entry of the file whose header is `header`, adding the matches to `scan`. On an error, what was found
/// before it stays in `scan`.
pub fn scan(
    src: &mut impl Source,
    header: &Header,
    filter: &Filter,
    limits: &Limits,
    scan: &mut Scan,
) -> Result<(), JournalError> {
    let mut r = Reader { src, header, limits, scan };
    let item_size: u64 = if header.compact { 4 } else { 8 };
    let mut array = header.entry_array_offset;
    let mut previous = 0;
    while array != 0 {
        // journald only appends, so each array lies after the one before: this also ends any loop.
        if array <= previous {
            return Err(damaged("entry array chain goes backwards", array));
        }
        previous = array;
        let size = r.object(array, OBJECT_ENTRY_ARRAY, ARRAY_HEADER)?;
        let mut next = [0u8; 8];
        r.read(array + OBJECT_HEADER, &mut next)?;
        let items = (size - ARRAY_HEADER) / item_size;
        let first = array + ARRAY_HEADER;
        // Arrays are filled in time order: when the last entry is older than the window, so is the whole array.
        if items > 0 {
            let last = r.item(first + (items - 1) * item_size)?;
            if last != 0 && r.realtime(last)? < filter.since_us {
                array = le64(&next, 0);
                continue;
            }
        }
        let mut done = 0;
        while done < items {
            let count = (items - done).min(ITEMS_PER_READ);
            let mut buf = vec![0u8; (count * item_size) as usize];
            r.read(first + done * item_size, &mut buf)?;
            for chunk in buf.chunks_exact(item_size as usize) {
                let entry = if header.compact { u64::from(le32(chunk, 0)) } else { le64(chunk, 0) };
                // The last array is filled up to the newest entry; the rest of it is zeros.
                if entry == 0 {
                    return Ok(());
                }
                r.entry(entry, filter)?;
            }
            done += count;
        }
        array = le64(&next, 0);
    }
    Ok(())
}

/// One file's reads, each checked against the file's bounds and the scan's byte budget.
struct Reader<'a, S: Source> {
    src: &'a mut S,
    header: &'a Header,
    limits: &'a Limits,
    scan: &'a mut Scan,
}

impl<S: Source> Reader<'_, S> {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), JournalError> {
        let len = buf.len() as u64;
        match offset.checked_add(len) {
            Some(end) if offset >= self.header.header_size && end <= self.header.end => {}
            _ => return Err(damaged("a reference outside the file", offset)),
        }
        let total = self.scan.bytes_read.saturating_add(len);
        if total > self.limits.max_bytes {
            return Err(JournalError::ReadLimit(self.limits.max_bytes));
        }
        self.scan.bytes_read = total;
        self.src.read_at(offset, buf)?;
        Ok(())
    }

    /// Checks the object at `offset` is of `kind` and at least `min` bytes long, and inside the file; returns its
    /// size and flags.
    fn object_with_flags(&mut self, offset: u64, kind: u8, min: u64) -> Result<(u64, u8), JournalError> {
        if !offset.is_multiple_of(8) {
            return Err(damaged("a misaligned object", offset));
        }
        let mut h = [0u8; OBJECT_HEADER as usize];
        self.read(offset, &mut h)?;
        let size = le64(&h, 8);
        if h[0] != kind {
            return Err(damaged("an object of the wrong type", offset));
        }
        if size < min || offset.checked_add(size).is_none_or(|end| end > self.header.end) {
            return Err(damaged("an object of an impossible size", offset));
        }
        Ok((size, h[1]))
    }

    fn object(&mut self, offset: u64, kind: u8, min: u64) -> Result<u64, JournalError> {
        self.object_with_flags(offset, kind, min).map(|(size, _)| size)
    }

    fn item(&mut self, at: u64) -> Result<u64, JournalError> {
        if self.header.compact {
            let mut b = [0u8; 4];
            self.read(at, &mut b)?;
            Ok(u64::from(le32(&b, 0)))
        } else {
            let mut b = [0u8; 8];
            self.read(at, &mut b)?;
            Ok(le64(&b, 0))
        }
    }

    fn realtime(&mut self, entry: u64) -> Result<u64, JournalError> {
        self.object(entry, OBJECT_ENTRY, ENTRY_HEADER)?;
        let mut b = [0u8; 8];
        self.read(entry + 24, &mut b)?;
        Ok(le64(&b, 0))
    }

    fn entry(&mut self, entry: u64, filter: &Filter) -> Result<(), JournalError> {
        let size = self.object(entry, OBJECT_ENTRY, ENTRY_HEADER)?;
        let mut b = [0u8; 8];
        self.read(entry + 24, &mut b)?;
        let realtime_us = le64(&b, 0);
        if realtime_us < filter.since_us || realtime_us > filter.until_us {
            return Ok(());
        }
        self.scan.entries += 1;
        // Regular items are an offset and that object's hash; compact ones a 32-bit offset.
        let item_size: u64 = if self.header.compact { 4 } else { 16 };
        let fields = (size - ENTRY_HEADER) / item_size;
        if fields > MAX_FIELDS {
            return Err(damaged("an entry with too many fields", entry));
        }
        let mut items = vec![0u8; (fields * item_size) as usize];
        self.read(entry + ENTRY_HEADER, &mut items)?;
        let (mut unit, mut priority, mut message, mut compressed) = (false, None, None, false);
        for item in items.chunks_exact(item_size as usize) {
            let data = if self.header.compact { u64::from(le32(item, 0)) } else { le64(item, 0) };
            match self.field(data, filter)? {
                Field::Unit => unit = true,
                Field::Priority(p) => priority = Some(p),
                Field::Message(m) => message = Some(m),
                Field::Compressed => compressed = true,
                Field::Other => {}
            }
        }
        match priority {
            Some(priority) if unit && priority <= filter.max_priority => {
                let message = match (message, compressed) {
                    (Some(m), _) => m,
                    (None, true) => Message::Compressed,
                    (None, false) => Message::Missing,
                };
                self.scan.keep(Found { realtime_us, priority, message }, self.limits.keep);
            }
            _ => {}
        }
        Ok(())
    }

    fn field(&mut self, data: u64, filter: &Filter) -> Result<Field, JournalError> {
        let header = if self.header.compact { DATA_HEADER_COMPACT } else { DATA_HEADER };
        let (size, flags) = self.object_with_flags(data, OBJECT_DATA, header)?;
        if flags & OBJECT_COMPRESSED != 0 {
            self.scan.compressed_fields += 1;
            return Ok(Field::Compressed);
        }
        const NAME: usize = "_SYSTEMD_UNIT=".len();
        let len = size - header;
        let want = len.min((NAME + self.limits.max_message.max(256)) as u64);
        let mut payload = vec![0u8; want as usize];
        self.read(data + header, &mut payload)?;
        let field = if let Some(value) = payload.strip_prefix(b"MESSAGE=") {
            let shown = value.len().min(self.limits.max_message);
            let cut = (len - 8) as usize > shown;
            Field::Message(Message::Text { text: printable(&value[..shown]), cut })
        } else if let Some(value) = payload.strip_prefix(b"PRIORITY=") {
            match value {
                [d @ b'0'..=b'7'] => Field::Priority(d - b'0'),
                _ => Field::Other,
            }
        } else if let Some(value) = payload.strip_prefix(b"_SYSTEMD_UNIT=").or_else(|| payload.strip_prefix(b"UNIT=")) {
            // A value cut short by `want` is longer than any unit name, so it cannot match.
            if filter.units.iter().any(|u| u.as_bytes() == value) { Field::Unit } else { Field::Other }
        } else {
            Field::Other
        };
        Ok(field)
    }
}

enum Field {
    Unit,
    Priority(u8),
    Message(Message),
    Compressed,
    Other,
}

/// An entry for [`sample_file`]: its realtime and its `FIELD=value` pairs, each with whether it is stored compressed.
pub type SampleEntry<'a> = (u64, &'a [(&'a str, bool)]);

/// A journal file laid out as journald lays one out, minus the hash tables this reader never uses: for tests and the
/// fuzzer's seeds, where systemd's own writer is not at hand. Entry arrays hold 1, 2, 4, … items, the last one with
/// room to spare, as journald grows them. A "compressed" field is flagged so, its bytes left as they are.
pub fn sample_file(compact: bool, entries: &[SampleEntry]) -> Vec<u8> {
    const HEADER: usize = 272;
    let mut f = vec![0u8; HEADER];
    let object = |f: &mut Vec<u8>, kind: u8, flags: u8, body: &[u8]| -> u64 {
        let at = f.len() as u64;
        f.extend([kind, flags, 0, 0, 0, 0, 0, 0]);
        f.extend((16 + body.len() as u64).to_le_bytes());
        f.extend(body);
        f.resize(f.len().next_multiple_of(8), 0);
        at
    };
    let item = |v: u64| if compact { (v as u32).to_le_bytes().to_vec() } else { v.to_le_bytes().to_vec() };
    let put = |f: &mut Vec<u8>, at: usize, v: u64| {
        if let Some(slot) = f.get_mut(at..at + 8) {
            slot.copy_from_slice(&v.to_le_bytes());
        }
    };
    let mut offsets = Vec::new();
    for (seq, (realtime, fields)) in entries.iter().enumerate() {
        let mut items = Vec::new();
        for (field, compressed) in *fields {
            let mut body =
                vec![0u8; (if compact { DATA_HEADER_COMPACT } else { DATA_HEADER } - OBJECT_HEADER) as usize];
            body.extend(field.as_bytes());
            let data = object(&mut f, OBJECT_DATA, if *compressed { 4 } else { 0 }, &body);
            items.extend(item(data));
            if !compact {
                items.extend([0u8; 8]);
            }
        }
        let mut body = Vec::new();
        for v in [seq as u64 + 1, *realtime, 1] {
            body.extend(v.to_le_bytes());
        }
        body.extend([7u8; 24]);
        body.extend(items);
        offsets.push(object(&mut f, OBJECT_ENTRY, 0, &body));
    }
    let (mut first, mut previous_next, mut capacity, mut rest) = (0, None, 1, &offsets[..]);
    while first == 0 || !rest.is_empty() {
        let (these, after) = rest.split_at(rest.len().min(capacity));
        let spare = if after.is_empty() { 3 } else { 0 };
        let mut body = vec![0u8; 8];
        for &e in these {
            body.extend(item(e));
        }
        body.extend(std::iter::repeat_n(0u8, spare * item(0).len()));
        let at = object(&mut f, OBJECT_ENTRY_ARRAY, 0, &body);
        match previous_next {
            None => first = at,
            Some(p) => put(&mut f, p, at),
        }
        previous_next = Some(at as usize + 16);
        (rest, capacity) = (after, capacity * 2);
    }
    let mut flags = INCOMPATIBLE_KEYED_HASH;
    if compact {
        flags |= INCOMPATIBLE_COMPACT;
    }
    if entries.iter().any(|(_, fields)| fields.iter().any(|(_, c)| *c)) {
        flags |= INCOMPATIBLE_COMPRESSED_ZSTD;
    }
    let arena = f.len() as u64 - HEADER as u64;
    if let Some(signature) = f.get_mut(..8) {
        signature.copy_from_slice(SIGNATURE);
    }
    if let Some(slot) = f.get_mut(12..16) {
        slot.copy_from_slice(&flags.to_le_bytes());
    }
    for (at, v) in [
        (88, HEADER as u64),
        (96, arena),
        (152, entries.len() as u64),
        (176, first),
        (184, entries.first().map_or(0, |e| e.0)),
        (192, entries.last().map_or(0, |e| e.0)),
    ] {
        put(&mut f, at, v);
    }
    f
}

/// Text a terminal shows as it is: invalid UTF-8 replaced, control characters (escape sequences among them) escaped.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for c in String::from_utf8_lossy(bytes).chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes)
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bytes: 1 << 20, keep: 3, max_message: 16 };

    fn run(file: &[u8], filter: &Filter, limits: &Limits) -> (Result<(), JournalError>, Scan) {
        let mut scan = Scan::default();
        let result = header(&mut &file[..]).and_then(|h| super::scan(&mut &file[..], &h, filter, limits, &mut scan));
        (result, scan)
    }

    fn text(s: &str) -> Message {
        Message::Text { text: s.into(), cut: false }
    }

    fn sample() -> Vec<SampleEntry<'static>> {
        vec![
            (100, &[("_SYSTEMD_UNIT=cups.service", false), ("PRIORITY=3", false), ("MESSAGE=too old", false)]),
            (200, &[("_SYSTEMD_UNIT=cups.service", false), ("PRIORITY=3", false), ("MESSAGE=first", false)]),
            (300, &[("_SYSTEMD_UNIT=cups.service", false), ("PRIORITY=4", false), ("MESSAGE=a warning", false)]),
            (400, &[("_SYSTEMD_UNIT=sshd.service", false), ("PRIORITY=0", false), ("MESSAGE=other unit", false)]),
            (500, &[("_PID=1", false), ("UNIT=cups.service", false), ("PRIORITY=3", false), ("MESSAGE=Failed", false)]),
            (600, &[("PRIORITY=2", false), ("_SYSTEMD_UNIT=cups.service", false), ("MESSAGE=x", true)]),
            (700, &[("_SYSTEMD_UNIT=cups.service", false), ("PRIORITY=1", false)]),
            (800, &[("_SYSTEMD_UNIT=cups.service", false), ("PRIORITY=3", false), ("MESSAGE=\x1b[2Jgone\n", false)]),
            (
                900,
                &[("_SYSTEMD_UNIT=cups.service", false), ("PRIORITY=3", false), ("MESSAGE=0123456789abcdefXYZ", false)],
            ),
            (1000, &[("_SYSTEMD_UNIT=cups.service", false), ("PRIORITY=3", false), ("MESSAGE=too new", false)]),
        ]
    }

    #[test]
    fn picks_the_units_errors_in_the_window_in_both_layouts() {
        let units = ["cups.service"];
        let filter = Filter { units: &units, since_us: 150, until_us: 950, max_priority: 3 };
        let all = Limits { keep: 10, ..LIMITS };
        for compact in [false, true] {
            let file = sample_file(compact, &sample());
            assert_eq!(header(&mut &file[..]).unwrap().compact, compact);
            let (result, mut scan) = run(&file, &filter, &all);
            result.unwrap();
            let got: Vec<_> =
                scan.newest(&all).iter().map(|f| (f.realtime_us, f.priority, f.message.clone())).collect();
            let expected = vec![
                (900, 3, Message::Text { text: "0123456789abcdef".into(), cut: true }),
                (800, 3, text("\\u{1b}[2Jgone\\n")),
                (700, 1, Message::Missing),
                (600, 2, Message::Compressed),
                (500, 3, text("Failed")),
                (200, 3, text("first")),
            ];
            assert_eq!(got, expected, "compact: {compact}");
            assert_eq!((scan.entries, scan.matched, scan.compressed_fields), (8, 6, 1));

            let (result, mut scan) = run(&file, &filter, &LIMITS);
            result.unwrap();
            let times: Vec<_> = scan.newest(&LIMITS).iter().map(|f| f.realtime_us).collect();
            assert_eq!((times, scan.matched), (vec![900, 800, 700], 6), "only the newest are kept, all are counted");
        }
    }

    #[test]
    fn damaged_or_cut_files_are_refused_and_nothing_panics() {
        let units = ["cups.service"];
        let filter = Filter { units: &units, since_us: 0, until_us: u64::MAX, max_priority: 7 };
        for compact in [false, true] {
            let file = sample_file(compact, &sample());
            for len in 0..file.len() {
                let _ = run(&file[..len], &filter, &LIMITS);
            }
            for at in 0..file.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut bad = file.clone();
                    bad[at] ^= flip;
                    let _ = run(&bad, &filter, &LIMITS);
                }
            }
        }
        let file = sample_file(false, &sample());
        assert!(matches!(run(&file[..100], &filter, &LIMITS).0, Err(JournalError::NotAJournal)));
        assert!(matches!(run(&file[..file.len() - 8], &filter, &LIMITS).0, Err(JournalError::Damaged { .. })));
        let mut unknown = file.clone();
        unknown[12] |= 0x40;
        assert!(matches!(run(&unknown, &filter, &LIMITS).0, Err(JournalError::Unsupported(f)) if f & 0x40 != 0));
    }

    #[test]
    fn an_entry_array_chain_that_loops_is_refused() {
        let mut file = sample_file(false, &sample());
        let first = le64(&file, 176) as usize;
        let second = le64(&file, first + 16);
        let third = le64(&file, second as usize + 16);
        file[third as usize + 16..third as usize + 24].copy_from_slice(&second.to_le_bytes());
        let units = ["cups.service"];
        let filter = Filter { units: &units, since_us: 0, until_us: u64::MAX, max_priority: 7 };
        let (result, _) = run(&file, &filter, &LIMITS);
        assert!(matches!(result, Err(JournalError::Damaged { what: "entry array chain goes backwards", .. })));
    }

    #[test]
    fn the_byte_budget_stops_a_scan_and_keeps_what_it_found() {
        let file = sample_file(true, &sample());
        let units = ["cups.service"];
        let filter = Filter { units: &units, since_us: 0, until_us: u64::MAX, max_priority: 3 };
        let small = Limits { max_bytes: 700, ..LIMITS };
        let (result, scan) = run(&file, &filter, &small);
        assert!(matches!(result, Err(JournalError::ReadLimit(700))), "{result:?}");
        assert!(scan.bytes_read <= 700 && scan.matched >= 1, "{scan:?}");
    }
}
