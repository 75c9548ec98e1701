//! The write-ahead log: every accepted batch is framed, appended and synced
//! before its sender is told "accepted".
//!
//! The log is a directory of segment files, each named by the log position
//! of its first byte (`00000000000000000000.wal`), so a position is a plain
//! `u64` that never repeats. A frame is
//!
//! ```text
//! u32 payload length | u32 CRC-32 of the payload | payload
//! ```
//!
//! all little-endian. One writer thread takes appends from a bounded queue,
//! writes every waiting frame at once and syncs once for them all (group
//! commit), then answers each sender. On open, the last segment is checked
//! frame by frame and a torn tail (a frame cut short or with a bad CRC, as a
//! crash mid-write leaves it) is cut off: nothing after it was acknowledged.
//!
//! An append of several frames is one transaction: the top bit of every
//! length but the last says "more of this transaction follows". The frames
//! are written in one write and published to readers together; a failed
//! write is cut off the file before anything else is written, and on open
//! a transaction without its last frame is cut off with the torn tail. So a
//! request whose records fill several frames is stored whole or not at
//! all, and a sender told "failed" may retry without storing anything twice.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Frames above this size are refused: a length read from a damaged file
/// must not make the reader allocate gigabytes.
pub(crate) const MAX_FRAME: usize = 256 << 20;
const HEADER: usize = 8;
/// Set in a frame's length when the next frame belongs to its transaction.
/// Lengths are below `MAX_FRAME`, so the bit is free; logs written before
/// transactions never set it.
const MORE: u32 = 1 << 31;
/// Transactions larger than this are written straight from their payloads
/// rather than copied into the writer's buffer first.
const DIRECT: usize = 8 << 20;

/// A frame's header: length (with [`MORE`] when `more`) and CRC.
fn header(payload: &[u8], more: bool) -> [u8; HEADER] {
    let mut h = [0; HEADER];
    h[..4].copy_from_slice(&(payload.len() as u32 | if more { MORE } else { 0 }).to_le_bytes());
    h[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    h
}

/// How the log is kept.
#[derive(Debug, Clone)]
pub struct WalConfig {
    pub dir: PathBuf,
    /// A new segment starts once the current one is this large.
    pub segment_bytes: u64,
    /// `fdatasync` each group before acknowledging it. Off only for tests
    /// and benchmarks that accept losing acknowledged data on power loss.
    pub sync: bool,
    /// Appends waiting for the writer; a full queue blocks senders.
    pub queue: usize,
}

impl WalConfig {
    pub fn new(dir: impl Into<PathBuf>) -> WalConfig {
        WalConfig { dir: dir.into(), segment_bytes: 64 << 20, sync: true, queue: 4096 }
    }
}

/// Called once an append is durable (`Ok(position)` of its last frame) or
/// could not be written (then none of its frames was).
pub type Done = Box<dyn FnOnce(Result<u64, String>) + Send>;

struct Append {
    /// The frames of one transaction; none asks for a new segment
    /// ([`Wal::seal`]).
    payloads: Vec<Vec<u8>>,
    done: Done,
}

/// State the writer publishes to readers.
struct Shared {
    /// Log position up to which frames are durable.
    end: Mutex<u64>,
    /// Where the oldest segment on disk starts.
    start: std::sync::atomic::AtomicU64,
    grew: Condvar,
    dir: PathBuf,
}

/// The writing side; clone it freely (all clones feed one writer thread).
#[derive(Clone)]
pub struct Wal {
    tx: SyncSender<Append>,
    shared: Arc<Shared>,
}

/// What opening found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Where the log ends: the next frame's position.
    pub end: u64,
    /// Bytes of a torn tail that were cut off.
    pub truncated: u64,
}

impl Wal {
    /// Opens (or creates) the log in `config.dir`, repairs a torn tail and
    /// starts the writer thread.
    pub fn open(config: WalConfig) -> io::Result<(Wal, Recovery)> {
        fs::create_dir_all(&config.dir)?;
        let segments = segments(&config.dir)?;
        let (start, mut file, recovery) = match segments.last() {
            None => {
                let file = create_segment(&config.dir, 0)?;
                (0, file, Recovery::default())
            }
            Some(&start) => {
                let path = segment_path(&config.dir, start);
                let valid = scan_valid(&path)?;
                let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
                let len = file.metadata()?.len();
                if valid < len {
                    file.set_len(valid)?;
                    file.sync_all()?;
                }
                file.seek(SeekFrom::Start(valid))?;
                (start, file, Recovery { end: start + valid, truncated: len - valid })
            }
        };
        file.seek(SeekFrom::End(0))?;
        let first = segments.first().copied().unwrap_or(0);
        let shared = Arc::new(Shared {
            end: Mutex::new(recovery.end),
            start: first.into(),
            grew: Condvar::new(),
            dir: config.dir.clone(),
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue.max(1));
        let writer =
            Writer { config, file, segment_start: start, end: recovery.end, dirty: false, shared: shared.clone() };
        std::thread::Builder::new().name("wal-writer".into()).spawn(move || writer.run(rx))?;
        Ok((Wal { tx, shared }, recovery))
    }

    /// Queues `payload`; `done` is called from the writer thread once it is
    /// durable. Blocks while the queue is full.
    pub fn append(&self, payload: Vec<u8>, done: Done) {
        self.append_all(vec![payload], done);
    }

    /// Queues `payloads` as one transaction: `done` gets the position of
    /// the last frame once all are durable, or an error and then none of
    /// them is in the log, now or after a crash.
    pub fn append_all(&self, payloads: Vec<Vec<u8>>, done: Done) {
        if payloads.is_empty() {
            return done(Ok(self.end()));
        }
        if let Err(e) = self.tx.send(Append { payloads, done }) {
            (e.0.done)(Err("the write-ahead log is closed".into()));
        }
    }

    /// Like [`Wal::append`] but gives the payload back when the queue is full.
    pub fn try_append(&self, payload: Vec<u8>, done: Done) -> Result<(), (Vec<u8>, Done)> {
        match self.tx.try_send(Append { payloads: vec![payload], done }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(mut a)) => Err((a.payloads.pop().unwrap_or_default(), a.done)),
            Err(TrySendError::Disconnected(a)) => {
                (a.done)(Err("the write-ahead log is closed".into()));
                Ok(())
            }
        }
    }

    /// The position up to which the log is durable.
    pub fn end(&self) -> u64 {
        self.shared.end.lock().map_or(0, |e| *e)
    }

    /// Bytes of log on disk: from the start of the oldest segment kept to
    /// the end.
    pub fn size(&self) -> u64 {
        self.end().saturating_sub(self.shared.start.load(std::sync::atomic::Ordering::Acquire))
    }

    /// A reader starting at `from` (a frame boundary, e.g. a checkpoint).
    pub fn reader(&self, from: u64) -> WalReader {
        WalReader { shared: self.shared.clone(), pos: from, file: None, file_end: 0 }
    }

    /// Ends the current segment (when it holds anything): the next frame
    /// starts a new one, so that once every reader is past the end,
    /// [`Wal::remove_before`] can delete all the log holds. A finished
    /// import or a stopped server then leaves no copy of its records.
    pub fn seal(&self) -> io::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let done: Done = Box::new(move |r| {
            let _ = tx.send(r);
        });
        if let Err(e) = self.tx.send(Append { payloads: Vec::new(), done }) {
            (e.0.done)(Err("the write-ahead log is closed".into()));
        }
        match rx.recv() {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(io::Error::other(e)),
            Err(_) => Err(io::Error::other("the write-ahead log is closed")),
        }
    }

    /// Deletes the segments that end at or before `pos`: everything before
    /// it is in the outputs and covered by a checkpoint.
    pub fn remove_before(&self, pos: u64) -> io::Result<usize> {
        let segments = segments(&self.shared.dir)?;
        let mut removed = 0;
        for pair in segments.windows(2) {
            if pair[1] <= pos {
                fs::remove_file(segment_path(&self.shared.dir, pair[0]))?;
                self.shared.start.store(pair[1], std::sync::atomic::Ordering::Release);
                removed += 1;
            }
        }
        Ok(removed)
    }
}

struct Writer {
    config: WalConfig,
    file: File,
    segment_start: u64,
    /// Where the durable frames end.
    end: u64,
    /// A write failed and what it left past `end` is not cut off yet.
    dirty: bool,
    shared: Arc<Shared>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Append>) {
        let mut buf = Vec::with_capacity(1 << 20);
        // Appends whose frames are in `buf`, answered at its flush.
        let mut waiting: Vec<(u64, Done)> = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(append) = next.take() {
                self.add(append, &mut buf, &mut waiting);
                if buf.len() < DIRECT {
                    next = rx.try_recv().ok();
                }
            }
            self.flush_and_answer(&mut buf, &mut waiting);
        }
    }

    /// Frames one append into `buf`; a large one is written straight from
    /// its payloads instead, so a request's records are not held twice.
    fn add(&mut self, append: Append, buf: &mut Vec<u8>, waiting: &mut Vec<(u64, Done)>) {
        if append.payloads.is_empty() {
            let sealed = if !self.flush_and_answer(buf, waiting) {
                Err("write-ahead log: the frames before a new segment could not be written".to_string())
            } else if self.end > self.segment_start {
                self.rotate().map(|()| self.end).map_err(|e| format!("write-ahead log: starting a new segment: {e}"))
            } else {
                Ok(self.end)
            };
            return (append.done)(sealed);
        }
        if let Some(len) = append.payloads.iter().map(Vec::len).find(|&len| len > MAX_FRAME) {
            return (append.done)(Err(format!("batch of {len} bytes is larger than the {MAX_FRAME}-byte frame limit")));
        }
        // A transaction never straddles two segments (a segment may grow
        // past its size for one large transaction).
        let size: u64 = append.payloads.iter().map(|p| (HEADER + p.len()) as u64).sum();
        let used = self.end - self.segment_start + buf.len() as u64;
        if used > 0 && used + size > self.config.segment_bytes && self.flush_and_answer(buf, waiting) {
            // Not fatal: the current segment goes on, and the next append
            // tries again (a descriptor may be free by then).
            if let Err(e) = self.rotate() {
                tracing::warn!(error = %e, "starting a new log segment failed; the current one grows");
            }
        }
        if size > DIRECT as u64 {
            // What is waiting goes first, in log order; then this one alone.
            self.flush_and_answer(buf, waiting);
            let last = self.end + size - (HEADER + append.payloads.last().map_or(0, Vec::len)) as u64;
            let written = self.write_frames(&append.payloads);
            drop(append.payloads);
            return (append.done)(written.map(|()| last).map_err(|e| format!("write-ahead log: {e}")));
        }
        let mut last = 0;
        let n = append.payloads.len();
        for (i, payload) in append.payloads.iter().enumerate() {
            last = self.end + buf.len() as u64;
            buf.extend_from_slice(&header(payload, i + 1 < n));
            buf.extend_from_slice(payload);
        }
        waiting.push((last, append.done));
    }

    /// Writes one transaction's frames from its payloads, a frame at a
    /// time, and syncs: what [`Writer::flush`] does for a buffer.
    fn write_frames(&mut self, payloads: &[Vec<u8>]) -> io::Result<()> {
        let n = payloads.len();
        let mut len = 0;
        let written = self.repair().and_then(|()| {
            for (i, payload) in payloads.iter().enumerate() {
                self.file.write_all(&header(payload, i + 1 < n))?;
                self.file.write_all(payload)?;
                len += (HEADER + payload.len()) as u64;
            }
            if self.config.sync {
                self.file.sync_data()?;
            }
            Ok(())
        });
        self.published(written, len)
    }

    /// Writes `buf` and answers every waiting append; whether it worked.
    fn flush_and_answer(&mut self, buf: &mut Vec<u8>, waiting: &mut Vec<(u64, Done)>) -> bool {
        let written = self.flush(buf);
        for (pos, done) in waiting.drain(..) {
            match &written {
                Ok(()) => done(Ok(pos)),
                Err(e) => done(Err(format!("write-ahead log: {e}"))),
            }
        }
        written.is_ok()
    }

    fn flush(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let written = self.repair().and_then(|()| {
            self.file.write_all(buf)?;
            if self.config.sync {
                self.file.sync_data()?;
            }
            Ok(())
        });
        let len = buf.len() as u64;
        buf.clear();
        self.published(written, len)
    }

    /// After a write of `len` bytes: publishes them to readers, or marks
    /// what reached the file to be cut.
    fn published(&mut self, written: io::Result<()>, len: u64) -> io::Result<()> {
        if let Err(e) = written {
            // Whatever reached the file past `end` was not acknowledged:
            // cut it before anything else is written (the file appends).
            self.dirty = true;
            let _ = self.repair();
            return Err(e);
        }
        self.end += len;
        if let Ok(mut end) = self.shared.end.lock() {
            *end = self.end;
        }
        self.shared.grew.notify_all();
        Ok(())
    }

    /// Cuts what a failed write left after `end`.
    fn repair(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.set_len(self.end - self.segment_start)?;
            self.file.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let file = create_segment(&self.config.dir, self.end)?;
        if self.config.sync
            && let Err(e) = File::open(&self.config.dir).and_then(|d| d.sync_all())
        {
            // An empty segment at `end` beside a current one that goes on
            // would mislead readers.
            let _ = fs::remove_file(segment_path(&self.config.dir, self.end));
            return Err(e);
        }
        self.file = file;
        self.segment_start = self.end;
        Ok(())
    }
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.wal"))
}

fn create_segment(dir: &Path, start: u64) -> io::Result<File> {
    OpenOptions::new().create(true).read(true).append(true).open(segment_path(dir, start))
}

/// Segment start positions, ascending.
fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(start) = name.to_str().and_then(|n| n.strip_suffix(".wal")).and_then(|n| n.parse::<u64>().ok()) {
            out.push(start);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The length of the whole transactions at the start of a segment: a
/// transaction cut short by a crash ends the valid part at its first frame.
fn scan_valid(path: &Path) -> io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let (mut valid, mut read) = (0u64, 0u64);
    let mut payload = Vec::new();
    loop {
        match read_frame(&mut reader, &mut payload) {
            Ok(Some(frame)) => {
                read += frame.len as u64;
                if !frame.more {
                    valid = read;
                }
            }
            Ok(None) | Err(_) => return Ok(valid),
        }
    }
}

/// What [`read_frame`] found.
struct FrameRead {
    /// The frame's length in the log, header included.
    len: usize,
    /// The next frame belongs to this one's transaction.
    more: bool,
}

/// Reads one frame into `payload`; `Ok(None)` at a clean end, an error for
/// a cut or damaged frame.
fn read_frame(reader: &mut impl Read, payload: &mut Vec<u8>) -> io::Result<Option<FrameRead>> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match reader.read(&mut header[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "frame header cut short")),
            n => got += n,
        }
    }
    let word = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let len = (word & !MORE) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame length {len} is beyond the limit")));
    }
    // Into the caller's buffer without zeroing it first: frames are large
    // and buffers are reused.
    payload.clear();
    payload.reserve(len);
    let got = reader.take(len as u64).read_to_end(payload)?;
    if got < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "frame cut short"));
    }
    if crc32fast::hash(payload) != crc {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame checksum mismatch"));
    }
    Ok(Some(FrameRead { len: HEADER + len, more: word & MORE != 0 }))
}

/// Reads frames in order from a position, waiting for the writer when it
/// has caught up.
pub struct WalReader {
    shared: Arc<Shared>,
    pos: u64,
    file: Option<BufReader<File>>,
    /// Where the open segment ends (the next segment's start), or `u64::MAX`.
    file_end: u64,
}

/// A damaged frame the reader skipped, with where.
#[derive(Debug)]
pub struct Skipped {
    pub position: u64,
    pub bytes: u64,
    pub reason: String,
}

impl WalReader {
    /// The position of the next frame.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Reads the next frame into `payload` (reused by the caller) and
    /// returns its position, waiting up to `wait` for one. `Ok(None)` when
    /// nothing new arrived in time.
    pub fn next(&mut self, wait: Duration, payload: &mut Vec<u8>) -> Result<Option<u64>, Skipped> {
        let Ok(mut end) = self.shared.end.lock() else { return Ok(None) };
        if *end <= self.pos {
            end = match self.shared.grew.wait_timeout(end, wait) {
                Ok((e, _)) => e,
                Err(_) => return Ok(None),
            };
            if *end <= self.pos {
                return Ok(None);
            }
        }
        drop(end);
        self.read_one(payload)
    }

    fn read_one(&mut self, payload: &mut Vec<u8>) -> Result<Option<u64>, Skipped> {
        let skipped = |pos: u64, bytes: u64, reason: String| Skipped { position: pos, bytes, reason };
        if self.file.is_none() || self.pos >= self.file_end {
            self.open_segment().map_err(|e| skipped(self.pos, 0, format!("cannot open segment: {e}")))?;
        }
        let Some(file) = self.file.as_mut() else { return Ok(None) };
        match read_frame(file, payload) {
            Ok(Some(frame)) => {
                let pos = self.pos;
                self.pos += frame.len as u64;
                Ok(Some(pos))
            }
            Ok(None) => {
                // The end of this segment while the log goes on: the writer
                // moved to a new segment since this one was opened.
                self.file = None;
                self.file_end = 0;
                Ok(None)
            }
            Err(e) => {
                // A damaged frame inside an older segment: the rest of that
                // segment cannot be framed, so go on at the next one.
                let from = self.pos;
                let next = self.file_end;
                self.file = None;
                if next == u64::MAX {
                    return Ok(None);
                }
                self.pos = next;
                Err(skipped(from, next - from, e.to_string()))
            }
        }
    }

    fn open_segment(&mut self) -> io::Result<()> {
        let segments = segments(&self.shared.dir)?;
        let idx = segments.partition_point(|&s| s <= self.pos);
        if idx == 0 {
            // Everything before the first segment is gone: start there.
            let first = segments.first().copied().unwrap_or(0);
            self.pos = first;
            return self.open_at(&segments, 0);
        }
        self.open_at(&segments, idx - 1)
    }

    fn open_at(&mut self, segments: &[u64], idx: usize) -> io::Result<()> {
        let start = segments.get(idx).copied().unwrap_or(0);
        let mut file = File::open(segment_path(&self.shared.dir, start))?;
        file.seek(SeekFrom::Start(self.pos - start))?;
        self.file_end = segments.get(idx + 1).copied().unwrap_or(u64::MAX);
        self.file = Some(BufReader::with_capacity(1 << 20, file));
        Ok(())
    }
}
