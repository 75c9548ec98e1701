//! What indexing costs without the rest of the server: `cargo run --release
//! -p eventstore --example index -- FILE.ndjson DIR [THREADS]`. Normalizes
//! the file's records and adds them to a new store in `DIR` the way the
//! engine's indexer does (chunks of 4 MiB, documents built on a pool,
//! a commit every 2 s, the store closed and merged at the end), then
//! prints the rate of committed events and the store's size. No log, no
//! detection: the figure is the store's own ceiling.

use std::io::BufRead;
use std::time::{Duration, Instant};

use eventstore::{EventStore, Frame, NewEvent, StoreConfig, StoreWriter};

// The server's allocator: the figure should be the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Normalized {
    raw: String,
    event: model::Event,
    logsource: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(dir)) = (args.next(), args.next()) else {
        return Err("usage: index FILE.ndjson DIR [THREADS]".into());
    };
    let threads = args.next().map(|t| t.parse()).transpose()?.unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let store = EventStore::open(StoreConfig::new(&dir))?;
    let mut writer = StoreWriter::new(store.clone())?;
    let received = jiff::Timestamp::now();
    let mut lines = std::io::BufReader::new(std::fs::File::open(&file)?).lines();
    let (began, mut last_commit) = (Instant::now(), Instant::now());
    let (mut events, mut bytes, mut position) = (0u64, 0u64, 0u64);
    loop {
        let mut chunk = Vec::new();
        let mut size = 0;
        for line in lines.by_ref() {
            let line = line?;
            size += line.len();
            chunk.push(line);
            if size >= 4 << 20 {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        // Frames of 1,000 records, as a busy sender's batches arrive.
        let normalized: Vec<Vec<Normalized>> = pool.install(|| {
            use rayon::prelude::*;
            chunk
                .par_chunks(1000)
                .map(|records| {
                    records
                        .iter()
                        .filter_map(|raw| {
                            let event = normalize::parse_record(raw, normalize::Format::Auto, received).ok()?;
                            let logsource = event.views.iter().map(|v| v.logsource.to_string()).collect();
                            Some(Normalized { raw: raw.clone(), event, logsource })
                        })
                        .collect()
                })
                .collect()
        });
        let news: Vec<Vec<NewEvent<'_>>> = normalized
            .iter()
            .map(|frame| {
                frame
                    .iter()
                    .enumerate()
                    .map(|(i, n)| NewEvent {
                        position,
                        index: i as u32,
                        timestamp: n.event.timestamp.unwrap_or(received),
                        received,
                        source: "bench",
                        format: "auto",
                        view: None,
                        logsource: &n.logsource,
                        raw: &n.raw,
                        enriched: None,
                        event: &n.event,
                    })
                    .collect()
            })
            .collect();
        let frames: Vec<Frame<'_, '_>> = news
            .iter()
            .enumerate()
            .map(|(i, events)| Frame {
                position: position + i as u64,
                end: position + i as u64 + 1,
                tenant: "default",
                events,
            })
            .collect();
        position += frames.len() as u64;
        pool.install(|| writer.add_frames(&frames))?;
        events += news.iter().map(|n| n.len() as u64).sum::<u64>();
        bytes += size as u64;
        if last_commit.elapsed() >= Duration::from_secs(2) {
            writer.commit()?;
            last_commit = Instant::now();
        }
    }
    writer.commit()?;
    let indexed = began.elapsed();
    writer.close()?;
    let total = began.elapsed();
    let size = dir_size(std::path::Path::new(&dir))?;
    println!(
        "{events} events ({:.0} MB raw) committed in {:.1} s: {:.0} events/s; closed and merged in {:.1} s; store {:.1} MB (1/{:.1} of raw)",
        bytes as f64 / 1e6,
        indexed.as_secs_f64(),
        events as f64 / indexed.as_secs_f64(),
        total.as_secs_f64(),
        size as f64 / 1e6,
        bytes as f64 / size as f64,
    );
    Ok(())
}

fn dir_size(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
