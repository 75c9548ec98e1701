//! The console in real headless Chromium (Debian `chromium` and
//! `chromium-driver`): an analyst's first minutes, end to end, against a
//! real `hinomi serve`. Screenshots of every step are kept in
//! `target/browser-artifacts/`.

mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use webdriver::{Browser, exchange, http};

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {secs}s waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An empty directory of this test's own under the system's temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    let tmp = std::env::temp_dir().join(format!("hinomi-browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    tmp
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `chromedriver` on a free loopback port.
fn chromedriver() -> (Running, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("chromedriver is needed for the console tests (apt-get install chromium chromium-driver): {e}")
        });
    let addr = format!("127.0.0.1:{port}");
    let running = Running(child);
    wait_until("chromedriver", 20, || {
        std::net::TcpStream::connect(&addr).ok()?;
        let (status, body) = http(&addr, "GET", "/status", &[], b"");
        (status == 200 && String::from_utf8_lossy(&body).contains("\"ready\":true")).then_some(())
    });
    (running, addr)
}

/// A server on a new data directory: its HTTP address, the admin
/// password and admin token it printed once.
struct Server {
    _child: Running,
    http: String,
    password: String,
    token: String,
}

fn start_server(dir: &Path) -> Server {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/triage/rules");
    start_server_with(dir, &["--rules".as_ref(), rules.as_os_str()])
}

/// A server with these arguments after `serve --data --config`.
fn start_server_with(dir: &Path, args: &[&std::ffi::OsStr]) -> Server {
    let config = dir.join("hinomi.toml");
    std::fs::write(
        &config,
        "[http]\nlisten = [\"127.0.0.1:0\"]\n[[syslog]]\nprotocol = \"udp\"\nlisten = \"127.0.0.1:0\"\n[store]\ncommit_interval_ms = 200\n",
    )
    .unwrap();
    let log = dir.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_hinomi"))
        .arg("serve")
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let child = Running(child);
    let listeners = dir.join("data/run/listeners.json");
    let http = wait_until("the server's listeners", 60, || {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&listeners).ok()?).ok()?;
        v.as_array()?.iter().find(|l| l["protocol"] == "http")?["address"].as_str().map(str::to_string)
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let password =
        text.split("password (shown only now): ").nth(1).and_then(|r| r.lines().next()).expect("admin password");
    let token = text.split("(shown only now):\n").nth(1).and_then(|r| r.lines().next()).expect("admin token");
    Server { _child: child, http, password: password.trim().into(), token: token.trim().into() }
}

/// The triage scenario (brute force, then success and privilege use on
/// WS-042) sent as an Elasticsearch `_bulk` request.
fn send_scenario(s: &Server) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut body = String::new();
    for line in std::fs::read_to_string(root.join("tests/data/triage/scenario.jsonl")).unwrap().lines() {
        if !line.trim().is_empty() {
            body.push_str("{\"index\":{\"_index\":\"winlogbeat\"}}\n");
            body.push_str(line);
            body.push('\n');
        }
    }
    let auth = format!("ApiKey {}", s.token);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/x-ndjson")];
    let (status, out) = http(&s.http, "POST", "/_bulk", &headers, body.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
}

fn api(s: &Server, path: &str) -> serde_json::Value {
    let auth = format!("Bearer {}", s.token);
    let (status, out) = http(&s.http, "GET", path, &[("Authorization", auth.as_str())], b"");
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&out));
    serde_json::from_slice(&out).unwrap()
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_analyst_works_an_incident_in_the_console() {
    let tmp = fresh_dir("first");
    let server = start_server(&tmp);
    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let shots = artifacts();
    let shot = |name: &str| b.screenshot(&shots.join(format!("{name}.png")));
    let base = format!("http://{}", server.http);

    // Log in: a page of the console first sends us to the login form.
    b.goto(&format!("{base}/ui/default/alerts"));
    assert!(b.url().contains("/ui/login"), "{}", b.url());
    b.type_into("#user", "admin");
    b.type_into("#password", "not the password");
    b.click_to_load("#login");
    assert!(b.page_text().contains("Wrong user name or password"));
    b.type_into("#password", &server.password);
    shot("01-login");
    b.click_to_load("#login");
    wait_until("the alert queue after login", 10, || b.url().ends_with("/ui/default/alerts").then_some(()));

    // New events become an alert in the queue.
    send_scenario(&server);
    wait_until("alerts in the queue", 60, || {
        b.goto(&format!("{base}/ui/default/alerts"));
        (b.count("tr.alert-row") >= 3).then_some(())
    });
    assert!(b.page_text().contains("Failed Logon"), "{}", b.page_text());
    shot("02-alert-queue");

    // Acknowledge it: select the first alert and use the bulk action.
    b.click("tr.alert-row input[name=alert]");
    b.click_to_load("#bulk-ack");
    b.click_to_load("tr.alert-row a.incident-link");
    wait_until("the incident page", 10, || b.url().contains("/incidents/").then_some(()));
    assert_eq!(b.text("#incident-status"), "Acknowledged");
    assert!(b.count("#timeline li.tl-alert") >= 1);
    shot("03-incident");
    let id: i64 = b.url().rsplit('/').next().unwrap().parse().unwrap();

    // A note, in Markdown, with markup it must not run.
    b.type_into(
        "#note-body",
        "Called **alice**: she did not log in at 03:00.\n\n- Resetting her password\n- <script>alert(1)</script>",
    );
    b.click_to_load("#add-note");
    wait_until("the note in the timeline", 10, || b.text("#timeline").contains("Resetting her password").then_some(()));
    // The change is confirmed, and the note is listed with its author.
    assert_eq!(b.text("p.notice"), "The note is added.");
    assert!(b.text("#notes").contains("Resetting her password") && b.text("#notes").contains("admin"));
    assert_eq!((b.count("#notes strong"), b.count("#notes li li"), b.count("#notes script")), (1, 2, 0));
    assert!(b.text("#notes").contains("<script>alert(1)</script>"));
    shot("04-note");

    // Escalate to the CSIRT.
    b.type_into("#escalate-to", "CSIRT");
    b.click_to_load("#escalate");
    wait_until("the escalation", 10, || (b.text("#escalated-to") == "CSIRT").then_some(()));
    shot("05-escalated");

    // What the browser did is what the server holds.
    let detail = api(&server, &format!("/api/v1/incidents/{id}"));
    assert_eq!(detail["incident"]["status"], "acknowledged");
    assert_eq!(detail["incident"]["escalated_to"], "CSIRT");
    let timeline = api(&server, &format!("/api/v1/incidents/{id}/timeline"));
    let notes: Vec<&serde_json::Value> = timeline.as_array().unwrap().iter().filter(|e| e["kind"] == "note").collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["actor"], "admin");

    // Japanese, for this user from now on.
    b.click("#lang option[value=ja]");
    b.click_to_load("#lang-save");
    wait_until("the page in Japanese", 10, || b.page_text().contains("タイムライン").then_some(()));
    assert_eq!(b.text("#incident-status"), "確認済み");
    assert!(b.text("nav").contains("アラート"));
    assert!(!b.page_text().contains("⟦"), "a word without a translation");
    shot("06-japanese");
    b.goto(&format!("{base}/ui/default/"));
    assert!(b.page_text().contains("概要"));
    shot("07-overview-ja");

    // Log out: the session is gone, pages lead to the login form again.
    b.click_to_load("#logout");
    wait_until("the login page", 10, || b.url().contains("/ui/login").then_some(()));
    shot("08-logged-out");
    b.goto(&format!("{base}/ui/default/incidents/{id}"));
    assert!(b.url().contains("/ui/login"), "{}", b.url());
    let _ = std::fs::remove_dir_all(&tmp);
}

/// What attackers write into log fields, in one Windows failed logon (the
/// triage rules make an incident of it): markup and script, attribute
/// breakers, a `javascript:` URL, HTML entities that must stay entities,
/// bidi and zero-width characters, a megabyte value, and bytes that are
/// not UTF-8.
fn hostile_events() -> Vec<u8> {
    let now = jiff::Timestamp::now().to_string();
    let event = serde_json::json!({
        "EventTime": now, "Channel": "Security", "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "EventID": 4625, "LogonType": 3, "IpAddress": "203.0.113.66", "Status": "0xc000006d",
        "Computer": "ws-9\"><script>window.pwned=1</script>",
        "TargetUserName": "<img src=x onerror=\"document.title='pwned'\">alice\" onmouseover=\"document.title='pwned'",
        "ProcessName": "javascript:document.title='pwned'",
        "WorkstationName": "&lt;b&gt;not bold&lt;/b&gt;",
        "SubjectUserName": "\u{202e}exe.gnp",
        "TargetDomainName": "ad\u{200b}min",
        "Message": format!("<svg onload=\"document.title='pwned'\"></svg>{}", "A".repeat(1 << 20)),
    });
    let mut body = serde_json::to_vec(&event).unwrap();
    // A field whose bytes are not UTF-8, first.
    body.splice(1..1, b"\"Comment\":\"caf\xe9 \xff\xfe\",".iter().copied());
    body.push(b'\n');
    body
}

/// The checks on a page holding hostile text: nothing of it ran, nothing
/// of it became an element, and it is there as text (text nodes, shown or
/// one click away in a closed `details`).
fn check_page(b: &Browser, what: &str, shows: &[&str]) {
    let seen = b.script(
        "return {pwned: window.pwned === undefined ? null : window.pwned, title: document.title, \
         injected: document.querySelectorAll('img, iframe, object, embed, script:not([src]), [onerror], [onload], \
         [onmouseover], a[href^=\"javascript:\"]').length, text: document.body.textContent};",
    );
    assert_eq!(seen["pwned"], serde_json::Value::Null, "{what}: a script ran");
    assert_ne!(seen["title"], "pwned", "{what}: a handler ran");
    assert_eq!(seen["injected"], 0, "{what}: an element was injected");
    let text = seen["text"].as_str().unwrap_or_default();
    for s in shows {
        assert!(text.contains(s), "{what}: {s:?} is not shown as text");
    }
}

#[test]
fn hostile_log_content_is_shown_as_text_on_every_page() {
    let tmp = fresh_dir("hostile-");
    let server = start_server(&tmp);
    let auth = format!("Bearer {}", server.token);
    let send = |format: &str, body: &[u8]| {
        let path = format!("/api/v1/ingest?format={format}");
        let (status, out) = http(&server.http, "POST", &path, &[("Authorization", auth.as_str())], body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    };
    send("json", &hostile_events());
    // A record that does not parse: a dead letter, its text on the sources page.
    send("json", b"{\"unterminated\": \"<script>window.pwned=2</script><img src=x onerror=alert(2)>\n");
    let incident = wait_until("the incident", 60, || {
        let list = api(&server, "/api/v1/incidents");
        list["incidents"].as_array()?.first()?["id"].as_i64()
    });

    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let shots = artifacts();
    let base = format!("http://{}", server.http);
    b.goto(&format!("{base}/ui/login"));
    b.type_into("#user", "admin");
    b.type_into("#password", &server.password);
    b.click_to_load("#login");

    let user = "<img src=x onerror=\"document.title='pwned'\">alice";
    let pages: &[(&str, String, &[&str])] = &[
        ("alerts", "/ui/default/alerts".to_string(), &[user]),
        ("incidents", "/ui/default/incidents".to_string(), &[]),
        // Bidi and zero-width characters are written out, not obeyed.
        (
            "incident",
            format!("/ui/default/incidents/{incident}"),
            &[user, "<script>window.pwned=1</script>", "⟨U+202E⟩exe.gnp"],
        ),
        ("handoff", format!("/ui/default/incidents/{incident}/handoff"), &[user]),
        ("overview", "/ui/default/".to_string(), &[]),
        ("sources", "/ui/default/sources".to_string(), &["<script>window.pwned=2</script>"]),
    ];
    for (name, path, shows) in pages {
        b.goto(&format!("{base}{path}"));
        check_page(&b, name, shows);
        b.screenshot(&shots.join(format!("hostile-{name}.png")));
    }
    // The evidence: from the incident page to the event in search, and a
    // search over the events with every column the page shows.
    b.goto(&format!("{base}/ui/default/incidents/{incident}"));
    b.click_to_load("#evidence a.evidence-link");
    wait_until("the evidence event", 30, || (b.count("#raw-record") == 1).then_some(()));
    check_page(&b, "evidence", &["<script>window.pwned=1</script>"]);
    b.screenshot(&shots.join("hostile-evidence.png"));
    // The alert, with its matched event, and the user's entity page.
    b.goto(&format!("{base}/ui/default/incidents/{incident}"));
    b.click_to_load("#story a.step-title");
    check_page(&b, "alert", &[user, "<script>window.pwned=1</script>"]);
    b.screenshot(&shots.join("hostile-alert.png"));
    b.click_to_load("#alert-facts a.ent[href*='entities/user']");
    check_page(&b, "entity", &[user]);
    b.screenshot(&shots.join("hostile-entity.png"));
    b.goto(&format!("{base}/ui/default/search?q=EventID%3A4625&from=-24h"));
    check_page(&b, "search", &[user, "<svg onload=", "ad⟨U+200B⟩min", "caf\u{fffd}"]);
    b.screenshot(&shots.join("hostile-search.png"));

    // Every console page forbids inline script; the hand-off page allows
    // only its own style, by hash.
    let cookie = b.script("return document.cookie;");
    assert_eq!(cookie, "", "the session cookie is HTTP-only");
    for path in ["/ui/login", "/ui/assets/app.css"] {
        let (_, head, _) = exchange(&server.http, "GET", path, &[], b"");
        let csp = head.lines().find_map(|l| l.strip_prefix("content-security-policy:")).unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
    }
    let (_, head, _) = exchange(
        &server.http,
        "GET",
        &format!("/api/v1/incidents/{incident}/escalation?format=html"),
        &[("Authorization", auth.as_str())],
        b"",
    );
    let csp = head.lines().find_map(|l| l.strip_prefix("content-security-policy:")).unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("style-src 'sha256-") && !csp.contains("unsafe"),
        "{csp}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Logs in as the admin the server printed.
fn log_in(b: &Browser, base: &str, server: &Server) {
    b.goto(&format!("{base}/ui/login"));
    b.type_into("#user", "admin");
    b.type_into("#password", &server.password);
    b.click_to_load("#login");
}

/// The texts of the cells matched by `css`, in page order.
fn texts(b: &Browser, css: &str) -> Vec<String> {
    let found = b.script(&format!(
        "return Array.from(document.querySelectorAll({})).map(e => e.textContent.trim());",
        serde_json::to_string(css).unwrap()
    ));
    found.as_array().unwrap().iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn search_renders_each_pipes_shape_narrows_by_a_field_and_keeps_a_saved_search() {
    let tmp = fresh_dir("search-");
    let server = start_server(&tmp);
    send_scenario(&server);
    // The scenario's events are searchable (not only detected).
    wait_until("the events in the store", 60, || {
        let auth = format!("Bearer {}", server.token);
        let body = br#"{"query": "EventID:4625", "from": "2026-11-19T00:00:00Z"}"#;
        let (status, out) = http(&server.http, "POST", "/api/v1/search", &[("Authorization", auth.as_str())], body);
        (status == 200 && String::from_utf8_lossy(&out).matches("\"_id\"").count() >= 9).then_some(())
    });
    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let shots = artifacts();
    let base = format!("http://{}", server.http);
    log_in(&b, &base, &server);
    let search = |q: &str| {
        b.goto(&format!("{base}/ui/default/search?from=2026-11-19&q={}", webdriver::url_encode(q)));
    };

    // stats: its own columns, the count in each row.
    search("EventID:4625 | stats count() by host.name");
    assert_eq!(texts(&b, "#results th"), ["host.name", "count()"]);
    assert_eq!(texts(&b, "#results tbody td"), ["WS-042.corp.example", "8", "WS-200.corp.example", "1"]);
    b.screenshot(&shots.join("search-stats.png"));

    // timechart: a chart and its table.
    search("* | timechart span=1h count() by EventID");
    assert_eq!(b.count("main svg.chart"), 1);
    assert_eq!(texts(&b, "#results th"), ["_time", "EventID", "count()"]);
    assert!(b.count("#results tbody tr") >= 2);
    b.screenshot(&shots.join("search-timechart.png"));

    // fields: the chosen columns, in their order.
    search("* | fields EventID, TargetUserName, host.name");
    assert_eq!(texts(&b, "#results th"), ["EventID", "TargetUserName", "host.name"]);
    assert!(texts(&b, "#results tbody td").iter().any(|c| c == "alice"));
    b.screenshot(&shots.join("search-fields.png"));

    // Events: Windows columns; the sidebar's filter-in narrows to a value.
    search("Channel:Security");
    let all = b.count("#results tbody tr");
    let heads = texts(&b, "#results th");
    assert!(heads.contains(&"EventID".to_string()) && heads.contains(&"host.name".to_string()), "{heads:?}");
    b.click("details[data-field='EventID'] summary");
    b.screenshot(&shots.join("search-sidebar.png"));
    b.click_to_load("details[data-field='EventID'] a.filter-in[aria-label$='= 4625']");
    assert!(b.url().contains("EventID%3A%224625%22"), "{}", b.url());
    let column = heads.iter().position(|h| h == "EventID").unwrap() + 1;
    let ids = texts(&b, &format!("#results tbody td:nth-child({column})"));
    assert!(!ids.is_empty() && ids.len() < all, "{} of {all}", ids.len());
    assert!(ids.iter().all(|id| id == "4625"), "{ids:?}");
    let failed = ids.len();
    // Filter out: none of them is left, and all the others are.
    search("Channel:Security");
    b.click("details[data-field='EventID'] summary");
    b.click_to_load("details[data-field='EventID'] a.filter-out[aria-label$='= 4625']");
    let column = texts(&b, "#results th").iter().position(|h| h == "EventID").unwrap() + 1;
    let ids = texts(&b, &format!("#results tbody td:nth-child({column})"));
    assert_eq!(ids.len(), all - failed, "{ids:?}");
    assert!(!ids.iter().any(|id| id == "4625"), "{ids:?}");

    // A row opens the whole event and its raw record.
    search("EventID:4625");
    b.click_to_load("#results a.event-link");
    wait_until("the event page", 10, || b.url().contains("/ui/default/events/").then_some(()));
    assert!(b.text("#raw-record").contains("\"EventID\": 4625"), "{}", b.text("#raw-record"));
    assert!(texts(&b, "#event-fields th").contains(&"host.name".to_string()));
    b.screenshot(&shots.join("search-event.png"));

    // A saved search reopens with its query and range.
    search("EventID:4625 | stats count() by TargetUserName");
    b.click("#saved summary");
    b.type_into("#search-name", "failed logons by user");
    b.click_to_load("#search-save");
    // An empty search page shows the saved searches open.
    b.goto(&format!("{base}/ui/default/search"));
    b.click_to_load("a.saved-search");
    assert_eq!(
        b.script("return document.getElementById('q').value;"),
        "EventID:4625 | stats count() by TargetUserName"
    );
    assert_eq!(texts(&b, "#results th"), ["TargetUserName", "count()"]);
    assert_eq!(texts(&b, "#results tbody td"), ["alice", "8", "carol", "1"]);
    b.screenshot(&shots.join("search-saved.png"));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The titles of the incident story's steps, in the order shown.
fn story_steps(b: &Browser) -> Vec<String> {
    texts(b, "#story li.step a.step-title")
}

/// The demo's attack, from the overview to the hand-off package, in one
/// language: the story shows the chain in order with its key fields, an
/// alert shows its matched event, the event its raw record, the user's
/// entity page her alerts.
fn walk_the_demo_story(b: &Browser, base: &str, lang: &str, words: &[&str], handoff_word: &str) {
    let shots = artifacts();
    let shot = |name: &str| b.screenshot(&shots.join(format!("story-{lang}-{name}.png")));
    b.goto(&format!("{base}/ui/demo/"));
    shot("01-overview");
    b.goto(&format!("{base}/ui/demo/incidents"));
    b.click_to_load("tr:has(.sev-critical) a[href*='/incidents/']");
    wait_until("the critical incident", 10, || b.url().contains("/ui/demo/incidents/").then_some(()));
    let incident = b.url();
    // The story: the chain in event-time order, grouped by tactic.
    let steps = story_steps(b);
    let chain = [
        "Failed Logon From The Internet",
        "Network Logon From Outside",
        "Special Privileges Assigned To A User",
        "Remote Service Installed Over An Admin Share",
        "Large Upload Through The Proxy",
    ];
    let at = |title: &str| steps.iter().position(|s| s == title).unwrap_or_else(|| panic!("{title} not in {steps:?}"));
    for w in chain.windows(2) {
        assert!(at(w[0]) < at(w[1]), "{} comes before {}: {steps:?}", w[0], w[1]);
    }
    assert_eq!(steps.iter().filter(|s| *s == "Remote Service Installed Over An Admin Share").count(), 2, "{steps:?}");
    let story = b.text("#story");
    for key in
        ["203.0.113.66", "alice", "srv-db-01", "srv-file-02", "PSEXESVC", "files.transfer-example.net", "734003200"]
    {
        assert!(story.to_lowercase().contains(&key.to_lowercase()), "{key} not in the story: {story}");
    }
    for w in words {
        assert!(b.page_text().contains(w), "{w:?} not on the incident page");
    }
    assert!(!b.page_text().contains("⟦"), "a word without a translation");
    // Evidence: each event once.
    let evidence = texts(b, "#evidence a.evidence-link");
    let mut unique = evidence.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), evidence.len(), "{evidence:?}");
    shot("02-incident");

    // An alert: the PsExec service, its rule and matched event.
    let psexec = b.script(
        "return Array.from(document.querySelectorAll('#story a.step-title')).find(a => a.textContent.includes('Remote Service')).href;",
    );
    b.goto(psexec.as_str().unwrap());
    wait_until("the alert page", 10, || b.url().contains("/ui/demo/alerts/").then_some(()));
    assert!(b.count("#matched tr.matched") >= 1, "no field of the rule marked");
    assert!(b.text("#rule").contains("T1021"), "{}", b.text("#rule"));
    shot("03-alert");

    // Its event, whole, with the raw record.
    b.click_to_load("#matched a.event-link");
    wait_until("the event page", 10, || b.url().contains("/ui/demo/events/").then_some(()));
    assert!(b.text("#raw-record").contains("\"EventID\": 7045"), "{}", b.text("#raw-record"));
    shot("04-event-raw");

    // alice's entity page: her alerts and incident.
    b.goto(&format!("{base}/ui/demo/entities/user?value=alice"));
    assert!(b.count("#entity-alerts tbody tr") >= 4, "{}", b.text("#entity-alerts"));
    assert!(b.text("#related-entities").contains("203.0.113.66"));
    // Her risk over time: today's peak, as a bar.
    assert!(b.count("#entity-risk-chart rect[fill='#b3261e']") >= 1);
    shot("05-entity-alice");

    // The hand-off package (escalated in the first walk).
    b.goto(&incident);
    if b.count("#handoff") == 0 {
        b.type_into("#escalate-to", "CSIRT");
        b.click_to_load("#escalate");
    }
    b.click_to_load("#handoff");
    let text = b.page_text();
    assert!(text.contains("alice") && text.contains("203.0.113.66"), "{text}");
    // In the reader's language too.
    assert!(text.contains(handoff_word), "{handoff_word:?} not in the hand-off package: {text}");
    shot("06-handoff");
}

#[test]
fn the_demo_story_from_overview_to_handoff_in_english_and_japanese() {
    let tmp = fresh_dir("demo-");
    let server = start_server_with(&tmp, &["--demo".as_ref()]);
    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let base = format!("http://{}", server.http);
    log_in(&b, &base, &server);
    // The demo's chain is triaged and its events searchable.
    wait_until("the attack chain's incident", 90, || {
        b.goto(&format!("{base}/ui/demo/incidents"));
        if b.count("tr:has(.sev-critical)") == 0 {
            return None;
        }
        b.click_to_load("tr:has(.sev-critical) a[href*='/incidents/']");
        (story_steps(&b).iter().any(|s| s == "Large Upload Through The Proxy") && b.count("#evidence .kv") > 0)
            .then_some(())
    });
    walk_the_demo_story(
        &b,
        &base,
        "en",
        &["What happened, step by step", "Lateral movement", "Exfiltration"],
        "Actions taken",
    );
    b.goto(&format!("{base}/ui/demo/"));
    b.click("#lang option[value=ja]");
    b.click_to_load("#lang-save");
    walk_the_demo_story(&b, &base, "ja", &["攻撃の流れ", "水平展開", "持ち出し", "認証情報アクセス"], "実施済みの対応");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// axe-core's browser build: `target/axe/axe.min.js`, which `scripts/test`
/// (and `scripts/fetch-axe`) fetch from the npm registry and verify, or
/// the file `HINOMI_AXE` names.
fn axe_source() -> String {
    let path = std::env::var_os("HINOMI_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/axe/axe.min.js"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("axe-core is needed for the accessibility test: run scripts/fetch-axe ({}: {e})", path.display())
    })
}

/// The critical and serious accessibility violations axe-core finds on
/// the page shown: rule, help and the first elements.
fn axe_violations(b: &Browser, axe: &str) -> Vec<String> {
    let js = format!(
        "{axe}\nconst done = arguments[arguments.length - 1];\n\
         axe.run(document, {{resultTypes: ['violations']}})\n\
           .then(r => done(r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')\n\
             .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))\n\
           .catch(e => done(['axe did not run: ' + e]));"
    );
    let found = b.script_async(&js, 120);
    found.as_array().unwrap_or_else(|| panic!("axe answered {found}")).iter().map(|v| v.to_string()).collect()
}

#[test]
fn no_console_page_has_a_critical_or_serious_accessibility_violation() {
    let axe = axe_source();
    let tmp = fresh_dir("axe-");
    let server = start_server_with(&tmp, &["--demo".as_ref()]);
    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let base = format!("http://{}", server.http);
    // axe runs and reports: a page with an image without a text and a
    // field without a label has critical violations.
    b.goto("data:text/html,<html lang=en><title>t</title><main><img src=x><input></main></html>");
    let control = axe_violations(&b, &axe);
    assert!(control.iter().any(|v| v.contains("image-alt")), "{control:?}");
    let mut problems = Vec::new();
    b.goto(&format!("{base}/ui/login"));
    problems.extend(axe_violations(&b, &axe).into_iter().map(|v| format!("login: {v}")));
    log_in(&b, &base, &server);
    // Pages with the demo's data in them: its incident, an alert, an event.
    let (incident, alert, event) = wait_until("the demo's incident", 90, || {
        b.goto(&format!("{base}/ui/demo/incidents"));
        if b.count("tr:has(.sev-critical)") == 0 {
            return None;
        }
        b.click_to_load("tr:has(.sev-critical) a[href*='/incidents/']");
        let incident = b.url();
        let alert = b.script("const a = document.querySelector('#story a.step-title'); return a && a.href;");
        let event = b.script("const a = document.querySelector('#evidence a.evidence-link'); return a && a.href;");
        Some((incident, alert.as_str()?.to_string(), event.as_str()?.to_string()))
    });
    let q = |query: &str| format!("{base}/ui/demo/search?from=-2d&q={}", webdriver::url_encode(query));
    let pages = [
        ("overview", format!("{base}/ui/demo/")),
        ("alerts", format!("{base}/ui/demo/alerts")),
        ("alert", alert),
        ("incidents", format!("{base}/ui/demo/incidents")),
        ("incident", incident.clone()),
        ("handoff", format!("{incident}/handoff")),
        ("search-empty", format!("{base}/ui/demo/search")),
        ("search-events", q("alice")),
        ("search-stats", q("* | stats count() by host.name")),
        ("search-timechart", q("* | timechart span=1h count() by EventID")),
        ("event", event),
        ("entity", format!("{base}/ui/demo/entities/user?value=alice")),
        ("rules", format!("{base}/ui/demo/rules")),
        ("sources", format!("{base}/ui/demo/sources")),
        ("settings", format!("{base}/ui/demo/settings")),
    ];
    for (name, url) in &pages {
        b.goto(url);
        problems.extend(axe_violations(&b, &axe).into_iter().map(|v| format!("{name}: {v}")));
    }
    assert!(problems.is_empty(), "{} violations:\n{}", problems.len(), problems.join("\n"));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn queues_filter_by_rule_title_sort_assign_to_me_and_count_new_alerts() {
    let tmp = fresh_dir("queues-");
    let server = start_server(&tmp);
    send_scenario(&server);
    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let shots = artifacts();
    let base = format!("http://{}", server.http);
    log_in(&b, &base, &server);
    wait_until("alerts in the queue", 60, || {
        b.goto(&format!("{base}/ui/default/alerts"));
        (b.count("tr.alert-row") >= 3).then_some(())
    });
    let all = b.count("tr.alert-row");

    // The rule filter takes part of a title, in any case.
    b.type_into("#f-rule", "failed LOGON");
    b.click_to_load("form.filters button");
    let titles = texts(&b, "tr.alert-row a.alert-link");
    assert!(!titles.is_empty() && titles.len() < all, "{titles:?}");
    assert!(titles.iter().all(|t| t.to_lowercase().contains("failed logon")), "{titles:?}");

    // Most severe first: the severities never rise down the page.
    b.goto(&format!("{base}/ui/default/alerts"));
    b.click_to_load("#alert-queue th a.sort[href*='sort=severity']");
    let rank = |s: &str| ["Info", "Low", "Medium", "High", "Critical"].iter().position(|x| *x == s).unwrap();
    let severities: Vec<usize> = texts(&b, "tr.alert-row .sev").iter().map(|s| rank(s)).collect();
    assert!(severities.windows(2).all(|w| w[0] >= w[1]), "{severities:?}");
    assert_eq!(b.script("return document.querySelector('th[aria-sort=descending]').textContent.trim();"), "Severity ▼");
    shot_to(&b, &shots, "queue-by-severity");

    // Closing without a disposition is refused with the reason.
    b.click("tr.alert-row input[name=alert]");
    b.click_to_load("button[value=close]");
    assert!(b.page_text().contains("closing needs a disposition"), "{}", b.page_text());
    // Assign to me: the incident is in "mine".
    b.goto(&format!("{base}/ui/default/alerts"));
    b.click("tr.alert-row input[name=alert]");
    b.click_to_load("#bulk-mine");
    b.goto(&format!("{base}/ui/default/incidents?assignee=me"));
    assert!(b.count("#incident-list tbody tr a") >= 1, "{}", b.text("#incident-list"));
    assert!(texts(&b, "#incident-list tbody td:nth-child(5)").iter().all(|a| a == "admin"));
    // Every status can be listed, closed ones too.
    b.goto(&format!("{base}/ui/default/incidents"));
    b.click("#i-status option[value=all]");
    b.click_to_load("form.filters button");
    assert!(b.url().contains("status=all"), "{}", b.url());

    // A queue left open learns of new alerts without a reload.
    b.goto(&format!("{base}/ui/default/alerts"));
    assert_eq!(b.script("return document.getElementById('new-alerts').hidden;"), true);
    let now = jiff::Timestamp::now().to_string();
    let event = serde_json::json!({"EventTime": now, "Channel": "Security", "Computer": "WS-777.corp.example",
        "Provider_Name": "Microsoft-Windows-Security-Auditing", "EventID": 4625, "LogonType": 3,
        "TargetUserName": "mallory", "IpAddress": "198.51.100.77", "Status": "0xc000006d"});
    let auth = format!("Bearer {}", server.token);
    let (status, out) = http(
        &server.http,
        "POST",
        "/api/v1/ingest?format=json",
        &[("Authorization", auth.as_str())],
        format!("{event}\n").as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    wait_until("the news on the open queue", 60, || {
        (b.script("return document.getElementById('new-alerts').hidden;") == false).then_some(())
    });
    assert!(b.text("#new-alerts-count").parse::<u32>().unwrap() >= 1);
    shot_to(&b, &shots, "queue-news");
    let _ = std::fs::remove_dir_all(&tmp);
}

fn shot_to(b: &Browser, dir: &Path, name: &str) {
    b.screenshot(&dir.join(format!("{name}.png")));
}

/// Failed and successful network logons of `user` now, in one request.
fn send_logons(s: &Server, user: &str) {
    let now = jiff::Timestamp::now().to_string();
    let logon = |id: u32| {
        serde_json::json!({"EventTime": now, "Channel": "Security", "Computer": "WS-900.corp.example",
            "Provider_Name": "Microsoft-Windows-Security-Auditing", "EventID": id, "LogonType": 3,
            "TargetUserName": user, "IpAddress": "198.51.100.90", "Status": "0xc000006d"})
    };
    let body = format!("{}\n{}\n", logon(4625), logon(4624));
    let auth = format!("Bearer {}", s.token);
    let (status, out) =
        http(&s.http, "POST", "/api/v1/ingest?format=json", &[("Authorization", auth.as_str())], body.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
}

/// The rule titles of `user`'s alerts, once the network logon's is there.
fn alerts_of(s: &Server, user: &str) -> Vec<String> {
    wait_until("the network logon's alert", 60, || {
        let list = api(s, "/api/v1/alerts?status=all&limit=1000");
        let titles: Vec<String> = list["alerts"]
            .as_array()?
            .iter()
            .filter(|a| a["entities"].as_array().is_some_and(|e| e.iter().any(|e| e["value"] == user)))
            .filter_map(|a| a["title"].as_str().map(str::to_string))
            .collect();
        titles.iter().any(|t| t == "Network Logon From Outside").then_some(titles)
    })
}

#[test]
fn rules_are_found_paged_and_switched_off_for_the_tenant_without_a_restart() {
    let tmp = fresh_dir("rules-");
    let server = start_server(&tmp);
    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let base = format!("http://{}", server.http);
    log_in(&b, &base, &server);
    b.goto(&format!("{base}/ui/default/rules"));
    assert_eq!(b.count("tr.rule-row"), 3);
    b.type_into("#r-q", "FAILED");
    b.click_to_load("form.filters button");
    assert_eq!(texts(&b, "tr.rule-row td:first-child"), ["Failed Logon"]);
    b.click_to_load("button.switch[aria-label='Switch off Failed Logon']");
    assert!(b.url().contains("q=FAILED"), "back to the same list: {}", b.url());
    assert_eq!(texts(&b, "tr.rule-row td:nth-child(7)")[0], "off Switch on");
    b.screenshot(&artifacts().join("rules-switched-off.png"));
    // Off: the failed logon raises nothing; the other rule still does.
    send_logons(&server, "zed");
    assert_eq!(alerts_of(&server, "zed"), ["Network Logon From Outside"]);
    // On again, at once.
    b.click_to_load("button.switch[aria-label='Switch on Failed Logon']");
    send_logons(&server, "yan");
    let mut titles = alerts_of(&server, "yan");
    titles.sort();
    assert_eq!(titles, ["Failed Logon", "Network Logon From Outside"]);
    // Both switches are in the tenant's audit trail.
    let trail = api(&server, "/api/v1/audit?limit=100");
    let text = trail.to_string();
    assert!(text.contains("rule.disable") && text.contains("rule.enable"), "{text}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_lead_edits_sla_targets_and_assets_and_picks_a_time_zone() {
    let tmp = fresh_dir("settings-");
    let server = start_server(&tmp);
    let (_driver, driver) = chromedriver();
    let b = Browser::open(&driver);
    let base = format!("http://{}", server.http);
    log_in(&b, &base, &server);
    b.goto(&format!("{base}/ui/default/settings"));
    b.click("#sla-sev option[value=high]");
    b.type_into("#sla-ack", "30");
    b.type_into("#sla-resolve", "240");
    b.click_to_load("#sla-save");
    let row = texts(&b, "#sla-policies tbody tr").join(" | ");
    assert!(row.contains("High") && row.contains("30 min") && row.contains("240 min"), "{row}");
    b.script("document.getElementById('assets-csv').value = '';");
    b.type_into(
        "#assets-csv",
        "kind,match,criticality,owner,business_unit\nhost,srv-db-*,critical,\"DBA, team\",finance\n",
    );
    b.click_to_load("#assets-save");
    assert_eq!(texts(&b, "#assets tbody td"), ["host srv-db-*", "critical", "DBA, team", "finance"]);
    // A bad inventory is refused with its line, and nothing changes.
    b.script("document.getElementById('assets-csv').value = 'kind,match,criticality\\nhost,x,urgent\\n';");
    b.click_to_load("#assets-save");
    assert!(b.page_text().contains("line 2"), "{}", b.page_text());
    assert_eq!(texts(&b, "#assets tbody td")[0], "host srv-db-*");
    // The time zone is picked, and times follow it.
    b.click("#tz option[value='Asia/Tokyo']");
    b.click_to_load("#lang-save");
    assert_eq!(b.script("return document.getElementById('tz').value;"), "Asia/Tokyo");
    let api_sla = api(&server, "/api/v1/audit?limit=100").to_string();
    assert!(api_sla.contains("sla_policy") && api_sla.contains("assets"), "{api_sla}");
    b.screenshot(&artifacts().join("settings-edited.png"));
    let _ = std::fs::remove_dir_all(&tmp);
}
