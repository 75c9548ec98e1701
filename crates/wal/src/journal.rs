//! Append-only JSON-lines outputs (events, alerts, dead letters) whose state
//! is tied to the checkpoint.
//!
//! A journal is a directory of numbered segment files. Its position is the
//! current segment and its length; the checkpoint records it together with
//! the log position the outputs cover. On open the journal is cut back to the
//! checkpointed position, so lines written after the last checkpoint (which
//! the log will replay) are not written twice.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
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
    pub(crate) segment_bytes: u64,
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

    /// Cuts the journal back to `at`, as [`Journal::open`] does: after a
    /// failed write, what the pipeline writes again replaces what is cut.
    pub fn rewind(&mut self, at: JournalPos) -> io::Result<()> {
        let segment_bytes = self.segment_bytes;
        *self = Journal::open(self.dir.clone(), at)?;
        self.segment_bytes = segment_bytes;
        Ok(())
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
/// Bytes of a journal from `from` to `to` (positions of one journal,
/// `from` first): what a reader at `from` has left to read.
pub fn bytes_between(dir: &Path, from: JournalPos, to: JournalPos) -> u64 {
    if from.segment >= to.segment {
        return to.len.saturating_sub(from.len);
    }
    let size = |seg| std::fs::metadata(segment_path(dir, seg)).map_or(0, |m| m.len());
    let middle: u64 = (from.segment + 1..to.segment).map(size).sum();
    size(from.segment).saturating_sub(from.len) + middle + to.len
}

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

/// Where a line lies: its start and its length (with the newline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    at: JournalPos,
    len: u32,
}

/// An index of a journal's lines by a key each line names (its tenant),
/// for readers beside the writer: each [`JournalIndex::refresh`] reads
/// only what was written since the last, so the newest lines of one key
/// are found without reading the whole journal again. It keeps the
/// positions of the newest `keep` lines of each key, not the lines.
pub struct JournalIndex {
    dir: PathBuf,
    at: JournalPos,
    keep: usize,
    lines: HashMap<String, VecDeque<Span>>,
}

impl JournalIndex {
    pub fn new(dir: impl Into<PathBuf>, keep: usize) -> JournalIndex {
        JournalIndex { dir: dir.into(), at: JournalPos::default(), keep: keep.max(1), lines: HashMap::new() }
    }

    /// Indexes the lines written since the last call, up to `to`; `key`
    /// says whose a line is (lines it says nothing of are not indexed).
    ///
    /// `to` is the journal's checkpointed position: lines past it may be
    /// cut and written again (after a failed write the pipeline rewinds
    /// to the checkpoint), so an index that took them would point into
    /// lines that change under it.
    pub fn refresh(&mut self, to: JournalPos, key: impl Fn(&str) -> Option<String>) -> io::Result<()> {
        let mut prev = self.at;
        let (keep, lines) = (self.keep, &mut self.lines);
        read_range(&self.dir, self.at, to, |line, after| {
            let at = if prev.segment == after.segment { prev } else { JournalPos { segment: after.segment, len: 0 } };
            prev = after;
            if let Some(k) = key(line) {
                let len = u32::try_from(after.len - at.len).unwrap_or(u32::MAX);
                let list = lines.entry(k).or_default();
                if list.len() == keep {
                    list.pop_front();
                }
                list.push_back(Span { at, len });
            }
            true
        })?;
        self.at = prev;
        Ok(())
    }

    /// The newest `limit` lines of `key`, oldest first, as many as fit in
    /// `max_bytes`; `true` when lines were left out for the bytes (a
    /// listing must not hold a whole journal of large lines in memory).
    pub fn newest(&self, key: &str, limit: usize, max_bytes: usize) -> io::Result<(Vec<String>, bool)> {
        let Some(list) = self.lines.get(key) else { return Ok((Vec::new(), false)) };
        // Newest first, as long as they fit; then read oldest first.
        let first = list.len().saturating_sub(limit);
        let (mut start, mut total) = (list.len(), 0usize);
        while start > first && total + list[start - 1].len as usize <= max_bytes {
            start -= 1;
            total += list[start].len as usize;
        }
        let cut = start > first;
        let mut out = Vec::with_capacity(list.len() - start);
        let mut open: Option<(u32, File)> = None;
        for span in list.range(start..) {
            let file = match &mut open {
                Some((seg, file)) if *seg == span.at.segment => file,
                _ => &mut open.insert((span.at.segment, File::open(segment_path(&self.dir, span.at.segment))?)).1,
            };
            file.seek(io::SeekFrom::Start(span.at.len))?;
            let mut bytes = vec![0; span.len as usize];
            file.read_exact(&mut bytes)?;
            let text =
                String::from_utf8(bytes).map_err(|e| io::Error::other(format!("a journal line is not UTF-8: {e}")))?;
            out.push(text.trim_end().to_string());
        }
        Ok((out, cut))
    }
}
