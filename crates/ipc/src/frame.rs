//! Framing: a 4-byte big-endian payload length, then that many bytes of JSON.
//!
//! The core is sans-IO: [`encode`] makes a frame, [`FrameDecoder`] takes bytes as they
//! arrive, in chunks of any size, and yields whole payloads; [`decode`] turns a
//! payload into a message. [`read_frame`] / [`write_frame`] are the blocking
//! helpers and, with the `tokio` feature, [`FrameCodec`] is the async one.
//!
//! A length over [`MAX_FRAME`] is refused as soon as the 4 header bytes are in, before
//! anything of that size is allocated: a length prefix is attacker-controlled.
//! Payloads are split off before they are parsed, so a payload that is not a valid
//! message ([`FrameError::Json`], [`FrameError::Message`]) leaves the stream in sync
//! and the service can answer it with an error; a refused length or a truncated frame
//! leaves the stream unusable.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroize as _;

use crate::error::FrameError;

/// The largest payload either side accepts or sends: 1 MiB.
pub const MAX_FRAME: usize = 1 << 20;

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// `message` as one frame: length prefix and JSON. Refuses (and does not return) a
/// frame over [`MAX_FRAME`], which the other side would refuse anyway.
pub fn encode<T: Serialize + ?Sized>(message: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0; HEADER_LEN];
    serde_json::to_writer(&mut out, message).map_err(|e| FrameError::Encode(e.to_string()))?;
    let len = out.len() - HEADER_LEN;
    if len > MAX_FRAME {
        // The message may be an export holding keys.
        out.zeroize();
        return Err(FrameError::TooLarge {
            len: len as u64,
            max: MAX_FRAME,
        });
    }
    // Cannot truncate: len <= MAX_FRAME < u32::MAX.
    out[..HEADER_LEN].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// A payload (without its length prefix) as a message.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(payload).map_err(json_error)
}

/// Splits a byte stream into frame payloads, whatever the chunking.
///
/// Feed it what the transport delivered, then call [`FrameDecoder::next_message`] (or
/// [`FrameDecoder::next_frame`]) until it returns `Ok(None)`; at end of stream,
/// [`FrameDecoder::finish`] tells whether a frame was cut short.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`; consumed bytes are dropped lazily so a
    /// burst of small frames costs no copying per frame.
    start: usize,
    max: usize,
    /// The refused length: once a length is refused the stream is out of sync for
    /// good, so every later call fails the same way.
    refused: Option<u64>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::with_max_frame(MAX_FRAME)
    }

    /// A decoder with a smaller limit (tests, or a side that expects only small frames).
    pub fn with_max_frame(max: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max: max.min(MAX_FRAME),
            refused: None,
        }
    }

    /// Appends bytes received from the transport.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.copy_within(self.start.., 0);
            let keep = self.buf.len() - self.start;
            // Consumed payloads may hold keys.
            self.buf[keep..].zeroize();
            self.buf.truncate(keep);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole payload, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(len) = self.refused {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        let avail = &self.buf[self.start..];
        let Some(header) = avail.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header);
        if len as usize > self.max {
            self.refused = Some(len.into());
            return Err(FrameError::TooLarge {
                len: len.into(),
                max: self.max,
            });
        }
        let end = HEADER_LEN + len as usize;
        let Some(payload) = avail.get(HEADER_LEN..end) else {
            return Ok(None);
        };
        let payload = payload.to_vec();
        self.start += end;
        if self.start == self.buf.len() {
            self.buf.zeroize();
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(payload))
    }

    /// The next whole message, `Ok(None)` if more bytes are needed. A payload that is
    /// not a `T` is consumed and reported; the next call goes on with the next frame.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        let Some(mut payload) = self.next_frame()? else {
            return Ok(None);
        };
        let message = decode(&payload);
        payload.zeroize();
        message.map(Some)
    }

    /// Call at end of stream: an error if the stream stopped inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        let avail = &self.buf[self.start..];
        if avail.is_empty() {
            return Ok(());
        }
        let expected = match avail.first_chunk::<HEADER_LEN>() {
            Some(header) => HEADER_LEN + u32::from_be_bytes(*header) as usize,
            None => HEADER_LEN,
        };
        Err(FrameError::Truncated {
            expected,
            got: avail.len(),
        })
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// Reads one payload from a blocking reader: `Ok(None)` on a clean end of stream
/// (between frames), [`FrameError::Truncated`] if it ends inside one.
///
/// Use it where each read may block until a whole frame arrives (a server thread per
/// connection); where reads time out, use a [`FrameDecoder`], which loses nothing when
/// a read is interrupted halfway through a frame.
pub fn read_frame<R: Read + ?Sized>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0; HEADER_LEN];
    let got = read_full(reader, &mut header)?;
    if got == 0 {
        return Ok(None);
    }
    if got < HEADER_LEN {
        return Err(FrameError::Truncated {
            expected: HEADER_LEN,
            got,
        });
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len: len as u64,
            max: MAX_FRAME,
        });
    }
    let mut payload = vec![0; len];
    let got = read_full(reader, &mut payload)?;
    if got < len {
        payload.zeroize();
        return Err(FrameError::Truncated {
            expected: HEADER_LEN + len,
            got: HEADER_LEN + got,
        });
    }
    Ok(Some(payload))
}

/// Writes `message` as one frame and flushes.
pub fn write_frame<W: Write + ?Sized, T: Serialize + ?Sized>(
    writer: &mut W,
    message: &T,
) -> Result<(), FrameError> {
    let mut frame = encode(message)?;
    let written = writer.write_all(&frame).and_then(|()| writer.flush());
    frame.zeroize();
    Ok(written?)
}

/// Fills `buf` unless the stream ends first; returns how much was read.
fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn json_error(e: serde_json::Error) -> FrameError {
    let text = scrub_strings(&e.to_string());
    match e.classify() {
        serde_json::error::Category::Data => FrameError::Message(text),
        _ => FrameError::Json(text),
    }
}

/// serde quotes wrongly typed string values in its errors (`invalid type: string
/// "...", expected u32`); such a string could be a key sent in the wrong field, and
/// these errors get logged, so the quoted content is dropped.
fn scrub_strings(message: &str) -> String {
    const MARK: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at + MARK.len()]);
        rest = &rest[at + MARK.len()..];
        // serde writes the string with `{:?}`, so a `"` inside it is escaped.
        let mut escaped = false;
        let close = rest.char_indices().find_map(|(i, c)| match (escaped, c) {
            (false, '\\') => {
                escaped = true;
                None
            }
            (false, '"') => Some(i),
            _ => {
                escaped = false;
                None
            }
        });
        out.push_str("...\"");
        match close {
            Some(i) => rest = &rest[i + 1..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

#[cfg(feature = "tokio")]
pub use codec::FrameCodec;

#[cfg(feature = "tokio")]
mod codec {
    use bytes::{Buf as _, BytesMut};
    use serde::Serialize;
    use tokio_util::codec::{Decoder, Encoder};

    use super::{HEADER_LEN, MAX_FRAME, encode};
    use crate::error::FrameError;

    /// The framing as a `tokio_util` codec, for the tokio-based service:
    /// `Framed::new(stream, FrameCodec)` yields payloads (parse them with
    /// [`crate::decode`], so that a bad message does not end the stream) and sends any
    /// `Serialize` message.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct FrameCodec;

    impl Decoder for FrameCodec {
        type Item = BytesMut;
        type Error = FrameError;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
            let Some(header) = src.first_chunk::<HEADER_LEN>() else {
                return Ok(None);
            };
            let len = u32::from_be_bytes(*header) as usize;
            if len > MAX_FRAME {
                return Err(FrameError::TooLarge {
                    len: len as u64,
                    max: MAX_FRAME,
                });
            }
            if src.len() < HEADER_LEN + len {
                // Bounded by MAX_FRAME, checked above.
                src.reserve(HEADER_LEN + len - src.len());
                return Ok(None);
            }
            src.advance(HEADER_LEN);
            Ok(Some(src.split_to(len)))
        }

        fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
            match self.decode(src)? {
                Some(frame) => Ok(Some(frame)),
                None if src.is_empty() => Ok(None),
                None => {
                    let expected = match src.first_chunk::<HEADER_LEN>() {
                        Some(h) => HEADER_LEN + u32::from_be_bytes(*h) as usize,
                        None => HEADER_LEN,
                    };
                    Err(FrameError::Truncated {
                        expected,
                        got: src.len(),
                    })
                }
            }
        }
    }

    impl<T: Serialize> Encoder<T> for FrameCodec {
        type Error = FrameError;

        fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
            let frame = encode(&item)?;
            dst.extend_from_slice(&frame);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_quoted_strings_only() {
        assert_eq!(
            scrub_strings(r#"invalid type: string "a\"b", expected u32 at line 1 column 9"#),
            r#"invalid type: string "...", expected u32 at line 1 column 9"#
        );
        assert_eq!(
            scrub_strings("unknown variant `x`, expected `y`"),
            "unknown variant `x`, expected `y`"
        );
        assert_eq!(scrub_strings(r#"string "abc"#), r#"string "...""#);
    }
}
