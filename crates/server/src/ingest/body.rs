//! A request body as an ingest route reads it: received whole, kept as
//! the chunks it arrived in, and read once from the front.
//!
//! A body is received in full before it is parsed: a request is accepted
//! or refused whole, and a sender that trickles its body holds only its
//! own slot. What this module adds is that each chunk is let go as soon as
//! the parser has read it, so the records parsed from a body replace it
//! rather than join it: a request costs about its size once, not twice.
//! A gzipped body is decompressed as it is read, never all at once. Small
//! chunks are joined into blocks as they arrive, so the overhead per chunk
//! stays a small share of the body however the sender cuts it.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use axum::body::Bytes;
use axum::http::StatusCode;

use super::Rejected;

/// Chunks smaller than this are copied together into blocks of
/// [`BLOCK`] bytes: a sender that sends a body a byte per chunk (chunked
/// encoding allows it) must not make the server hold a chunk header per
/// byte.
const SMALL: usize = 16 << 10;
const BLOCK: usize = 64 << 10;

/// The chunks of a received body, in order.
#[derive(Default)]
pub(crate) struct Chunks {
    chunks: VecDeque<Bytes>,
    /// Small chunks joined, after everything in `chunks`.
    tail: Vec<u8>,
    len: usize,
}

impl Chunks {
    /// Bytes not read yet.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        if chunk.len() < SMALL {
            if self.tail.capacity() == 0 {
                self.tail.reserve_exact(BLOCK);
            }
            self.tail.extend_from_slice(&chunk);
            if self.tail.len() >= BLOCK {
                self.flush();
            }
        } else {
            self.flush();
            self.chunks.push_back(chunk);
        }
    }

    fn flush(&mut self) {
        if !self.tail.is_empty() {
            self.chunks.push_back(Bytes::from(std::mem::take(&mut self.tail)));
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.chunks.is_empty() {
            self.flush();
        }
        Ok(self.chunks.front().map_or(&[][..], |c| &c[..]))
    }

    fn consume(&mut self, n: usize) {
        let Some(front) = self.chunks.front_mut() else { return };
        let n = n.min(front.len());
        self.len -= n;
        if n == front.len() {
            // The chunk is read: its memory goes now, not with the request.
            self.chunks.pop_front();
        } else {
            let _ = front.split_to(n);
        }
    }
}

/// Decompressed bytes past the body limit.
#[derive(Debug)]
struct TooLarge(usize);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "body is over {} bytes once decompressed", self.0)
    }
}

impl std::error::Error for TooLarge {}

/// A reader that fails once more than `max` bytes came out of it: a small
/// gzip must not expand without limit.
struct Limited<R> {
    inner: R,
    read: usize,
    max: usize,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.read += n;
        if self.read > self.max {
            return Err(io::Error::other(TooLarge(self.max)));
        }
        Ok(n)
    }
}

/// What a route's parser reads.
pub(crate) struct Body {
    reader: Box<dyn BufRead + Send>,
    /// The size of the body as received (compressed, if it is).
    received: usize,
    gzip: bool,
}

impl Body {
    /// `chunks`, gunzipped as they are read when `gzip`, to at most `max`
    /// bytes.
    pub(crate) fn new(chunks: Chunks, gzip: bool, max: usize) -> Body {
        let received = chunks.len();
        let reader: Box<dyn BufRead + Send> = if gzip {
            let inflate = flate2::bufread::GzDecoder::new(chunks);
            Box::new(io::BufReader::with_capacity(64 << 10, Limited { inner: inflate, read: 0, max }))
        } else {
            Box::new(chunks)
        };
        Body { reader, received, gzip }
    }

    /// Calls `f` with each line (without its `\n`), numbered from 1, as
    /// the body is read. A line within one chunk is handed over where it
    /// lies; only a line across chunks is copied.
    pub(crate) fn lines(&mut self, mut f: impl FnMut(usize, &[u8]) -> Result<(), Rejected>) -> Result<(), Rejected> {
        let (mut n, mut pending) = (0, Vec::new());
        loop {
            let buf = self.reader.fill_buf().map_err(error)?;
            if buf.is_empty() {
                if !pending.is_empty() {
                    f(n + 1, &pending)?;
                }
                return Ok(());
            }
            let used = match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    n += 1;
                    if pending.is_empty() {
                        f(n, &buf[..i])?;
                    } else {
                        pending.extend_from_slice(&buf[..i]);
                        f(n, &pending)?;
                        pending = Vec::new();
                    }
                    i + 1
                }
                None => {
                    pending.extend_from_slice(buf);
                    buf.len()
                }
            };
            self.reader.consume(used);
        }
    }

    /// Calls `f` with each part of the body as it is read.
    pub(crate) fn parts(&mut self, mut f: impl FnMut(&[u8])) -> Result<(), Rejected> {
        loop {
            let buf = self.reader.fill_buf().map_err(error)?;
            if buf.is_empty() {
                return Ok(());
            }
            f(buf);
            let used = buf.len();
            self.reader.consume(used);
        }
    }

    /// The whole body in one buffer, for a format that cannot be read in
    /// parts (an OTLP message).
    pub(crate) fn whole(&mut self) -> Result<Vec<u8>, Rejected> {
        let mut out = Vec::with_capacity(if self.gzip { 0 } else { self.received });
        self.reader.read_to_end(&mut out).map_err(error)?;
        Ok(out)
    }
}

/// A read error as the answer: only decompression reads can fail.
fn error(e: io::Error) -> Rejected {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<TooLarge>()) {
        Some(too_large) => Rejected::Body(StatusCode::PAYLOAD_TOO_LARGE, too_large.to_string()),
        None => Rejected::Body(StatusCode::BAD_REQUEST, format!("cannot gunzip the body: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&[u8]]) -> Chunks {
        let mut c = Chunks::default();
        for p in parts {
            c.push(Bytes::copy_from_slice(p));
        }
        c
    }

    fn lines(mut body: Body) -> Result<Vec<(usize, String)>, Rejected> {
        let mut out = Vec::new();
        body.lines(|n, l| {
            out.push((n, String::from_utf8_lossy(l).into_owned()));
            Ok(())
        })?;
        Ok(out)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn lines_across_chunks_are_joined_and_numbered() {
        // Chunks large enough to be kept as they came: the second line
        // spans the first two.
        let (b, c) = ("b".repeat(SMALL), "c".repeat(SMALL));
        let (first, second) = (format!("a\n{b}"), format!("{c}\n\nd\n"));
        let body = Body::new(chunks(&[first.as_bytes(), second.as_bytes(), b"e"]), false, 4 * SMALL);
        let want = [(1, "a".to_string()), (2, format!("{b}{c}")), (3, String::new()), (4, "d".into()), (5, "e".into())];
        assert_eq!(lines(body).ok(), Some(want.to_vec()));
    }

    #[test]
    fn chunks_go_as_they_are_read() {
        let big = |b: u8| vec![b; SMALL];
        let mut c = chunks(&[&big(b'a'), &big(b'b')]);
        let mut out = vec![0u8; SMALL - 1];
        assert_eq!((c.read(&mut out).unwrap(), c.len(), c.chunks.len()), (SMALL - 1, SMALL + 1, 2));
        assert_eq!((c.read(&mut out).unwrap(), c.len(), c.chunks.len()), (1, SMALL, 1));
    }

    #[test]
    fn small_chunks_are_joined_into_blocks_in_order() {
        let mut c = Chunks::default();
        let big = vec![b'b'; SMALL];
        for i in 0..(2 * BLOCK) {
            c.push(Bytes::copy_from_slice(&[b'0' + (i % 10) as u8]));
        }
        c.push(Bytes::from(big.clone()));
        c.push(Bytes::from_static(b"end"));
        // Two blocks of one-byte chunks, the large chunk, the small tail.
        assert_eq!((c.chunks.len(), c.tail.len(), c.len()), (3, 3, 2 * BLOCK + SMALL + 3));
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        let want: Vec<u8> = (0..2 * BLOCK).map(|i| b'0' + (i % 10) as u8).chain(big).chain(*b"end").collect();
        assert_eq!(all, want);
    }

    #[test]
    fn gzip_is_read_in_parts_and_bounded() {
        let text = b"x\n".repeat(1000);
        let packed = gzip(&text);
        let (first, rest) = packed.split_at(packed.len() / 2);
        let body = Body::new(chunks(&[first, rest]), true, text.len());
        assert_eq!(lines(body).map(|l| l.len()).ok(), Some(1000));
        let body = Body::new(chunks(&[&packed]), true, text.len() - 1);
        assert!(
            matches!(lines(body), Err(Rejected::Body(StatusCode::PAYLOAD_TOO_LARGE, why)) if why.contains("decompressed"))
        );
        let mut body = Body::new(chunks(&[b"not gzip"]), true, 100);
        assert!(matches!(body.whole(), Err(Rejected::Body(StatusCode::BAD_REQUEST, why)) if why.contains("gunzip")));
    }
}
