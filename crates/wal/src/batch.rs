//! The payload of one write-ahead-log frame: records received together from
//! one source, with who sent them and when.
//!
//! ```text
//! u8 version (1) | i64 received, Unix nanoseconds
//! | u16 len, tenant | u16 len, source | u8 len, format
//! | u32 count | count × (u32 len, record bytes)
//! ```

/// Records that arrived together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    /// When they arrived, Unix nanoseconds.
    pub received: i64,
    pub tenant: String,
    pub source: String,
    /// The parser configured for the source (`auto`, `syslog`, …), or
    /// `reject:REASON` for records a listener could not frame, which go to
    /// the dead letter with that reason.
    pub format: String,
    pub records: Vec<String>,
}

const VERSION: u8 = 1;

impl Batch {
    pub fn encode(&self) -> Vec<u8> {
        let size = 32 + self.tenant.len() + self.source.len() + self.records.iter().map(|r| r.len() + 4).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.push(VERSION);
        out.extend_from_slice(&self.received.to_le_bytes());
        put_str16(&mut out, &self.tenant);
        put_str16(&mut out, &self.source);
        let format = truncate(&self.format, usize::from(u8::MAX));
        out.push(format.len() as u8);
        out.extend_from_slice(format.as_bytes());
        out.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        for r in &self.records {
            out.extend_from_slice(&(r.len() as u32).to_le_bytes());
            out.extend_from_slice(r.as_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Batch, String> {
        let mut r = Cursor { bytes, at: 0 };
        let version = r.take(1)?[0];
        if version != VERSION {
            return Err(format!("unknown batch version {version}"));
        }
        let received = i64::from_le_bytes(r.array()?);
        let n = u16::from_le_bytes(r.array()?);
        let tenant = r.string(usize::from(n))?;
        let n = u16::from_le_bytes(r.array()?);
        let source = r.string(usize::from(n))?;
        let n = r.take(1)?[0];
        let format = r.string(usize::from(n))?;
        let count = u32::from_le_bytes(r.array()?) as usize;
        // Each record takes at least its 4-byte length: a count beyond that
        // is damage, not a reason to reserve memory.
        if count > (bytes.len() - r.at) / 4 {
            return Err(format!("record count {count} does not fit in the batch"));
        }
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u32::from_le_bytes(r.array()?) as usize;
            records.push(r.string(len)?);
        }
        if r.at != bytes.len() {
            return Err(format!("{} bytes after the last record", bytes.len() - r.at));
        }
        Ok(Batch { received, tenant, source, format, records })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn put_str16(out: &mut Vec<u8>, s: &str) {
    let s = truncate(s, usize::from(u16::MAX));
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or("batch cut short")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn string(&mut self, n: usize) -> Result<String, String> {
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "record is not UTF-8".to_string())
    }
}
