//! The scanner's wire framing: bytes from a serial scanner in, frames out. A tokio-util
//! `Decoder`, so it separates "no whole frame yet" (`Ok(None)`) from a frame, and it never
//! errors on bad bytes: noise, overlong frames and invalid UTF-8 are counted and dropped or
//! passed on, never a panic, never unbounded memory.
//!
//! Frames end at CR, LF or CRLF (`Framing::Line`, the usual scanner suffixes), or are
//! wrapped in STX ... ETX (`Framing::StxEtx`). GS (0x1D, FNC1) is kept in the frame: the
//! slip rules treat it as a separator. Time-based rules (dropping a partial frame after an
//! inter-byte gap, debouncing re-reads) need a clock and live in the reader, which calls
//! [`ScanCodec::drop_partial`].

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// The longest frame kept; a bill barcode with its AIM prefix is 47 bytes.
pub const SCAN_FRAME_MAX_BYTES: usize = 512;

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// How frames are delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// A frame ends at CR, LF or CRLF (CRLF is one end, not an empty frame after it).
    #[default]
    Line,
    /// STX, the frame, ETX; bytes outside a frame are noise.
    StxEtx,
}

/// One scanned frame, its suffix or wrapping removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame as text; bytes that are not UTF-8 become U+FFFD (the slip checks then
    /// refuse it as malformed, and the clerk sees why).
    pub text: String,
    /// Whether the bytes were valid UTF-8.
    pub valid_utf8: bool,
}

impl Frame {
    /// The AIM symbology identifier the frame starts with (`]C1`, `]E0`, ...), if any.
    pub fn symbology(&self) -> Option<&str> {
        let b = self.text.as_bytes();
        (b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric())
            .then(|| &self.text[..3])
    }

    /// What the symbology identifier names, for people.
    pub fn symbology_name(&self) -> &'static str {
        match self.symbology() {
            Some("]C1") => "GS1-128",
            Some(id) if id.starts_with("]C") => "Code 128",
            Some(id) if id.starts_with("]E") => "EAN/UPC",
            Some(id) if id.starts_with("]Q") => "QR Code",
            Some(id) if id.starts_with("]d") => "Data Matrix",
            Some(id) if id.starts_with("]A") => "Code 39",
            Some(id) if id.starts_with("]I") => "ITF",
            Some(_) => "other",
            None => "unknown",
        }
    }
}

/// What the codec dropped, for the status line and `devices scan-test`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodecStats {
    /// Frames passed on.
    pub frames: u64,
    /// Frames longer than the maximum, discarded whole.
    pub oversize: u64,
    /// Partial frames dropped after an inter-byte gap.
    pub partial: u64,
    /// Bytes outside any frame (STX/ETX framing) or stray control bytes.
    pub noise_bytes: u64,
    /// Frames that were not UTF-8 (passed on with replacement characters).
    pub invalid_utf8: u64,
}

/// The decoder.
#[derive(Debug, Clone)]
pub struct ScanCodec {
    framing: Framing,
    max_len: usize,
    /// Bytes of the frame being read (those already examined in `buf`).
    scanned: usize,
    /// Discarding the rest of an overlong frame.
    discarding: bool,
    /// The last frame ended with CR: a LF right after it is the rest of a CRLF.
    after_cr: bool,
    /// STX/ETX: inside a frame.
    in_frame: bool,
    stats: CodecStats,
}

impl ScanCodec {
    /// A codec for `framing`, keeping frames up to `max_len` bytes.
    pub fn new(framing: Framing, max_len: usize) -> ScanCodec {
        ScanCodec {
            framing,
            max_len,
            scanned: 0,
            discarding: false,
            after_cr: false,
            in_frame: false,
            stats: CodecStats::default(),
        }
    }

    /// What was passed on and dropped so far.
    pub fn stats(&self) -> CodecStats {
        self.stats
    }

    /// Drop a partial frame (the reader saw no byte for the inter-byte timeout): a scanner
    /// that lost its suffix must not glue this frame to the next one.
    pub fn drop_partial(&mut self, buf: &mut BytesMut) {
        if !buf.is_empty() || self.discarding || self.in_frame {
            if !buf.is_empty() && !self.discarding {
                self.stats.partial += 1;
            }
            buf.clear();
        }
        self.scanned = 0;
        self.discarding = false;
        self.in_frame = false;
        self.after_cr = false;
    }

    fn emit(&mut self, bytes: &[u8]) -> Frame {
        self.stats.frames += 1;
        match std::str::from_utf8(bytes) {
            Ok(text) => Frame {
                text: text.to_owned(),
                valid_utf8: true,
            },
            Err(_) => {
                self.stats.invalid_utf8 += 1;
                Frame {
                    text: String::from_utf8_lossy(bytes).into_owned(),
                    valid_utf8: false,
                }
            }
        }
    }

    /// Where the frame being read ends (the first byte matching `is_end` past what was
    /// examined already). None: not yet; an overlong partial frame is discarded meanwhile,
    /// so the buffer never grows past `max_len` plus one read.
    fn find_end(&mut self, buf: &mut BytesMut, is_end: impl Fn(u8) -> bool) -> Option<usize> {
        match buf[self.scanned..].iter().position(|&b| is_end(b)) {
            Some(i) => {
                let end = self.scanned + i;
                self.scanned = 0;
                Some(end)
            }
            None => {
                self.scanned = buf.len();
                if self.discarding || buf.len() > self.max_len {
                    if !self.discarding {
                        self.stats.oversize += 1;
                        self.discarding = true;
                    }
                    buf.clear();
                    self.scanned = 0;
                }
                None
            }
        }
    }

    /// A complete frame's bytes: passed on, or dropped (the tail of a discarded overlong
    /// frame, an overlong frame, an empty one).
    fn finish(&mut self, frame: &[u8]) -> Option<Frame> {
        if std::mem::take(&mut self.discarding) {
            return None;
        }
        if frame.len() > self.max_len {
            self.stats.oversize += 1;
            return None;
        }
        (!frame.is_empty()).then(|| self.emit(frame))
    }

    fn decode_line(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            if self.after_cr && buf.first() == Some(&LF) {
                buf.advance(1);
            }
            if buf.is_empty() {
                return None;
            }
            self.after_cr = false;
            let end = self.find_end(buf, |b| b == CR || b == LF)?;
            self.after_cr = buf[end] == CR;
            let frame = buf.split_to(end);
            buf.advance(1);
            if let Some(frame) = self.finish(&frame) {
                return Some(frame);
            }
        }
    }

    fn decode_stx_etx(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            if !self.in_frame {
                match buf.iter().position(|&b| b == STX) {
                    Some(start) => {
                        self.stats.noise_bytes += start as u64;
                        buf.advance(start + 1);
                        self.in_frame = true;
                        self.scanned = 0;
                    }
                    None => {
                        self.stats.noise_bytes += buf.len() as u64;
                        buf.clear();
                        return None;
                    }
                }
            }
            let stop = self.find_end(buf, |b| b == ETX || b == STX)?;
            let frame = buf.split_to(stop);
            if buf[0] == STX {
                // A new STX before ETX: the old frame lost its end; start over.
                buf.advance(1);
                self.stats.partial += 1;
                self.discarding = false;
                continue;
            }
            buf.advance(1); // the ETX
            self.in_frame = false;
            if let Some(frame) = self.finish(&frame) {
                return Some(frame);
            }
        }
    }
}

impl Decoder for ScanCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        Ok(match self.framing {
            Framing::Line => self.decode_line(buf),
            Framing::StxEtx => self.decode_stx_etx(buf),
        })
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        // The device went away: what is left has no end, so it is a partial frame.
        let frame = self.decode(buf)?;
        if frame.is_none() {
            self.drop_partial(buf);
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(codec: &mut ScanCodec, input: &[u8]) -> Vec<String> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            out.push(f.text);
        }
        out
    }

    const CODE: &str = "]C191912345012345678901234567890101033101230003";

    #[test]
    fn cr_lf_and_crlf_each_end_one_frame() {
        let mut c = ScanCodec::new(Framing::Line, SCAN_FRAME_MAX_BYTES);
        let input = format!("{CODE}\r{CODE}\n{CODE}\r\n{CODE}\r\n");
        assert_eq!(all(&mut c, input.as_bytes()), vec![CODE; 4]);
        assert_eq!(c.stats().frames, 4);
    }

    #[test]
    fn a_frame_split_at_every_byte_position_comes_out_whole() {
        let wire = format!("{CODE}\r\n]C1\u{1d}0123\r\n");
        for split in 0..=wire.len() {
            let mut c = ScanCodec::new(Framing::Line, SCAN_FRAME_MAX_BYTES);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for part in [&wire.as_bytes()[..split], &wire.as_bytes()[split..]] {
                buf.extend_from_slice(part);
                while let Some(f) = c.decode(&mut buf).unwrap() {
                    out.push(f.text);
                }
            }
            assert_eq!(
                out,
                vec![CODE.to_owned(), "]C1\u{1d}0123".to_owned()],
                "split at {split}"
            );
        }
    }

    #[test]
    fn overlong_frames_are_discarded_and_counted_without_growing() {
        let mut c = ScanCodec::new(Framing::Line, 64);
        let mut buf = BytesMut::new();
        for _ in 0..1000 {
            buf.extend_from_slice(&[b'7'; 100]);
            assert_eq!(c.decode(&mut buf).unwrap(), None);
            assert!(buf.len() <= 100, "the buffer is cleared while discarding");
        }
        buf.extend_from_slice(format!("\r\n{CODE}\r\n").as_bytes());
        assert_eq!(
            c.decode(&mut buf).unwrap().map(|f| f.text),
            Some(CODE.to_owned())
        );
        assert_eq!(c.stats().oversize, 1);
    }

    #[test]
    fn invalid_utf8_is_passed_on_replaced_and_counted() {
        let mut c = ScanCodec::new(Framing::Line, SCAN_FRAME_MAX_BYTES);
        let mut buf = BytesMut::from(&b"9\xff\xfe1\r"[..]);
        let f = c.decode(&mut buf).unwrap().unwrap();
        assert!(!f.valid_utf8);
        assert_eq!(f.text, "9\u{fffd}\u{fffd}1");
        assert_eq!(c.stats().invalid_utf8, 1);
    }

    #[test]
    fn a_partial_frame_is_dropped_on_request() {
        let mut c = ScanCodec::new(Framing::Line, SCAN_FRAME_MAX_BYTES);
        let mut buf = BytesMut::from(&b"]C19191234"[..]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        c.drop_partial(&mut buf);
        buf.extend_from_slice(format!("{CODE}\r").as_bytes());
        assert_eq!(
            c.decode(&mut buf).unwrap().map(|f| f.text),
            Some(CODE.to_owned())
        );
        assert_eq!(c.stats().partial, 1);
    }

    #[test]
    fn stx_etx_framing_skips_noise() {
        let mut c = ScanCodec::new(Framing::StxEtx, SCAN_FRAME_MAX_BYTES);
        let input = format!("zz\u{2}{CODE}\u{3}\r\n\u{2}lost\u{2}{CODE}\u{3}");
        assert_eq!(all(&mut c, input.as_bytes()), vec![CODE; 2]);
        assert_eq!(c.stats().noise_bytes, 4);
        assert_eq!(c.stats().partial, 1);
    }

    #[test]
    fn symbology_identifiers() {
        let f = |t: &str| Frame {
            text: t.into(),
            valid_utf8: true,
        };
        assert_eq!(f(CODE).symbology(), Some("]C1"));
        assert_eq!(f(CODE).symbology_name(), "GS1-128");
        assert_eq!(f("]E04912345678904").symbology_name(), "EAN/UPC");
        assert_eq!(f("9191").symbology(), None);
        assert_eq!(f("]").symbology(), None);
    }
}
