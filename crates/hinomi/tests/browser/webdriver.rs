//! Just enough of the W3C WebDriver protocol to drive Chromium through
//! `chromedriver`, and a small HTTP/1.1 client for it and for sending
//! events to the server under test. Both peers are on loopback; the
//! client speaks `Connection: close` and reads to the end.
//!
//! Why not `thirtyfour`: its HTTP stack brings rustls with the aws-lc-rs
//! provider into test builds beside our ring provider (the two-provider
//! panic the dependency notes warn about) and ~100 crates; the protocol
//! is a dozen JSON calls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// One HTTP exchange: status and body.
pub(crate) fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let (status, _, body) = exchange(addr, method, path, headers, body);
    (status, body)
}

/// One HTTP exchange: status, the head (lowercased) and the body.
pub(crate) fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    // Read the head, then as much body as it announces (chromedriver keeps
    // connections open whatever the request says).
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{addr}{path}: connection closed before the answer");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status: u16 = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status code");
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let have = &raw[end..];
        let complete = match length {
            Some(n) => have.len() >= n,
            None if chunked => have.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = &raw[end..];
    let body = if chunked { dechunk(body) } else { body[..length.unwrap_or(body.len()).min(body.len())].to_vec() };
    (status, head, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// A browser session.
pub(crate) struct Browser {
    driver: String,
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Opens headless Chromium through the chromedriver at `driver`.
    pub(crate) fn open(driver: &str) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1366,900", "--lang=en-US"],
                "prefs": {"intl.accept_languages": "en-US,en"}
            }
        }}});
        let mut b = Browser { driver: driver.to_string(), session: String::new() };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().expect("a session id").to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = if path.starts_with("/session/") || path == "/session" {
            path.to_string()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, out) = http(&self.driver, method, &path, &[("Content-Type", "application/json")], body.as_bytes());
        let v: Value = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        assert_eq!(status, 200, "webdriver {method} {path}: {v}");
        v["value"].clone()
    }

    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    pub(crate) fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or_default().to_string()
    }

    fn find_now(&self, css: &str) -> Vec<String> {
        let v = self.call("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        v.as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    /// The first element for `css`, waiting up to ten seconds for it.
    pub(crate) fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.find_now(css).into_iter().next() {
                return e;
            }
            assert!(Instant::now() < deadline, "no element {css:?} on {}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn count(&self, css: &str) -> usize {
        self.find_now(css).len()
    }

    pub(crate) fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Clicks something that loads a new page, and waits for that page
    /// (its root element is a new one), so nothing reads the old page.
    pub(crate) fn click_to_load(&self, css: &str) {
        let before = self.find("html");
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.find_now("html").first() == Some(&before) {
            assert!(Instant::now() < deadline, "clicking {css:?} loaded no new page");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.find("body");
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.call("POST", &format!("/element/{e}/value"), Some(json!({ "text": text })));
    }

    pub(crate) fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), None).as_str().unwrap_or_default().to_string()
    }

    /// The visible text of the whole page.
    pub(crate) fn page_text(&self) -> String {
        self.text("body")
    }

    /// Runs a script in the page and returns what it returns.
    pub(crate) fn script(&self, js: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": js, "args": [] })))
    }

    /// Runs a script that calls its last argument with the answer (for
    /// promises), within `secs` seconds.
    pub(crate) fn script_async(&self, js: &str, secs: u64) -> Value {
        self.call("POST", "/timeouts", Some(json!({ "script": secs * 1000 })));
        self.call("POST", "/execute/async", Some(json!({ "script": js, "args": [] })))
    }

    /// Saves a PNG screenshot.
    pub(crate) fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let png =
            base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap_or_default()).expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(&self.driver, "DELETE", &format!("/session/{}", self.session), &[], b"");
        }
    }
}

/// `text` percent-encoded for a URL's query (everything but unreserved
/// characters).
pub(crate) fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
