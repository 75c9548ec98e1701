//! Failures of ours are 500s that say no more than that, logged with the
//! request's id: a corrupt row (a status written by hand) is never read
//! as a default.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use access::Scope;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use state::Db;

use super::Fixture;

/// Everything logged by this test binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let _ = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).try_init();
        captured
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&log().0.lock().unwrap()).into_owned()
}

#[test]
fn a_corrupt_row_is_a_logged_500_not_a_default() {
    log();
    let f = Fixture::new("corrupt");
    let token = f.token("a", Scope::Read);
    let mut db = state::Sqlite::open(&f.dir.join("state.db")).unwrap();
    db.exec(&format!("UPDATE incidents SET status = 'bogus' WHERE id = {}", f.incident), &[]).unwrap();

    for path in [format!("/api/v1/incidents/{}", f.incident), "/api/v1/incidents?status=all".to_string()] {
        let req = Request::get(&path).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty());
        let resp = f.call_full(req.unwrap());
        assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", resp.body);
        // The caller learns that it failed, not what the database holds.
        assert!(!resp.body.contains("bogus") && resp.body.contains("request's id"), "{}", resp.body);
        let id = resp.request_id.expect("every answer names its request");
        let line =
            logged().lines().find(|l| l.contains(&format!("{{id={id} ")) && l.contains("ERROR")).map(str::to_string);
        let line = line.unwrap_or_else(|| panic!("no error logged for request {id}:\n{}", logged()));
        assert!(
            line.contains("column `status` holds \\\"bogus\\\"") || line.contains("column `status` holds \"bogus\""),
            "{line}"
        );
    }

    // The console page of the incident: the same, as a page.
    let (cookie, _) = f.session("erin", &[("a", Scope::Analyst)]);
    let req = Request::get(format!("/ui/a/incidents/{}", f.incident))
        .header(header::COOKIE, format!("hinomi_session={cookie}"))
        .body(Body::empty());
    let resp = f.call_full(req.unwrap());
    assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!resp.body.contains("bogus"), "{}", resp.body);
}
