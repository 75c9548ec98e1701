use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use super::*;

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hinomi-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Appends and waits for the acknowledgement.
fn append(wal: &Wal, payload: &[u8]) -> u64 {
    let (tx, rx) = mpsc::channel();
    wal.append(payload.to_vec(), Box::new(move |r| tx.send(r).unwrap()));
    rx.recv().unwrap().unwrap()
}

fn read_all(wal: &Wal, from: u64) -> Vec<(u64, Vec<u8>)> {
    let mut reader = wal.reader(from);
    let mut out = Vec::new();
    while reader.position() < wal.end() {
        let mut payload = Vec::new();
        if let Some(pos) = reader.next(Duration::from_millis(10), &mut payload).unwrap() {
            out.push((pos, payload));
        }
    }
    out
}

#[test]
fn frames_come_back_in_order_across_segments() {
    let dir = tempdir("order");
    let mut config = WalConfig::new(&dir);
    config.segment_bytes = 64;
    let (wal, rec) = Wal::open(config.clone()).unwrap();
    assert_eq!(rec, Recovery::default());
    let positions: Vec<u64> = (0..20).map(|i| append(&wal, format!("frame {i:02} ........").as_bytes())).collect();
    let frames = read_all(&wal, 0);
    assert_eq!(frames.len(), 20);
    for (i, (pos, payload)) in frames.iter().enumerate() {
        assert_eq!(*pos, positions[i]);
        assert_eq!(payload, format!("frame {i:02} ........").as_bytes());
    }
    assert!(std::fs::read_dir(&dir).unwrap().count() > 5, "expected several segments");
    // Reading from the middle starts at that frame.
    assert_eq!(read_all(&wal, positions[7])[0].1, b"frame 07 ........");
    // Removing what a checkpoint covers keeps the rest readable.
    assert_eq!(wal.size(), wal.end());
    let removed = wal.remove_before(positions[15]).unwrap();
    assert!(removed > 0);
    // What is left starts at or before the frame kept.
    assert!(wal.size() >= wal.end() - positions[15] && wal.size() < wal.end(), "{}", wal.size());
    assert_eq!(read_all(&wal, positions[15]).len(), 5);
    drop(wal);
    // Reopening finds the same end.
    let (wal, rec) = Wal::open(config).unwrap();
    assert_eq!(rec.truncated, 0);
    assert_eq!(wal.end(), positions[19] + 8 + "frame 19 ........".len() as u64);
}

#[test]
fn a_sealed_log_read_to_its_end_can_be_removed_whole() {
    let dir = tempdir("seal");
    let config = WalConfig::new(&dir);
    let (wal, _) = Wal::open(config.clone()).unwrap();
    append(&wal, b"one");
    append(&wal, b"two");
    let end = wal.end();
    // Without a seal the current segment stays, whatever readers did.
    assert_eq!(wal.remove_before(end).unwrap(), 0);
    wal.seal().unwrap();
    // A second seal of an empty segment starts no other.
    wal.seal().unwrap();
    assert_eq!(wal.remove_before(end).unwrap(), 1);
    assert_eq!(wal.size(), 0);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    assert_eq!(left, vec![0]);
    drop(wal);
    let (wal, rec) = Wal::open(config).unwrap();
    assert_eq!((rec.end, rec.truncated), (end, 0));
    let three = append(&wal, b"three");
    assert_eq!(three, end);
    assert_eq!(read_all(&wal, end), vec![(end, b"three".to_vec())]);
}

#[test]
fn bytes_between_two_journal_positions_count_across_segments() {
    let dir = tempdir("between");
    std::fs::write(dir.join("000000.jsonl"), vec![b'a'; 100]).unwrap();
    std::fs::write(dir.join("000001.jsonl"), vec![b'b'; 50]).unwrap();
    std::fs::write(dir.join("000002.jsonl"), vec![b'c'; 30]).unwrap();
    let at = |segment, len| JournalPos { segment, len };
    assert_eq!(bytes_between(&dir, at(0, 40), at(0, 90)), 50);
    assert_eq!(bytes_between(&dir, at(0, 40), at(2, 10)), 60 + 50 + 10);
    assert_eq!(bytes_between(&dir, at(2, 30), at(2, 30)), 0);
    assert_eq!(bytes_between(&dir, at(2, 30), at(1, 0)), 0);
}

#[test]
fn a_torn_tail_is_cut_and_writing_goes_on_after_it() {
    let dir = tempdir("torn");
    let config = WalConfig::new(&dir);
    let (wal, _) = Wal::open(config.clone()).unwrap();
    append(&wal, b"one");
    let two = append(&wal, b"two");
    let end = wal.end();
    drop(wal);
    // A crash in the middle of the next frame: a header and half a payload.
    let seg = dir.join(format!("{:020}.wal", 0));
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[9, 0, 0, 0, 1, 2, 3, 4, b'x']).unwrap();
    drop(f);
    let (wal, rec) = Wal::open(config.clone()).unwrap();
    assert_eq!(rec, Recovery { end, truncated: 9 });
    let three = append(&wal, b"three");
    assert_eq!(three, end);
    let frames = read_all(&wal, 0);
    assert_eq!(frames.iter().map(|f| f.1.as_slice()).collect::<Vec<_>>(), [&b"one"[..], b"two", b"three"]);
    assert_eq!(frames[1].0, two);
    drop(wal);
    // A flipped byte inside the last frame is a bad checksum: cut as well.
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    let (_, rec) = Wal::open(config).unwrap();
    assert_eq!(rec.end, three);
    assert_eq!(rec.truncated, 8 + 5);
}

/// Appends several frames as one transaction and waits for it.
fn append_all(wal: &Wal, payloads: &[&[u8]]) -> u64 {
    let (tx, rx) = mpsc::channel();
    wal.append_all(payloads.iter().map(|p| p.to_vec()).collect(), Box::new(move |r| tx.send(r).unwrap()));
    rx.recv().unwrap().unwrap()
}

#[test]
fn a_transaction_is_kept_whole_or_cut_whole() {
    let dir = tempdir("txn");
    let mut config = WalConfig::new(&dir);
    // Smaller than the transaction: it goes into one segment anyway.
    config.segment_bytes = 24;
    let (wal, _) = Wal::open(config.clone()).unwrap();
    append(&wal, b"before");
    let last = append_all(&wal, &[b"a1", b"a2", b"a3"]);
    let frames = read_all(&wal, 0);
    assert_eq!(frames.iter().map(|f| f.1.as_slice()).collect::<Vec<_>>(), [&b"before"[..], b"a1", b"a2", b"a3"]);
    assert_eq!(frames[3].0, last, "the answer is the last frame's position");
    let segment_of = |pos: u64| dir.join(format!("{pos:020}.wal"));
    assert!(
        segment_of(frames[1].0).exists() && !segment_of(frames[2].0).exists(),
        "the transaction begins a new segment and stays in it"
    );
    let end = wal.end();
    drop(wal);
    // A crash after two of three frames of the next transaction: both are
    // whole and their checksums good, and still both are cut.
    let mut f = std::fs::OpenOptions::new().append(true).open(segment_of(frames[1].0)).unwrap();
    for payload in [&b"b1"[..], b"b2"] {
        f.write_all(&(payload.len() as u32 | 1 << 31).to_le_bytes()).unwrap();
        f.write_all(&crc32fast::hash(payload).to_le_bytes()).unwrap();
        f.write_all(payload).unwrap();
    }
    drop(f);
    let (wal, rec) = Wal::open(config).unwrap();
    assert_eq!(rec, Recovery { end, truncated: 2 * (8 + 2) });
    append_all(&wal, &[b"c1", b"c2"]);
    let after: Vec<Vec<u8>> = read_all(&wal, 0).into_iter().map(|f| f.1).collect();
    assert_eq!(after, [&b"before"[..], b"a1", b"a2", b"a3", b"c1", b"c2"]);
}

#[test]
fn a_large_transaction_is_written_from_its_payloads_in_log_order() {
    let dir = tempdir("direct");
    let config = WalConfig::new(&dir);
    let (wal, _) = Wal::open(config.clone()).unwrap();
    // Larger than the writer's buffer: written straight from the payloads,
    // after what was queued before it and before what comes after.
    let big: Vec<Vec<u8>> = (0..3u8).map(|i| vec![b'a' + i; 5 << 20]).collect();
    let (tx, rx) = mpsc::channel();
    let (done_small, small) = mpsc::channel();
    let before = wal.clone();
    before.append(b"before".to_vec(), Box::new(move |r| done_small.send(r).unwrap()));
    wal.append_all(big.clone(), Box::new(move |r| tx.send(r).unwrap()));
    let after = append(&wal, b"after");
    let (first, last) = (small.recv().unwrap().unwrap(), rx.recv().unwrap().unwrap());
    let frames = read_all(&wal, 0);
    let payloads: Vec<&[u8]> = frames.iter().map(|f| f.1.as_slice()).collect();
    assert_eq!(payloads, [&b"before"[..], &big[0], &big[1], &big[2], b"after"]);
    assert_eq!((frames[0].0, frames[3].0, frames[4].0), (first, last, after));
    let end = wal.end();
    drop(wal);
    let (_, rec) = Wal::open(config).unwrap();
    assert_eq!(rec, Recovery { end, truncated: 0 });
}

#[test]
fn many_senders_share_syncs() {
    let dir = tempdir("group");
    let (wal, _) = Wal::open(WalConfig::new(&dir)).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || (0..50).map(|i| append(&wal, format!("{t}:{i}").as_bytes())).collect::<Vec<_>>())
        })
        .collect();
    let mut positions: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 400, "every append got its own position");
    assert_eq!(read_all(&wal, 0).len(), 400);
}

#[test]
fn batches_round_trip_and_damage_is_an_error() {
    let batch = Batch {
        received: 1_700_000_000_123_456_789,
        tenant: "default".into(),
        source: "fw".into(),
        format: "cef".into(),
        records: vec!["CEF:0|a|b|1|x|y|1|".into(), String::new(), "日本語".into()],
    };
    let bytes = batch.encode();
    assert_eq!(Batch::decode(&bytes).unwrap(), batch);
    for cut in 0..bytes.len() {
        assert!(Batch::decode(&bytes[..cut]).is_err(), "cut at {cut} decoded");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(Batch::decode(&long).unwrap_err(), "1 bytes after the last record");
    let mut version = bytes;
    version[0] = 9;
    assert_eq!(Batch::decode(&version).unwrap_err(), "unknown batch version 9");
}

#[test]
fn journals_are_cut_back_to_the_checkpoint() {
    let dir = tempdir("journal");
    let path = dir.join("checkpoint.json");
    assert_eq!(Checkpoint::load(&path).unwrap(), Checkpoint::default());
    let mut j = Journal::open(dir.join("events"), JournalPos::default()).unwrap();
    j.write_line(b"{\"n\":1}").unwrap();
    let at = j.sync().unwrap();
    let mut cp = Checkpoint { wal: 42, ..Checkpoint::default() };
    cp.journals.insert("events".into(), at);
    cp.save(&path).unwrap();
    j.write_line(b"{\"n\":2}").unwrap();
    j.flush().unwrap();
    drop(j);
    let cp = Checkpoint::load(&path).unwrap();
    assert_eq!(cp.wal, 42);
    let j = Journal::open(dir.join("events"), cp.journals["events"]).unwrap();
    drop(j);
    let mut lines = Vec::new();
    read_lines(&dir.join("events"), |l| {
        lines.push(l.to_string());
        true
    })
    .unwrap();
    assert_eq!(lines, ["{\"n\":1}"]);
    // A journal shorter than its checkpoint was changed by someone else.
    let mut bad = cp.journals["events"];
    bad.len += 100;
    let err = Journal::open(dir.join("events"), bad).err().unwrap();
    assert!(err.to_string().contains("checkpoint says"), "{err}");
}

#[test]
fn the_index_finds_a_keys_newest_lines_reading_only_what_is_new() {
    let dir = tempdir("index").join("alerts");
    let mut j = Journal::open(&dir, JournalPos::default()).unwrap();
    // Small segments: the lines span several files.
    j.segment_bytes = 64;
    let line = |tenant: &str, n: u32| format!("{{\"tenant\":\"{tenant}\",\"n\":{n}}}");
    let mut checkpointed = JournalPos::default();
    for n in 0..10 {
        j.write_line(line(if n % 3 == 0 { "a" } else { "b" }, n).as_bytes()).unwrap();
        if n == 8 {
            checkpointed = j.sync().unwrap();
        }
    }
    j.flush().unwrap();
    let key = |l: &str| serde_json::from_str::<serde_json::Value>(l).ok()?["tenant"].as_str().map(str::to_string);
    let mut index = JournalIndex::new(&dir, 3);
    // Lines past the checkpoint may still be cut: they wait.
    index.refresh(checkpointed, key).unwrap();
    assert_eq!(index.newest("a", 2, usize::MAX).unwrap().0, [line("a", 3), line("a", 6)]);
    index.refresh(j.position(), key).unwrap();
    assert_eq!(index.newest("a", 2, usize::MAX).unwrap().0, [line("a", 6), line("a", 9)]);
    assert_eq!(
        index.newest("b", 100, usize::MAX).unwrap().0,
        [line("b", 5), line("b", 7), line("b", 8)],
        "at most `keep` per key"
    );
    assert!(index.newest("c", 5, usize::MAX).unwrap().0.is_empty());
    // A line half written is not indexed until it is whole.
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(format!("{:06}.jsonl", j.position().segment)))
        .unwrap()
        .write_all(b"{\"tenant\":\"a\",\"n\":")
        .unwrap();
    index.refresh(JournalPos { segment: u32::MAX, len: u64::MAX }, key).unwrap();
    assert_eq!(index.newest("a", 1, usize::MAX).unwrap().0, [line("a", 9)]);
    // What is written later is found without reading the rest again:
    // the old segments may be gone by then.
    let mut j = Journal::open(&dir, j.position()).unwrap();
    j.segment_bytes = 64;
    j.write_line(line("a", 10).as_bytes()).unwrap();
    j.flush().unwrap();
    std::fs::remove_file(dir.join("000000.jsonl")).unwrap();
    index.refresh(j.position(), key).unwrap();
    assert_eq!(index.newest("a", 1, usize::MAX).unwrap().0, [line("a", 10)]);
    // A listing takes the newest lines that fit in its bytes, and says
    // when it left older ones out.
    let b = line("b", 5).len() + 1;
    assert_eq!(index.newest("b", 3, 2 * b).unwrap(), (vec![line("b", 7), line("b", 8)], true));
    assert_eq!(index.newest("b", 2, 2 * b).unwrap(), (vec![line("b", 7), line("b", 8)], false));
    assert_eq!(index.newest("b", 3, b - 1).unwrap(), (vec![], true));
}
