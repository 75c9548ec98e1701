//! Journal listings (`/api/v1/detections`, `/api/v1/deadletter`) answer a
//! bounded slice: the newest lines that fit in [`MAX_LISTED_BYTES`], marked
//! `truncated` when older ones were left out, and only a few at once.

use access::Scope;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::Fixture;
use crate::app::MAX_LISTED_BYTES;

fn list(f: &Fixture, token: &str, limit: usize) -> (StatusCode, Value) {
    let req = Request::get(format!("/api/v1/detections?limit={limit}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let answer = f.call(req);
    (answer.status, serde_json::from_str(&answer.body).unwrap_or(Value::Null))
}

fn ids(listing: &Value) -> Vec<u64> {
    listing["detections"].as_array().unwrap().iter().map(|d| d["id"].as_u64().unwrap()).collect()
}

#[test]
fn a_listing_answers_the_newest_lines_that_fit_and_says_when_it_left_some_out() {
    let mut f = Fixture::new("listing-bytes");
    // The test writes the alert journal itself, as the pipeline would.
    f.engine.take().unwrap().shutdown();
    let path = f.dir.join("checkpoint.json");
    let mut checkpoint = wal::Checkpoint::load(&path).unwrap();
    let at = checkpoint.journals.get("alerts").copied().unwrap_or_default();
    let mut journal = wal::Journal::open(f.dir.join("alerts"), at).unwrap();
    let pad = "x".repeat(256 << 10);
    let n = MAX_LISTED_BYTES / pad.len() + 8;
    for id in 0..n {
        let line = json!({"id": id, "tenant": "a", "pad": pad}).to_string();
        journal.write_line(line.as_bytes()).unwrap();
    }
    checkpoint.journals.insert("alerts".into(), journal.sync().unwrap());
    checkpoint.save(&path).unwrap();
    let token = f.token("a", Scope::Read);

    let (status, all) = list(&f, &token, 100_000);
    assert_eq!(status, StatusCode::OK);
    let got = ids(&all);
    assert_eq!(all["truncated"], true);
    assert_eq!(all["count"], got.len());
    // The newest, in order, as many as fit.
    assert!((n - 9..n - 2).contains(&got.len()), "{} of {n}", got.len());
    assert_eq!(got, ((n - got.len()) as u64..n as u64).collect::<Vec<_>>());

    let (_, few) = list(&f, &token, 3);
    assert_eq!((ids(&few), &few["truncated"]), (vec![n as u64 - 3, n as u64 - 2, n as u64 - 1], &json!(false)));
}

#[test]
fn listings_past_the_few_that_may_run_at_once_are_refused() {
    let f = Fixture::new("listing-slots");
    let token = f.token("a", Scope::Read);
    // Slow listings hold their slots for as long as they run.
    let held: Vec<_> = std::iter::from_fn(|| f.app.listing_permit().ok()).take(100).collect();
    assert!(!held.is_empty() && held.len() < 100, "{} slots", held.len());
    let (status, body) = list(&f, &token, 10);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    drop(held);
    let (status, body) = list(&f, &token, 10);
    assert_eq!((status, body["count"].as_u64()), (StatusCode::OK, Some(0)));
}
