//! Reading a scan log (`docs/scan-log.md`): bounded lines, then one entry per line. A line
//! that is not UTF-8, not JSON, or not one of the forms is `Entry::Bad` with the reason; it
//! never stops the replay. Lines longer than `LINE_MAX_BYTES` are skipped without being
//! held in memory, so memory stays flat whatever the log holds.

use std::io::{self, BufRead};

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use konbini_domain::{Chain, Yen};

use konbini_register::{Station, Store};

/// The longest line read; a longer one is a bad line. Real lines are under 300 bytes.
pub const LINE_MAX_BYTES: usize = 64 * 1024;

/// The most cash one `tender` line may hand over: far more than any konbini sees, far
/// less than the journal can add up.
pub const MAX_TENDER_YEN: u64 = 1_000_000_000_000;

/// One line of a log, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Empty or whitespace only.
    Blank,
    /// A header line (only meaningful as the first non-blank line).
    Header(Header),
    /// An event line.
    Event {
        /// Its `at`.
        at: DateTime<FixedOffset>,
        /// What happened.
        event: Event,
    },
    /// Anything else: why it is bad.
    Bad(String),
}

/// The newest scan log format this build reads (`docs/scan-log.md`).
pub const FORMAT_VERSION: u64 = 2;

/// The optional first line.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `konbini_scan_log`: the format version.
    pub version: u64,
    /// Terminal and store, defaults where the header is silent, and (version 2) the
    /// drawer's float; or why they are wrong.
    pub station: Result<(Station, Option<Yen>), String>,
}

/// The event of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A scanner frame.
    Scan(String),
    /// Keyed-in paperless numbers (checked by the register, not here).
    KeyIn {
        /// As keyed.
        chain: String,
        /// As keyed.
        payment_code: String,
        /// As keyed.
        confirmation_number: String,
    },
    /// Cash handed over.
    Tender(Yen),
    /// Complete the open sale.
    Complete,
    /// Cancel the open sale.
    Cancel,
    /// Remove the slip at this 1-based position from the open sale (version 2).
    Void(u32),
    /// Close the business day with this much cash counted in the drawer (version 2).
    Close(Yen),
}

impl Event {
    /// The register core's message for this event at `at`: the one mapping the replay and
    /// the terminal UI share, so a recorded session means the same to both.
    pub fn into_msg(self, at: DateTime<FixedOffset>) -> konbini_register::Msg {
        use konbini_register::Msg;
        match self {
            Event::Scan(frame) => Msg::Scan { at, frame },
            Event::KeyIn {
                chain,
                payment_code,
                confirmation_number,
            } => Msg::KeyIn {
                at,
                chain,
                payment_code,
                confirmation_number,
            },
            Event::Tender(amount) => Msg::Tender { at, amount },
            Event::Complete => Msg::Complete { at },
            Event::Cancel => Msg::Cancel { at },
            Event::Void(position) => Msg::Void { at, position },
            Event::Close(counted) => Msg::Close { at, counted },
        }
    }

    /// The format version that introduced this event: a log of an older version reads
    /// its key as an unknown event, as that version did.
    pub fn since_version(&self) -> u64 {
        match self {
            Event::Void(_) | Event::Close(_) => 2,
            _ => 1,
        }
    }

    /// The event's key in a log line.
    pub fn key(&self) -> &'static str {
        match self {
            Event::Scan(_) => "scan",
            Event::KeyIn { .. } => "key_in",
            Event::Tender(_) => "tender",
            Event::Complete => "complete",
            Event::Cancel => "cancel",
            Event::Void(_) => "void",
            Event::Close(_) => "close",
        }
    }
}

/// Classify one line (without its `\n`).
pub fn parse_line(bytes: &[u8]) -> Entry {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Entry::Blank;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Entry::Bad(format!("not UTF-8 ({e})")),
    };
    let mut obj = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => obj,
        Ok(_) => return Entry::Bad("not a JSON object".to_owned()),
        Err(e) => return Entry::Bad(format!("not JSON ({e})")),
    };
    if let Some(version) = obj.remove("konbini_scan_log") {
        return parse_header(version, obj);
    }
    let at = match obj.remove("at") {
        Some(Value::String(at)) => match DateTime::parse_from_rfc3339(&at) {
            Ok(at) => at,
            Err(e) => return Entry::Bad(format!("`at` {at:?} is not RFC 3339 ({e})")),
        },
        Some(_) => return Entry::Bad("`at` is not a string".to_owned()),
        None => return Entry::Bad("no `at`".to_owned()),
    };
    if obj.len() != 1 {
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        return Entry::Bad(format!(
            "expected exactly one event key besides `at`, found {keys:?}"
        ));
    }
    let (key, value) = obj.into_iter().next().expect("one key");
    match parse_event(&key, value) {
        Ok(event) => Entry::Event { at, event },
        Err(reason) => Entry::Bad(reason),
    }
}

fn parse_event(key: &str, value: Value) -> Result<Event, String> {
    match (key, value) {
        ("scan", Value::String(frame)) => Ok(Event::Scan(frame)),
        ("scan", _) => Err("`scan` is not a string".to_owned()),
        ("key_in", Value::Object(mut fields)) => {
            let mut take = |name: &str| match fields.remove(name) {
                Some(Value::String(s)) => Ok(s),
                Some(_) => Err(format!("`key_in.{name}` is not a string")),
                None => Err(format!("`key_in` has no `{name}`")),
            };
            let event = Event::KeyIn {
                chain: take("chain")?,
                payment_code: take("payment_code")?,
                confirmation_number: take("confirmation_number")?,
            };
            match fields.keys().next() {
                Some(extra) => Err(format!("`key_in` has an unknown field `{extra}`")),
                None => Ok(event),
            }
        }
        ("key_in", _) => Err("`key_in` is not an object".to_owned()),
        ("tender", Value::Number(n)) => match n.as_u64() {
            Some(yen) if yen > 0 && yen <= MAX_TENDER_YEN => Ok(Event::Tender(Yen::new(yen))),
            _ => Err(format!(
                "`tender` {n} is not a whole number of yen from 1 to {MAX_TENDER_YEN}"
            )),
        },
        ("tender", _) => Err("`tender` is not a number".to_owned()),
        ("complete", Value::Bool(true)) => Ok(Event::Complete),
        ("complete", _) => Err("`complete` is not `true`".to_owned()),
        ("cancel", Value::Bool(true)) => Ok(Event::Cancel),
        ("cancel", _) => Err("`cancel` is not `true`".to_owned()),
        ("void", Value::Number(n)) => match n.as_u64().and_then(|p| u32::try_from(p).ok()) {
            Some(position) if position > 0 => Ok(Event::Void(position)),
            _ => Err(format!(
                "`void` {n} is not a slip's position in the sale (a whole number from 1)"
            )),
        },
        ("void", _) => Err("`void` is not a number".to_owned()),
        ("close", Value::Object(mut fields)) => {
            let counted = match fields.remove("counted_yen") {
                Some(Value::Number(n)) => match n.as_u64() {
                    Some(yen) if yen <= MAX_TENDER_YEN => Yen::new(yen),
                    _ => {
                        return Err(format!(
                            "`close.counted_yen` {n} is not a whole number of yen from 0 to {MAX_TENDER_YEN}"
                        ));
                    }
                },
                Some(_) => return Err("`close.counted_yen` is not a number".to_owned()),
                None => return Err("`close` has no `counted_yen`".to_owned()),
            };
            match fields.keys().next() {
                Some(extra) => Err(format!("`close` has an unknown field `{extra}`")),
                None => Ok(Event::Close(counted)),
            }
        }
        ("close", _) => Err("`close` is not an object".to_owned()),
        (other, _) => Err(format!("unknown event `{other}`")),
    }
}

fn parse_header(version: Value, mut obj: Map<String, Value>) -> Entry {
    let Some(version) = version.as_u64() else {
        return Entry::Bad("`konbini_scan_log` is not a version number".to_owned());
    };
    let station = (|| {
        let mut station = Station::default();
        // Version 2: the drawer's float (釣銭準備金), which the day close counts on.
        let float = match obj.remove("drawer_float_yen") {
            Some(Value::Number(n)) if version >= 2 => match n.as_u64() {
                Some(yen) if yen <= MAX_TENDER_YEN => Some(Yen::new(yen)),
                _ => {
                    return Err(format!(
                        "`drawer_float_yen` {n} is not a whole number of yen"
                    ));
                }
            },
            Some(_) if version >= 2 => return Err("`drawer_float_yen` is not a number".to_owned()),
            Some(_) => return Err("unknown header field `drawer_float_yen`".to_owned()),
            None => None,
        };
        match obj.remove("terminal") {
            // It names receipt files: letters, digits, `-` and `_` only.
            Some(Value::String(t))
                if (1..=16).contains(&t.len())
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                station.terminal = t
            }
            Some(_) => {
                return Err("`terminal` is not 1-16 letters, digits, `-` or `_`".to_owned());
            }
            None => {}
        }
        match obj.remove("store") {
            Some(Value::Object(mut s)) => {
                let mut text = |name: &str, default: &str| match s.remove(name) {
                    Some(Value::String(v)) => Ok(v),
                    None => Ok(default.to_owned()),
                    Some(_) => Err(format!("`store.{name}` is not a string")),
                };
                let code = text("code", &station.store.code)?;
                let name = text("name", &station.store.name)?;
                let chain = match s.remove("chain") {
                    Some(Value::String(c)) => Some(c.parse::<Chain>().map_err(|e| e.to_string())?),
                    Some(Value::Null) | None => None,
                    Some(_) => return Err("`store.chain` is not a string".to_owned()),
                };
                station.store = Store { code, chain, name };
            }
            Some(_) => return Err("`store` is not an object".to_owned()),
            None => {}
        }
        match obj.keys().next() {
            Some(extra) => Err(format!("unknown header field `{extra}`")),
            None => Ok((station, float)),
        }
    })();
    Entry::Header(Header { version, station })
}

/// Reads lines of at most [`LINE_MAX_BYTES`], tracking the byte offset after each line.
pub struct LineReader<R> {
    inner: R,
    offset: u64,
}

/// One line read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRead {
    /// Whether the line was longer than the limit (its bytes were dropped).
    pub too_long: bool,
    /// Byte offset just after the line (and its `\n`).
    pub end_offset: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Read from `inner`, which is positioned at byte `offset` of the log.
    pub fn new(inner: R, offset: u64) -> LineReader<R> {
        LineReader { inner, offset }
    }

    /// The next line into `buf` (without `\n`), or None at the end of the log.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineRead>> {
        buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (piece, used, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            if !too_long {
                if buf.len() + piece.len() > LINE_MAX_BYTES {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(piece);
                }
            }
            self.inner.consume(used);
            self.offset += used as u64;
            if done {
                break;
            }
        }
        Ok(any.then_some(LineRead {
            too_long,
            end_offset: self.offset,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(Vec<u8>, LineRead)> {
        let mut r = LineReader::new(input, 0);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(l) = r.next_line(&mut buf).unwrap() {
            out.push((buf.clone(), l));
        }
        out
    }

    #[test]
    fn splits_lines_and_tracks_offsets() {
        let got = lines(b"a\n\nbc\nd");
        let texts: Vec<&[u8]> = got.iter().map(|(b, _)| b.as_slice()).collect();
        assert_eq!(texts, [b"a" as &[u8], b"", b"bc", b"d"]);
        let ends: Vec<u64> = got.iter().map(|(_, l)| l.end_offset).collect();
        assert_eq!(ends, [2, 3, 6, 7]);
    }

    #[test]
    fn drops_overlong_lines_without_holding_them() {
        let mut input = vec![b'x'; LINE_MAX_BYTES + 10];
        input.extend_from_slice(b"\nok\n");
        let got = lines(&input);
        assert_eq!(got.len(), 2);
        assert!(got[0].1.too_long);
        assert!(got[0].0.is_empty());
        assert_eq!(got[1].0, b"ok");
        assert!(!got[1].1.too_long);
    }

    #[test]
    fn classifies_forms() {
        assert_eq!(parse_line(b"   \r"), Entry::Blank);
        assert!(matches!(
            parse_line(br#"{"at":"2026-11-28T10:15:03+09:00","tender":2000}"#),
            Entry::Event { event: Event::Tender(y), .. } if y == Yen::new(2000)
        ));
        for bad in [
            &br#"{"at":"2026-11-28T10:15:03+09:00","tender":0}"#[..],
            br#"{"at":"2026-11-28T10:15:03+09:00","tender":-5}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","tender":1.5}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","tender":"100"}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","complete":false}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","cancel":1}"#,
            br#"{"at":"2026-11-28T10:15:03","complete":true}"#,
            br#"{"complete":true}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","complete":true,"cancel":true}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00"}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","refund":100}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","key_in":{"chain":"lawson","payment_code":"1"}}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","scan":12}"#,
            br#"[1,2]"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","scan":"91"#,
            b"\xff\xfe{}",
        ] {
            assert!(
                matches!(parse_line(bad), Entry::Bad(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn version_2_events_and_header() {
        assert!(matches!(
            parse_line(br#"{"at":"2026-11-28T10:15:03+09:00","void":2}"#),
            Entry::Event {
                event: Event::Void(2),
                ..
            }
        ));
        assert!(matches!(
            parse_line(br#"{"at":"2026-11-28T10:15:03+09:00","close":{"counted_yen":0}}"#),
            Entry::Event { event: Event::Close(y), .. } if y == Yen::ZERO
        ));
        for bad in [
            &br#"{"at":"2026-11-28T10:15:03+09:00","void":0}"#[..],
            br#"{"at":"2026-11-28T10:15:03+09:00","void":1.5}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","void":"1"}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","close":{}}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","close":{"counted_yen":-1}}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","close":{"counted_yen":1,"x":1}}"#,
            br#"{"at":"2026-11-28T10:15:03+09:00","close":true}"#,
        ] {
            assert!(
                matches!(parse_line(bad), Entry::Bad(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let Entry::Header(h) =
            parse_line(br#"{"konbini_scan_log": 2, "terminal": "T07", "drawer_float_yen": 30000}"#)
        else {
            panic!("not a header")
        };
        assert_eq!(h.station.unwrap().1, Some(Yen::new(30_000)));
        // Version 1 knows no float: a bad header, as it always was.
        let Entry::Header(h) = parse_line(br#"{"konbini_scan_log": 1, "drawer_float_yen": 30000}"#)
        else {
            panic!("not a header")
        };
        assert!(h.station.is_err());
    }

    #[test]
    fn header_fields() {
        let Entry::Header(h) = parse_line(
            r#"{"konbini_scan_log": 1, "terminal": "T07", "store": {"code": "0042", "chain": "lawson", "name": "ローソン 札幌北口店"}}"#
                .as_bytes(),
        ) else {
            panic!("not a header")
        };
        assert_eq!(h.version, 1);
        let (station, float) = h.station.unwrap();
        assert_eq!(float, None);
        assert_eq!(station.terminal, "T07");
        assert_eq!(station.store.chain, Some(Chain::Lawson));
        assert_eq!(station.store.name, "ローソン 札幌北口店");
    }
}
