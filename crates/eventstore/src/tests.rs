//! The store against the evaluator: the golden semantics cases of the
//! query crate, run through the index, must give the same golden, with
//! and without column fields and across several segments. Then replay,
//! retention, tenants and limits.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use model::Event;
use query::golden::{self, FixtureRecord};

use crate::schema::Layout;
use crate::*;

/// Normalizes like the stream: the record's own parser, then the
/// configured log source if there was one.
struct Normalize;

impl Rebuild for Normalize {
    fn event(&self, s: &Stored) -> Option<Event> {
        normalize::parse_record(&s.raw, s.format.parse().ok()?, s.received).ok()
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hinomi-eventstore-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Stores `records` for `tenant`, one frame each (position = index),
/// committing every `every` frames.
fn fill(writer: &mut StoreWriter, tenant: &str, records: &[FixtureRecord], every: usize) -> usize {
    let mut added = 0;
    for (i, r) in records.iter().enumerate() {
        let event = normalize::parse_record(&r.raw, r.format.parse().unwrap(), r.received).unwrap();
        let logsource: Vec<String> = event.views.iter().map(|v| v.logsource.to_string()).collect();
        let ev = NewEvent {
            position: i as u64,
            index: 0,
            timestamp: event.timestamp.unwrap_or(r.received),
            received: r.received,
            source: "fixture",
            format: &r.format,
            view: None,
            logsource: &logsource,
            raw: &r.raw,
            enriched: None,
            event: &event,
        };
        added += writer.add_frame(i as u64, i as u64 + 1, tenant, &[ev]).unwrap();
        if (i + 1) % every == 0 {
            writer.commit().unwrap();
        }
    }
    writer.commit().unwrap();
    added
}

fn request<'a>(tenants: &'a [String], query: &'a query::Query) -> SearchRequest<'a> {
    SearchRequest {
        tenants,
        query,
        from: None,
        to: None,
        now: golden::now(),
        limit: 1000,
        limits: query::Limits::default(),
        timeout: Duration::from_secs(30),
    }
}

/// The golden output, events checked one by one, and how many queries
/// were answered from columns.
fn semantics(store: &EventStore) -> (String, u64, usize) {
    let tenants = vec!["default".to_string()];
    let mut out = String::new();
    let (mut checked, mut from_columns) = (0, 0);
    for q in golden::queries("semantics.txt") {
        let query = query::parse(&q).unwrap();
        let result = store.search(&request(&tenants, &query), &Normalize).unwrap_or_else(|e| panic!("{q}: {e}"));
        checked += result.checked;
        from_columns += usize::from(result.columns);
        golden::render(&mut out, &q, result.rows, !query.pipes.is_empty());
    }
    (out, checked, from_columns)
}

#[test]
fn store_agrees_with_the_evaluator() {
    let mut fast = Vec::new();
    let mut days = Vec::new();
    let variants = [
        ("columns", None, 1000, Layout::Joined),
        ("no-columns", Some(vec![]), 1000, Layout::Joined),
        ("segments", None, 3, Layout::Joined),
        // Partitions made before `text` took its words joined, and before
        // `f` took its terms joined.
        ("pre-tokenized", None, 1000, Layout::PreTokenized),
        ("text-joined", None, 1000, Layout::TextJoined),
    ];
    for (name, columns, every, layout) in variants {
        let dir = temp(name);
        let mut config = StoreConfig::new(&dir);
        if let Some(c) = columns {
            config.columns = c;
        }
        if layout != Layout::Joined {
            assert!(!days.is_empty());
            for key in &days {
                let dir = crate::PartKey::dir(key, &dir);
                std::fs::create_dir_all(&dir).unwrap();
                tantivy::Index::create_in_dir(&dir, crate::schema::build_with(&config.columns, layout)).unwrap();
            }
        }
        let store = EventStore::open(config).unwrap();
        let mut writer = StoreWriter::new(store.clone()).unwrap();
        assert_eq!(fill(&mut writer, "default", &golden::records(), every), 15);
        assert!(store.keys(None).iter().all(|k| store.part(k, false).unwrap().unwrap().fields.layout() == layout));
        days = store.keys(None);
        let (got, checked, from_columns) = semantics(&store);
        golden::check("semantics.txt", &got);
        // Phrases, ranges and CIDR were checked event by event.
        assert!(checked > 0, "{name}");
        fast.push(from_columns);
        // Closing merges each past day into one segment; nothing changes.
        writer.close().unwrap();
        for key in store.keys(None) {
            let part = store.part(&key, false).unwrap().unwrap();
            assert_eq!(part.reader.searcher().segment_readers().len(), 1, "{name}: {key:?}");
        }
        golden::check("semantics.txt", &semantics(&store).0);
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Columns answer the stats that group by them; without columns only
    // plain counts are.
    assert!(
        fast[0] > fast[1] && fast[1] > 0 && fast[0] == fast[2] && fast[0] == fast[3] && fast[0] == fast[4],
        "{fast:?}"
    );
}

#[test]
fn replay_adds_nothing_twice() {
    let dir = temp("replay");
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let records = golden::records();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    fill(&mut writer, "default", &records[..8], 1000);
    // Frames 8.. were added but never committed (a crash).
    drop(writer);
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    assert_eq!(writer.position(), 8);
    // The log replays from an older position: the first eight are skipped.
    assert_eq!(fill(&mut writer, "default", &records, 1000), 7);
    let tenants = vec!["default".to_string()];
    let q = query::parse("| stats count(), dc(_id)").unwrap();
    let rows = store.search(&request(&tenants, &q), &Normalize).unwrap().rows;
    assert_eq!(serde_json::Value::Object(rows[0].clone()), serde_json::json!({"count()": 15, "dc(_id)": 15}));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tenants_only_see_their_own_events() {
    let dir = temp("tenants");
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let records = golden::records();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    fill(&mut writer, "acme", &records[..5], 1000);
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    let rest: Vec<FixtureRecord> = records[5..]
        .iter()
        .map(|r| FixtureRecord { id: r.id.clone(), format: r.format.clone(), raw: r.raw.clone(), received: r.received })
        .collect();
    fill(&mut writer, "globex", &rest, 1000);
    let q = query::parse("").unwrap();
    let count = |tenants: &[String]| store.search(&request(tenants, &q), &Normalize).unwrap().rows.len();
    assert_eq!(count(&["acme".into()]), 5);
    assert_eq!(count(&["globex".into()]), 10);
    assert_eq!(count(&["acme".into(), "globex".into()]), 15);
    assert_eq!(count(&["initech".into()]), 0);
    let q = query::parse("_tenant:acme").unwrap();
    assert_eq!(store.search(&request(&["globex".into()], &q), &Normalize).unwrap().rows.len(), 0);
    assert!(writer.add_frame(99, 100, "../etc", &[]).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn retention_deletes_whole_partitions() {
    let dir = temp("retention");
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    // One event per day for ten days.
    let base: Timestamp = "2026-11-01T12:00:00Z".parse().unwrap();
    let records: Vec<FixtureRecord> = (0..10)
        .map(|d| {
            let t = base + jiff::SignedDuration::from_hours(24 * d);
            FixtureRecord {
                id: d.to_string(),
                format: "json".into(),
                raw: format!(r#"{{"@timestamp":"{t}","message":"{}"}}"#, "x".repeat(2000)),
                received: t,
            }
        })
        .collect();
    fill(&mut writer, "default", &records, 1);
    assert_eq!(store.partitions(Some("default")).len(), 10);
    let now: Timestamp = "2026-11-10T13:00:00Z".parse().unwrap();
    // By age: keep seven days (Nov 3 onwards).
    let deleted = writer.enforce_retention("default", Some(7), None, now).unwrap();
    let days: Vec<&str> = deleted.iter().map(|p| p.day.as_str()).collect();
    assert_eq!(days, ["2026-11-01", "2026-11-02"]);
    // By size: the oldest go until the rest fits; today's stays.
    let sizes: Vec<u64> = store.partitions(Some("default")).iter().map(|p| p.bytes).collect();
    let limit = sizes.iter().rev().take(3).sum::<u64>();
    writer.enforce_retention("default", None, Some(limit), now).unwrap();
    let left: Vec<String> = store.partitions(Some("default")).into_iter().map(|p| p.day).collect();
    assert_eq!(left, ["2026-11-08", "2026-11-09", "2026-11-10"]);
    writer.enforce_retention("default", None, Some(1), now).unwrap();
    let left: Vec<String> = store.partitions(Some("default")).into_iter().map(|p| p.day).collect();
    assert_eq!(left, ["2026-11-10"]);
    // What is left is still searchable, and the writer still writes.
    let q = query::parse("| stats count()").unwrap();
    let rows = store.search(&request(&["default".into()], &q), &Normalize).unwrap().rows;
    assert_eq!(rows[0]["count()"], 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn searches_are_bounded() {
    let dir = temp("bounded");
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    fill(&mut writer, "default", &golden::records(), 1000);
    let tenants = vec!["default".to_string()];
    let q = query::parse("\"password\"").unwrap();
    let mut req = request(&tenants, &q);
    req.timeout = Duration::ZERO;
    assert!(matches!(store.search(&req, &Normalize), Err(SearchError::Timeout(_))));
    let q = query::parse("| stats count() by _id").unwrap();
    let mut req = request(&tenants, &q);
    req.limits.max_groups = 5;
    assert!(matches!(store.search(&req, &Normalize), Err(SearchError::Limit(_))));
    let q = query::parse("").unwrap();
    let mut req = request(&tenants, &q);
    req.limit = 3;
    let rows = store.search(&req, &Normalize).unwrap().rows;
    let ids: Vec<&str> = rows.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["14.0", "13.0", "12.0"], "newest first");
    assert!(rows[1]["_raw"].as_str().unwrap().contains("185.199.108.133"));
    // The time range of the request.
    let mut req = request(&tenants, &q);
    req.from = Some("2026-11-01T00:05:00Z".parse().unwrap());
    req.to = Some("2026-11-01T00:07:00Z".parse().unwrap());
    let rows = store.search(&req, &Normalize).unwrap().rows;
    let ids: Vec<&str> = rows.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["6.0", "5.0"]);
    let _ = Arc::strong_count(&store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn interleaved_days_are_stored_once_even_across_a_crash() {
    let dir = temp("interleaved");
    let config = || {
        let mut c = StoreConfig::new(&dir);
        // Fewer writers than days: partitions are closed for others in the
        // middle of a batch of frames.
        c.open_writers = 2;
        c
    };
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let raws: Vec<Vec<String>> = (0..4)
        .map(|f| {
            (0..50)
                .map(|i| {
                    let day = 1 + (i * 7 + f) % 30;
                    format!(r#"{{"@timestamp":"2026-10-{day:02}T12:00:00Z","message":"frame {f} event {i}"}}"#)
                })
                .collect()
        })
        .collect();
    let events: Vec<Vec<Event>> = raws
        .iter()
        .map(|f| f.iter().map(|r| normalize::parse_record(r, Default::default(), received).unwrap()).collect())
        .collect();
    let logsource = Vec::new();
    let news: Vec<Vec<NewEvent<'_>>> = events
        .iter()
        .enumerate()
        .map(|(f, evs)| {
            evs.iter()
                .enumerate()
                .map(|(i, event)| NewEvent {
                    position: f as u64,
                    index: i as u32,
                    timestamp: event.timestamp.unwrap(),
                    received,
                    source: "backfill",
                    format: "auto",
                    view: None,
                    logsource: &logsource,
                    raw: &raws[f][i],
                    enriched: None,
                    event,
                })
                .collect()
        })
        .collect();
    let frames: Vec<Frame<'_, '_>> = news
        .iter()
        .enumerate()
        .map(|(f, events)| Frame { position: f as u64, end: f as u64 + 1, tenant: "default", events })
        .collect();
    let store = EventStore::open(config()).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    assert_eq!(writer.add_frames(&frames[..2]).unwrap(), 100);
    writer.commit().unwrap();
    // The next two frames, then a crash before the commit: the partitions
    // closed for others meanwhile are committed, the rest are not.
    assert_eq!(writer.add_frames(&frames[2..]).unwrap(), 100);
    drop(writer);
    let store = EventStore::open(config()).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    assert_eq!(writer.position(), 2);
    // The log replays from an older position still: nothing is added twice.
    writer.add_frames(&frames).unwrap();
    writer.commit().unwrap();
    let tenants = vec!["default".to_string()];
    let q = query::parse("| stats count(), dc(_id), dc(@timestamp)").unwrap();
    let rows = store.search(&request(&tenants, &q), &Normalize).unwrap().rows;
    assert_eq!(
        serde_json::Value::Object(rows[0].clone()),
        serde_json::json!({"count()": 200, "dc(_id)": 200, "dc(@timestamp)": 30})
    );
    assert_eq!(store.partitions(None).len(), 30);
    // Partitions pushed out of the open writers were committed, not
    // merged; closing the writer compacts every past day to one segment.
    let segments = |store: &EventStore| -> Vec<usize> {
        store
            .keys(None)
            .iter()
            .map(|k| store.part(k, false).unwrap().unwrap().index.searchable_segment_ids().unwrap().len())
            .collect()
    };
    assert!(segments(&store).iter().any(|&n| n > 1), "{:?}", segments(&store));
    writer.close().unwrap();
    assert_eq!(segments(&store), vec![1; 30]);
    let rows = store.search(&request(&tenants, &q), &Normalize).unwrap().rows;
    assert_eq!(rows[0]["count()"], 200);
    let _ = std::fs::remove_dir_all(&dir);
}

fn parse_all(raws: &[String], received: Timestamp) -> Vec<Event> {
    raws.iter().map(|r| normalize::parse_record(r, Default::default(), received).unwrap()).collect()
}

/// The events of one frame at `position`, from source `test`.
fn frame_events<'a>(position: u64, raws: &'a [String], events: &'a [Event], received: Timestamp) -> Vec<NewEvent<'a>> {
    events
        .iter()
        .zip(raws)
        .enumerate()
        .map(|(i, (event, raw))| NewEvent {
            position,
            index: i as u32,
            timestamp: event.timestamp.unwrap(),
            received,
            source: "test",
            format: "auto",
            view: None,
            logsource: &[],
            raw,
            enriched: None,
            event,
        })
        .collect()
}

/// The writer puts events of one kind side by side; rows still come newest
/// first and, within one time and frame, in reverse log order.
#[test]
fn rows_keep_log_order_whatever_order_the_writer_chose() {
    let dir = temp("kinds");
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    // One frame, one time, two kinds of event taking turns.
    let raws: Vec<String> = (0..6)
        .map(|i| match i % 2 {
            0 => format!(r#"{{"@timestamp":"2026-10-30T12:00:00Z","user.name":"u{i}"}}"#),
            _ => format!(r#"{{"@timestamp":"2026-10-30T12:00:00Z","host.name":"h{i}","event.action":"x"}}"#),
        })
        .collect();
    let events = parse_all(&raws, received);
    let news = frame_events(7, &raws, &events, received);
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    assert_eq!(writer.add_frames(&[Frame { position: 7, end: 8, tenant: "default", events: &news }]).unwrap(), 6);
    writer.commit().unwrap();
    let tenants = vec!["default".to_string()];
    let q = query::parse("").unwrap();
    let rows = store.search(&request(&tenants, &q), &Normalize).unwrap().rows;
    let ids: Vec<&str> = rows.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["7.5", "7.4", "7.3", "7.2", "7.1", "7.0"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every segment tantivy writes or merges is ordered by kind, so that a
/// compacted day holds each kind of event in one run of document ids (what
/// makes its postings and stored blocks small).
#[test]
fn a_compacted_day_holds_each_kind_in_one_run() {
    let dir = temp("kind-runs");
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    // Three commits of two kinds taking turns: unordered, each commit would
    // give every kind three runs.
    for commit in 0..3u64 {
        let raws: Vec<String> = (0..6)
            .map(|i| match i % 2 {
                0 => format!(r#"{{"@timestamp":"2026-10-30T12:00:0{i}Z","user.name":"u{commit}{i}"}}"#),
                _ => format!(r#"{{"@timestamp":"2026-10-30T12:00:0{i}Z","host.name":"h{commit}{i}","x":1}}"#),
            })
            .collect();
        let events = parse_all(&raws, received);
        let news = frame_events(commit, &raws, &events, received);
        let frame = Frame { position: commit, end: commit + 1, tenant: "default", events: &news };
        assert_eq!(writer.add_frames(&[frame]).unwrap(), 6);
        writer.commit().unwrap();
    }
    let key = crate::PartKey { tenant: "default".into(), day: jiff::civil::date(2026, 10, 30) };
    let kinds = || -> Vec<Vec<u64>> {
        let part = store.part(&key, false).unwrap().unwrap();
        let searcher = part.reader.searcher();
        searcher
            .segment_readers()
            .iter()
            .map(|segment| {
                let column = segment.fast_fields().u64(crate::schema::KIND).unwrap();
                (0..segment.max_doc()).map(|doc| column.first(doc).unwrap()).collect()
            })
            .collect()
    };
    let runs = |kinds: &[u64]| kinds.chunk_by(|a, b| a == b).count();
    // Each commit's segment is ordered...
    assert!(kinds().iter().all(|segment| runs(segment) == 2), "{:?}", kinds());
    writer.close().unwrap();
    // ...and so is the day merged from them.
    let merged = kinds();
    assert_eq!((merged.len(), merged[0].len(), runs(&merged[0])), (1, 18, 2), "{merged:?}");
    let tenants = vec!["default".to_string()];
    let rows = store.search(&request(&tenants, &query::parse("").unwrap()), &Normalize).unwrap().rows;
    assert_eq!(rows.len(), 18);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A column value holding the mark that ends a joined term gets only the
/// marker in partitions whose `f` is joined (its own term in older ones),
/// and is found in both.
#[test]
fn values_with_the_term_end_mark_are_found() {
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let raws: Vec<String> = ["a\\u0000b", "a", "b\\u0000a"]
        .iter()
        .map(|name| format!(r#"{{"@timestamp":"2026-11-01T00:00:00Z","host":{{"name":"{name}"}}}}"#))
        .collect();
    let events = parse_all(&raws, received);
    for layout in [Layout::Joined, Layout::TextJoined] {
        let dir = temp(&format!("term-end-{layout:?}"));
        let config = StoreConfig::new(&dir);
        if layout != Layout::Joined {
            let key = crate::PartKey { tenant: "default".into(), day: jiff::civil::date(2026, 11, 1) };
            let part = key.dir(&dir);
            std::fs::create_dir_all(&part).unwrap();
            tantivy::Index::create_in_dir(&part, crate::schema::build_with(&config.columns, layout)).unwrap();
        }
        let store = EventStore::open(config).unwrap();
        let mut writer = StoreWriter::new(store.clone()).unwrap();
        assert_eq!(writer.add_frame(0, 1, "default", &frame_events(0, &raws, &events, received)).unwrap(), 3);
        writer.commit().unwrap();
        let tenants = vec!["default".to_string()];
        for (q, want) in [("host.name:\"a\0b\"", 1), ("host.name:a*", 2), ("host.name:*a", 2), ("host.name:a", 1)] {
            let query = query::parse(q).unwrap();
            let rows = store.search(&request(&tenants, &query), &Normalize).unwrap().rows;
            assert_eq!(rows.len(), want, "{layout:?}: {q:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The meta fields a document is built with one by one are those search
/// shows.
#[test]
fn each_meta_field_alone_is_the_same_as_all_of_them() {
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let raws = vec![r#"{"@timestamp":"2026-11-01T00:00:00Z","message":"m"}"#.to_string()];
    let events = parse_all(&raws, received);
    let logsource = ["windows/security".to_string(), "product/x".to_string()];
    let mut ev = frame_events(7, &raws, &events, received).remove(0);
    ev.logsource = &logsource;
    let all = crate::schema::meta_values("acme", &ev);
    assert_eq!(all.len(), crate::schema::META.len());
    for (name, value) in &all {
        assert_eq!(crate::schema::meta_value("acme", &ev, name).as_ref(), Some(value), "{name}");
    }
}

#[test]
fn joined_words_are_cut_at_their_end_marks() {
    use tantivy::tokenizer::{TokenStream, Tokenizer};
    let mut terms = crate::schema::Terms;
    for (text, want) in [
        ("a\0bc\0", vec![("a", 0, 0, 1), ("bc", 1, 2, 4)]),
        ("\0\0x\0\0y", vec![("x", 0, 2, 3), ("y", 1, 5, 6)]),
        ("é\0", vec![("é", 0, 0, 2)]),
        ("", vec![]),
    ] {
        let mut stream = terms.token_stream(text);
        let mut got = Vec::new();
        while stream.advance() {
            let t = stream.token();
            got.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
        }
        let want: Vec<_> = want.into_iter().map(|(w, p, a, b)| (w.to_string(), p, a, b)).collect();
        assert_eq!(got, want, "{text:?}");
    }
}

/// A past day that compaction has seen in one segment is looked at again
/// once late events are written to it.
#[test]
fn compaction_comes_back_to_a_day_written_again() {
    let dir = temp("compact-again");
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let raw = |day: u32| format!(r#"{{"@timestamp":"2026-10-{day:02}T12:00:00Z","message":"late"}}"#);
    let mut c = StoreConfig::new(&dir);
    c.open_writers = 1;
    let store = EventStore::open(c).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    let mut position = 0;
    let mut write = |writer: &mut StoreWriter, day: u32| {
        let raws = [raw(day)];
        let events = parse_all(&raws, received);
        let ev = frame_events(position, &raws, &events, received);
        assert_eq!(writer.add_frame(position, position + 1, "default", &ev).unwrap(), 1);
        writer.commit().unwrap();
        position += 1;
    };
    let segments = |day: u32| {
        let key = crate::PartKey { tenant: "default".into(), day: jiff::civil::date(2026, 10, day as i8) };
        store.part(&key, false).unwrap().unwrap().index.searchable_segment_ids().unwrap().len()
    };
    let now: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    // Day 1 in two commits, then pushed out (unmerged) by day 2.
    write(&mut writer, 1);
    write(&mut writer, 1);
    write(&mut writer, 2);
    assert_eq!(segments(1), 2);
    assert_eq!(writer.compact(now, usize::MAX).unwrap(), 1);
    assert_eq!(segments(1), 1);
    assert_eq!(writer.compact(now, usize::MAX).unwrap(), 0);
    // A late event for day 1 (pushing day 2 out), then day 2 again.
    write(&mut writer, 1);
    write(&mut writer, 2);
    assert_eq!(segments(1), 2);
    assert_eq!(writer.compact(now, usize::MAX).unwrap(), 1);
    assert_eq!(segments(1), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A day's writer stores records with LZ4 (cheap at every commit and
/// merge); compaction rewrites each past day once with the store's zstd,
/// a day written in one commit (one segment, nothing to merge) included.
#[test]
fn compaction_recompresses_a_day_written_in_one_commit() {
    let dir = temp("recompress");
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let store = EventStore::open(StoreConfig::new(&dir)).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    let raws: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                r#"{{"@timestamp":"2026-10-30T12:{:02}:{:02}Z","message":"session opened for user u{} by (uid=0) from host-{}","n":{i}}}"#,
                i / 60 % 60,
                i % 60,
                i % 17,
                i % 5
            )
        })
        .collect();
    let events = parse_all(&raws, received);
    let news = frame_events(0, &raws, &events, received);
    assert_eq!(writer.add_frame(0, 1, "default", &news).unwrap(), 2000);
    writer.commit().unwrap();
    let part = dir.join("default/2026-10-30");
    let compression = || -> String {
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(part.join("meta.json")).unwrap()).unwrap();
        meta["index_settings"]["docstore_compression"].as_str().unwrap().to_string()
    };
    let stored = || -> u64 {
        let files = std::fs::read_dir(&part).unwrap().flatten();
        files.filter(|f| f.path().extension().is_some_and(|e| e == "store")).map(|f| f.metadata().unwrap().len()).sum()
    };
    assert_eq!(compression(), "lz4");
    let live = stored();
    // Pushed out of the open writers without a merge, as a server does
    // with a day that goes on receiving late events.
    writer.stop().unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    let now: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    assert_eq!(writer.compact(now, usize::MAX).unwrap(), 1);
    assert_eq!(compression(), "zstd(compression_level=9)");
    assert!(stored() * 2 < live, "zstd {} bytes, LZ4 {live}", stored());
    assert_eq!(writer.compact(now, usize::MAX).unwrap(), 0);
    let tenants = vec!["default".to_string()];
    let q = query::parse("u3 | stats count()").unwrap();
    let rows = store.search(&request(&tenants, &q), &Normalize).unwrap().rows;
    assert_eq!(rows[0]["count()"], 2000 / 17 + 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server compacts past days on a thread of its own while it goes on
/// writing; a late event for the day being compacted waits for it and is
/// kept.
#[test]
fn days_are_compacted_behind_the_writer() {
    let dir = temp("compact-behind");
    let received: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut c = StoreConfig::new(&dir);
    c.open_writers = 1;
    let store = EventStore::open(c).unwrap();
    let mut writer = StoreWriter::new(store.clone()).unwrap();
    let mut position = 0;
    let mut write = |writer: &mut StoreWriter, day: u32, n: usize| {
        let raws: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"@timestamp":"2026-10-{day:02}T12:00:00Z","message":"event {i} of day {day}"}}"#))
            .collect();
        let events = parse_all(&raws, received);
        let ev = frame_events(position, &raws, &events, received);
        assert_eq!(writer.add_frame(position, position + 1, "default", &ev).unwrap(), n);
        writer.commit().unwrap();
        position += 1;
    };
    let segments = |day: u32| {
        let key = crate::PartKey { tenant: "default".into(), day: jiff::civil::date(2026, 10, day as i8) };
        store.part(&key, false).unwrap().unwrap().index.searchable_segment_ids().unwrap().len()
    };
    // Days 1 and 2 in two commits each, each pushed out by the next.
    for day in [1, 1, 2, 2, 3] {
        write(&mut writer, day, 500);
    }
    assert_eq!((segments(1), segments(2)), (2, 2));
    let now: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let compacting = |writer: &StoreWriter| writer.compacting_day().map(|d| d.day());
    // Day 1's merge starts; day 3 is written meanwhile.
    writer.compact_behind(now).unwrap();
    assert_eq!(compacting(&writer), Some(1));
    write(&mut writer, 3, 500);
    assert!(writer.finish_compaction(true).unwrap());
    // Then day 2's; a late event for it waits for the merge.
    writer.compact_behind(now).unwrap();
    assert_eq!((segments(1), compacting(&writer)), (1, Some(2)));
    write(&mut writer, 2, 1);
    assert_eq!(compacting(&writer), None);
    write(&mut writer, 3, 1);
    writer.close().unwrap();
    assert_eq!((segments(1), segments(2), segments(3)), (1, 1, 1));
    let tenants = vec!["default".to_string()];
    let q = query::parse("| stats count() by @timestamp").unwrap();
    let rows = store.search(&request(&tenants, &q), &Normalize).unwrap().rows;
    let counts: Vec<u64> = rows.iter().map(|r| r["count()"].as_u64().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), 1000 + 1001 + 1001, "{rows:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A day's writer merges no more than its bound at once: tantivy's log
/// policy proposes eight segments of a size, cut here into groups.
#[test]
fn merges_of_a_day_being_written_are_bounded() {
    use tantivy::indexer::{MergeCandidate, MergePolicy};
    let index = tantivy::Index::create_in_ram(tantivy::schema::Schema::builder().build());
    let metas = |sizes: &[u32]| -> Vec<tantivy::SegmentMeta> {
        sizes.iter().map(|&n| index.new_segment_meta(tantivy::index::SegmentId::generate_random(), n)).collect()
    };
    let policy = crate::writer::Bounded::new(1_000_000);
    let merged = |segments: &[tantivy::SegmentMeta]| -> Vec<u32> {
        let docs = |id| segments.iter().find(|s| s.id() == id).map_or(0, |s| s.num_docs());
        let mut sums: Vec<u32> = policy
            .compute_merge_candidates(segments)
            .into_iter()
            .map(|MergeCandidate(ids)| ids.into_iter().map(docs).sum())
            .collect();
        sums.sort_unstable();
        sums
    };
    // Small segments merge as tantivy would.
    assert_eq!(merged(&metas(&[30_000; 8])), vec![240_000]);
    // Eight of 300k would make 2.4M: groups of at most 1M instead.
    assert_eq!(merged(&metas(&[300_000; 8])), vec![600_000, 900_000, 900_000]);
    // Segments of half the bound or more are left alone.
    assert_eq!(merged(&metas(&[600_000; 8])), Vec::<u32>::new());
}
