//! Append-only JSON-lines outputs (events, alerts, dead letters) whose state
//! is tied to the checkpoint.
//!
//! A journal is a directory of numbered segment files. Its position is the
//! current segment and its length; the checkpoint records it together with
//! the log position the outputs cover. On open the journal is cut back to the
//! checkpointed position, so lines written after the last checkpoint (which
//! the log will replay) are not written twice.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A point in a journal: segment number and byte length within it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalPos {
    pub segment: u32,
    pub len: u64,
}

pub struct Journal {
    dir: PathBuf,
    segment: u32,
    len: u64,
    out: BufWriter<File>,
    segment_bytes: u64,
}

impl Journal {
    /// Opens the journal in `dir` at `at`, removing what lies after it.
    pub fn open(dir: impl Into<PathBuf>, at: JournalPos) -> io::Result<Journal> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        for seg in segments(&dir)? {
            if seg > at.segment {
                fs::remove_file(segment_path(&dir, seg))?;
            }
        }
        let path = segment_path(&dir, at.segment);
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        let have = file.metadata()?.len();
        if have < at.len {
            return Err(io::Error::other(format!(
                "{} has {have} bytes but the checkpoint says {}: the data directory was changed behind Hinomi",
                path.display(),
                at.len
            )));
        }
        file.set_len(at.len)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        io::Seek::seek(out.get_mut(), io::SeekFrom::Start(at.len))?;
        Ok(Journal { dir, segment: at.segment, len: at.len, out, segment_bytes: 256 << 20 })
    }

    /// Appends one line (a newline is added).
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.len > 0 && self.len + line.len() as u64 + 1 > self.segment_bytes {
            self.out.flush()?;
            self.out.get_ref().sync_data()?;
            self.segment += 1;
            self.len = 0;
            let file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(segment_path(&self.dir, self.segment))?;
            self.out = BufWriter::with_capacity(1 << 20, file);
        }
        self.out.write_all(line)?;
        self.out.write_all(b"\n")?;
        self.len += line.len() as u64 + 1;
        Ok(())
    }

    /// Writes buffered lines to the file (readers see them).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and syncs; the returned position is durable.
    pub fn sync(&mut self) -> io::Result<JournalPos> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(JournalPos { segment: self.segment, len: self.len })
    }

    pub fn position(&self) -> JournalPos {
        JournalPos { segment: self.segment, len: self.len }
    }
}

fn segment_path(dir: &Path, seg: u32) -> PathBuf {
    dir.join(format!("{seg:06}.jsonl"))
}

fn segments(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(n) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")).and_then(|n| n.parse::<u32>().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Every complete line of a journal, oldest first, for readers running next
/// to the writer (a line still being written is left out).
pub fn read_lines(dir: &Path, mut each: impl FnMut(&str) -> bool) -> io::Result<()> {
    let end = JournalPos { segment: u32::MAX, len: u64::MAX };
    read_range(dir, JournalPos::default(), end, |line, _| each(line))
}

/// Complete lines between `from` and `to` (positions a writer synced),
/// each with the position just after it; stops when `each` returns false.
pub fn read_range(
    dir: &Path,
    from: JournalPos,
    to: JournalPos,
    mut each: impl FnMut(&str, JournalPos) -> bool,
) -> io::Result<()> {
    let segs = match segments(dir) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for seg in segs.into_iter().filter(|s| *s >= from.segment && *s <= to.segment) {
        let mut file = File::open(segment_path(dir, seg))?;
        let mut at = if seg == from.segment { from.len } else { 0 };
        io::Seek::seek(&mut file, io::SeekFrom::Start(at))?;
        let end = if seg == to.segment { to.len } else { u64::MAX };
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        while at < end {
            line.clear();
            let n = reader.read_line(&mut line)? as u64;
            if n == 0 || !line.ends_with('\n') || at + n > end {
                break;
            }
            at += n;
            if !each(line.trim_end(), JournalPos { segment: seg, len: at }) {
                return Ok(());
            }
        }
    }
    Ok(())
}
