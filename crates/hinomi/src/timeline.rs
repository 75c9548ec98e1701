//! Detections put in time order with bounded memory.
//!
//! Workers render each detection to its output record as soon as it is
//! found and hand batches of `(Key, record)` to a [`Timeline`]. The timeline
//! keeps records in memory up to a budget; past it, it sorts them and spills
//! them to an unnamed temporary file (a "run"). [`Timeline::finish`] merges
//! the runs and the rest in key order. Keys are unique (file and event position
//! are part of them), so the output is the same whatever the threads did.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Order of events with detections: by event time (events without one
/// last), then by input file and position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) no_time: bool,
    pub(crate) nanos: i128,
    pub(crate) file: u32,
    pub(crate) seq: u64,
}

const KEY_LEN: usize = 1 + 16 + 4 + 8;

impl Key {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.no_time));
        out.extend_from_slice(&self.nanos.to_le_bytes());
        out.extend_from_slice(&self.file.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
    }

    fn decode(b: &[u8; KEY_LEN]) -> Key {
        let mut nanos = [0u8; 16];
        nanos.copy_from_slice(&b[1..17]);
        let mut file = [0u8; 4];
        file.copy_from_slice(&b[17..21]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[21..29]);
        Key {
            no_time: b[0] != 0,
            nanos: i128::from_le_bytes(nanos),
            file: u32::from_le_bytes(file),
            seq: u64::from_le_bytes(seq),
        }
    }
}

pub(crate) type Record = (Key, Box<[u8]>);

pub(crate) struct Timeline {
    budget: usize,
    mem: Vec<Record>,
    bytes: usize,
    runs: Vec<File>,
    error: Option<io::Error>,
    count: u64,
}

impl Timeline {
    /// Keeps up to `budget` bytes of records in memory before spilling.
    pub(crate) fn new(budget: usize) -> Timeline {
        Timeline { budget, mem: Vec::new(), bytes: 0, runs: Vec::new(), error: None, count: 0 }
    }

    /// Takes a batch of records (leaving `batch` empty). Past the budget it
    /// returns the records to spill: the caller writes them with
    /// [`write_run`] outside any lock and hands the run back with
    /// [`Timeline::add_run`], so other threads are not held up.
    #[must_use]
    pub(crate) fn push(&mut self, batch: &mut Vec<Record>) -> Option<Vec<Record>> {
        self.count += batch.len() as u64;
        self.bytes += batch.iter().map(|(_, r)| r.len() + KEY_LEN + 16).sum::<usize>();
        self.mem.append(batch);
        if self.bytes > self.budget {
            self.bytes = 0;
            return Some(std::mem::take(&mut self.mem));
        }
        None
    }

    /// Takes a run written by [`write_run`], or the error of writing it
    /// (reported by [`Timeline::finish`]).
    pub(crate) fn add_run(&mut self, run: io::Result<File>) {
        match run {
            Ok(file) => self.runs.push(file),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Records (events with detections) taken so far.
    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    fn spill(&mut self) -> io::Result<()> {
        let run = write_run(std::mem::take(&mut self.mem))?;
        self.runs.push(run);
        self.bytes = 0;
        Ok(())
    }

    /// Hands every record to `emit`, in key order.
    pub(crate) fn finish(mut self, mut emit: impl FnMut(&Key, &[u8]) -> io::Result<()>) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.runs.is_empty() {
            self.mem.sort_unstable_by_key(|(k, _)| *k);
            for (key, record) in &self.mem {
                emit(key, record)?;
            }
            return Ok(());
        }
        if !self.mem.is_empty() {
            self.spill()?;
        }
        let mut readers: Vec<RunReader> = self
            .runs
            .into_iter()
            .map(|f| RunReader { r: BufReader::with_capacity(1 << 20, f), buf: Vec::new() })
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(key) = r.next()? {
                heap.push(Reverse((key, i)));
            }
        }
        while let Some(Reverse((key, i))) = heap.pop() {
            emit(&key, &readers[i].buf)?;
            if let Some(next) = readers[i].next()? {
                heap.push(Reverse((next, i)));
            }
        }
        Ok(())
    }
}

/// Sorts records and writes them to an unlinked temporary file, rewound
/// for reading.
pub(crate) fn write_run(mut records: Vec<Record>) -> io::Result<File> {
    records.sort_unstable_by_key(|(k, _)| *k);
    let mut file = temp_file()?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, &mut file);
        let mut head = Vec::with_capacity(KEY_LEN + 4);
        for (key, record) in records {
            head.clear();
            key.encode(&mut head);
            head.extend_from_slice(&(record.len() as u32).to_le_bytes());
            w.write_all(&head)?;
            w.write_all(&record)?;
        }
        w.flush()?;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

struct RunReader {
    r: BufReader<File>,
    buf: Vec<u8>,
}

impl RunReader {
    /// Reads the next record into `buf`; `None` at the end of the run.
    fn next(&mut self) -> io::Result<Option<Key>> {
        let mut head = [0u8; KEY_LEN + 4];
        match self.r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(&head[..KEY_LEN]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&head[KEY_LEN..]);
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        self.r.read_exact(&mut self.buf)?;
        Ok(Some(Key::decode(&key)))
    }
}

/// A temporary file that is already unlinked (`tempfile`: a random name
/// made with `O_EXCL`, or `O_TMPFILE`), so nothing is left behind even if
/// the process is killed, and nobody can plant the name first.
fn temp_file() -> io::Result<File> {
    tempfile::tempfile()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(nanos: i128, seq: u64) -> Key {
        Key { no_time: false, nanos, file: 0, seq }
    }

    /// The same records come out in the same order whether or not the
    /// timeline spilled, and however they were batched.
    #[test]
    fn spilled_and_in_memory_orders_agree() {
        let records: Vec<Record> = (0..5_000u64)
            .map(|i| (key(((i * 7919) % 1000) as i128, i), format!("line {i}\n").into_bytes().into_boxed_slice()))
            .collect();
        let collect = |budget: usize| {
            let mut t = Timeline::new(budget);
            for chunk in records.chunks(333) {
                if let Some(spill) = t.push(&mut chunk.to_vec()) {
                    t.add_run(write_run(spill));
                }
            }
            let mut out = Vec::new();
            t.finish(|k, r| {
                out.push((*k, r.to_vec()));
                Ok(())
            })
            .unwrap();
            out
        };
        let in_memory = collect(usize::MAX);
        let spilled = collect(2_000);
        assert_eq!(in_memory.len(), 5_000);
        assert_eq!(in_memory, spilled);
        assert!(in_memory.windows(2).all(|w| w[0].0 < w[1].0));
        let mut no_time = key(0, 1);
        no_time.no_time = true;
        assert!(key(i128::MAX, 0) < no_time, "events without a time sort last");
    }
}
