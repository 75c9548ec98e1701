//! Syslog over a stream (TCP, TLS): RFC 6587 octet counting (`LEN SP MSG`)
//! or non-transparent framing (records end at LF; CR LF and NUL are
//! accepted too). The mode is chosen per frame, as rsyslog does: a frame that
//! starts with a digit is octet-counted.

/// Longest record kept whole; a longer LF-framed line is cut into pieces of
/// this size, and a longer octet count is an error.
pub const MAX_FRAME: usize = 256 << 10;

/// A stream that can no longer be framed; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

/// Accumulates stream bytes and yields complete records.
#[derive(Default)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
}

impl Framer {
    pub fn new() -> Framer {
        Framer::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 << 10 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not form a complete record yet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete record, without its framing.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        loop {
            let rest = &self.buf[self.start..];
            // Skip the separators between records.
            let skip = rest.iter().take_while(|&&b| matches!(b, b'\n' | b'\r' | b'\0')).count();
            self.start += skip;
            let rest = &self.buf[self.start..];
            if rest.is_empty() {
                return None;
            }
            if rest[0].is_ascii_digit() {
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == rest.len() {
                    if digits > 7 {
                        return Some(Err(FrameError(format!("octet count longer than {digits} digits"))));
                    }
                    return None;
                }
                if rest[digits] == b' ' {
                    let len: usize = match std::str::from_utf8(&rest[..digits]).ok().and_then(|d| d.parse().ok()) {
                        Some(n) if n <= MAX_FRAME => n,
                        _ => {
                            return Some(Err(FrameError(format!(
                                "octet count `{}` is over the {MAX_FRAME}-byte limit",
                                String::from_utf8_lossy(&rest[..digits.min(12)])
                            ))));
                        }
                    };
                    let body = digits + 1;
                    if rest.len() < body + len {
                        return None;
                    }
                    let frame = rest[body..body + len].to_vec();
                    self.start += body + len;
                    return Some(Ok(frame));
                }
                // A digit not followed by a space: an LF-framed line that
                // happens to start with a digit.
            }
            let rest = &self.buf[self.start..];
            match rest.iter().position(|&b| b == b'\n' || b == b'\0') {
                Some(end) => {
                    let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]).to_vec();
                    self.start += end + 1;
                    if line.is_empty() {
                        continue;
                    }
                    return Some(Ok(line));
                }
                None if rest.len() >= MAX_FRAME => {
                    let piece = rest[..MAX_FRAME].to_vec();
                    self.start += MAX_FRAME;
                    return Some(Ok(piece));
                }
                None => return None,
            }
        }
    }

    /// What is left when the stream ends: a last line without LF.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = &self.buf[self.start..];
        let trimmed = rest.strip_suffix(b"\r").unwrap_or(rest);
        let out = (!trimmed.iter().all(|b| b.is_ascii_whitespace() || *b == 0)).then(|| trimmed.to_vec());
        self.buf.clear();
        self.start = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> Vec<String> {
        let mut f = Framer::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            while let Some(r) = f.next_frame() {
                out.push(String::from_utf8(r.unwrap()).unwrap());
            }
        }
        out.extend(f.finish().map(|b| String::from_utf8(b).unwrap()));
        out
    }

    #[test]
    fn lf_and_octet_counted_frames_mix_and_split_anywhere() {
        let stream = b"<13>one\n9 <13>two\nx<13>three\r\n\n5 <13>4";
        let whole = frames(&[stream]);
        assert_eq!(whole, ["<13>one", "<13>two\nx", "<13>three", "<13>4"]);
        // Any split of the stream gives the same records.
        for cut in 0..stream.len() {
            assert_eq!(frames(&[&stream[..cut], &stream[cut..]]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn lines_starting_with_digits_are_not_octet_counts() {
        assert_eq!(frames(&[b"2026-11-22 app: x\n"]), ["2026-11-22 app: x"]);
    }

    #[test]
    fn oversized_input_is_cut_or_refused() {
        let long = vec![b'a'; MAX_FRAME + 10];
        let got = frames(&[&long]);
        assert_eq!(got.iter().map(String::len).collect::<Vec<_>>(), [MAX_FRAME, 10]);
        let mut f = Framer::new();
        f.push(b"99999999 <13>x");
        assert!(f.next_frame().unwrap().is_err());
        let mut f = Framer::new();
        f.push(b"123456789012");
        assert!(f.next_frame().unwrap().is_err());
    }
}
