//! Golden files for patterns and feeds (`UPDATE_EXPECT=1 cargo test -p
//! intel` rewrites them), and matching cases.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use model::{Event, Value};

use crate::observe::Fields;
use crate::{Entry, Indicator, Kind, Observable, Read, Set, Tlp, list, misp, pattern, stix, techniques_in};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(name)
}

/// The one golden check: `got` against `test_data/<name>`.
fn check(name: &str, got: &str) {
    let path = data(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, got).expect("writing the golden file");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(got, want, "golden mismatch for {} (UPDATE_EXPECT=1 to accept)", path.display());
}

/// A feed's reading as text: one line per indicator, revocation and problem.
fn render(read: &Read) -> String {
    let mut out = String::new();
    for i in &read.indicators {
        let time = |t: Option<Timestamp>| t.map_or("-".to_string(), |t| t.to_string());
        out.push_str(&format!(
            "indicator {} | {} | {} | confidence {} | {} | {} .. {} | modified {} | tags {:?} | attack {:?}\n",
            i.id,
            i.name,
            i.pattern,
            i.confidence.map_or("-".into(), |c| c.to_string()),
            i.tlp.map_or("unmarked".into(), |t| t.to_string()),
            time(i.valid_from),
            time(i.valid_until),
            time(i.modified),
            i.tags,
            i.attack,
        ));
    }
    for r in &read.revoked {
        out.push_str(&format!("revoked {r}\n"));
    }
    for p in &read.problems {
        out.push_str(&format!("problem {p}\n"));
    }
    out
}

#[test]
fn patterns_golden() {
    let input = std::fs::read_to_string(data("patterns.txt")).expect("reading patterns.txt");
    let mut out = String::new();
    for line in input.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let result = match pattern::parse(line) {
            Ok(p) => {
                // The canonical form reads back as itself.
                let again = pattern::parse(&p.to_stix()).map(|q| q.to_stix());
                assert_eq!(again.as_deref(), Ok(p.to_stix().as_str()), "{line}");
                p.to_stix()
            }
            Err(e) => format!("error: {e}"),
        };
        out.push_str(&format!("{line}\n  {result}\n"));
    }
    check("patterns.golden", &out);
}

#[test]
fn long_and_deep_patterns_are_refused() {
    let long = format!("[domain-name:value = '{}']", "a".repeat(pattern::MAX_PATTERN));
    assert!(pattern::parse(&long).is_err());
    let many: Vec<String> = (0..300).map(|i| format!("[domain-name:value = 'a{i}.example']")).collect();
    let err = pattern::parse(&many.join(" OR ")).expect_err("too many alternatives");
    assert!(err.message.contains("more than 256"), "{err}");
    // (a OR b) AND (c OR d) AND ...: expanding doubles each time.
    let part = "([domain-name:value = 'a.example'] OR [domain-name:value = 'b.example'])";
    let err = pattern::parse(&[part; 12].join(" AND ")).expect_err("expansion bounded");
    assert!(err.message.contains("expanded"), "{err}");
}

#[test]
fn observables_canonical() {
    let cases = [
        (Kind::Ip, " 10.1.2.3 ", Ok("10.1.2.3")),
        (Kind::Ip, "10.1.2.3/8", Ok("10.0.0.0/8")),
        (Kind::Ip, "::ffff:10.1.2.3", Ok("10.1.2.3")),
        (Kind::Ip, "[2001:db8::1]", Ok("2001:db8::1")),
        (Kind::Ip, "10.1.2.3/33", Err(())),
        (Kind::Ip, "evil.example", Err(())),
        (Kind::Domain, "WWW.Evil.Example.", Ok("www.evil.example")),
        (Kind::Domain, "10.1.2.3", Err(())),
        (Kind::Domain, "a..example", Err(())),
        (Kind::Domain, "bücher.example", Ok("bücher.example")),
        (Kind::Url, "HTTPS://User@Evil.Example:8443", Ok("https://user@evil.example:8443/")),
        (Kind::Url, "evil.example/path", Err(())),
        (Kind::Url, "http://evil.example/a b", Err(())),
        (Kind::Email, "Mallory <Mallory@Evil.Example>", Err(())),
        (Kind::Email, "<Mallory@Evil.Example>", Ok("mallory@evil.example")),
        (Kind::Md5, "D41D8CD98F00B204E9800998ECF8427E", Ok("d41d8cd98f00b204e9800998ecf8427e")),
        (Kind::Sha1, "d41d8cd98f00b204e9800998ecf8427e", Err(())),
        (Kind::Ja4, "T13D1516H2_8daaf6152771_b0da82dd1658", Ok("t13d1516h2_8daaf6152771_b0da82dd1658")),
        (Kind::Ja4, "t13d1516h2-8daaf6152771", Err(())),
    ];
    for (kind, raw, want) in cases {
        let got = Observable::new(kind, raw).map(|o| o.value.to_string()).map_err(|_| ());
        assert_eq!(got, want.map(str::to_string), "{kind} {raw:?}");
    }
}

#[test]
fn stix_bundle_golden() {
    let text = std::fs::read_to_string(data("bundle.json")).expect("reading bundle.json");
    let read = stix::read_bundle(&text).expect("a bundle");
    check("bundle.golden", &render(&read));
    assert!(stix::read_bundle("{\"type\": \"bundle\", \"objects\": [").is_err(), "truncated JSON is an error");
}

#[test]
fn misp_feed_golden() {
    let manifest = std::fs::read_to_string(data("misp/manifest.json")).expect("reading the manifest");
    let events = misp::read_manifest(&manifest).expect("a manifest");
    let mut out = format!("manifest {events:?}\n");
    for (uuid, _) in &events {
        let text = std::fs::read_to_string(data(&format!("misp/{uuid}.json"))).expect("reading an event");
        let (read, skipped) = misp::read_event(&text).expect("an event");
        out.push_str(&format!("event {uuid}: skipped {skipped}\n{}", render(&read)));
    }
    check("misp.golden", &out);
    assert!(misp::read_manifest("{\"../../etc/passwd\": {}}").expect("a map").is_empty(), "only UUIDs name files");
}

#[test]
fn lists_golden() {
    let mut out = String::new();
    for name in ["list.csv", "list.txt"] {
        let text = std::fs::read_to_string(data(name)).expect("reading a list");
        out.push_str(&format!("# {name}\n{}", render(&list::read(&text, None))));
    }
    let forced = list::read("evil.example\n", Some(Kind::Url));
    let crlf = list::read("# a comment\r\n\r\nvalue,type\r\n198.51.100.30,ip\r\n", None);
    out.push_str(&format!("# CRLF lines\n{}", render(&crlf)));
    out.push_str(&format!("# a domain read as a URL\n{}", render(&forced)));
    check("lists.golden", &out);
}

#[test]
fn techniques_are_found_in_tags() {
    assert_eq!(techniques_in("attack.t1566.001"), vec!["T1566.001"]);
    assert_eq!(techniques_in("misp-galaxy:mitre-attack-pattern=\"Phishing - T1566\""), vec!["T1566"]);
    assert_eq!(techniques_in("T1059, T1059.001 and XT1234 T12345 T1234.12"), vec!["T1059", "T1059.001"]);
}

#[test]
fn the_field_table_reads() {
    let table = include_str!("../data/observables.txt");
    assert!(Fields::parse(table).is_ok());
    assert!(Fields::parse("source.ip | colour").is_err());
}

fn entry(tenant: Option<&str>, indicator: Indicator) -> Entry {
    Entry { tenant: tenant.map(Into::into), feed: "test".into(), indicator: Arc::new(indicator) }
}

fn ind(id: &str, pattern: &str) -> Indicator {
    let pattern = pattern::parse(pattern).expect("a pattern");
    Indicator { pattern, ..Indicator::of(id, Observable::new(Kind::Domain, "x.example").expect("a domain")) }
}

fn event(fields: &[(&str, &str)]) -> Event {
    let mut e = Event::new();
    for (k, v) in fields {
        e.push(*k, Value::Str((*v).into()));
    }
    e
}

/// The ids of the indicators `fields` match for `tenant` at `now`.
fn hits(set: &Set, tenant: &str, fields: &[(&str, &str)], now: Timestamp) -> Vec<String> {
    let mut seen = Vec::new();
    Fields::default().observe(&event(fields), &mut seen);
    let mut ids: Vec<String> = set.matches(tenant, &seen, now).iter().map(|h| h.entry.indicator.id.clone()).collect();
    ids.sort();
    ids
}

#[test]
fn events_match_indicators_of_every_kind() {
    let now: Timestamp = "2026-12-06T00:00:00Z".parse().expect("a time");
    let set = Set::new(vec![
        entry(None, ind("ip", "[ipv4-addr:value = '198.51.100.7']")),
        entry(None, ind("net", "[ipv4-addr:value ISSUBSET '203.0.113.0/24']")),
        entry(None, ind("net16", "[ipv4-addr:value ISSUBSET '203.0.0.0/16']")),
        entry(None, ind("v6", "[ipv6-addr:value ISSUBSET '2001:db8::/32']")),
        entry(None, ind("dom", "[domain-name:value = 'evil.example']")),
        entry(None, ind("url", "[url:value = 'http://bad.example/payload']")),
        entry(
            None,
            ind(
                "sha256",
                "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
            ),
        ),
        entry(None, ind("md5", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']")),
        entry(None, ind("mail", "[email-addr:value = 'mallory@evil.example']")),
        entry(None, ind("ja3", "[x-ja3:value = 'e7d705a3286e19ea42f587b344ee6865']")),
        entry(None, ind("both", "[ipv4-addr:value = '192.0.2.1' AND domain-name:value = 'pair.example']")),
    ]);
    let case = |fields: &[(&str, &str)]| hits(&set, "acme", fields, now);
    assert_eq!(case(&[("destination.ip", "198.51.100.7")]), ["ip"]);
    assert_eq!(case(&[("source.ip", "203.0.113.200")]), ["net", "net16"]);
    assert_eq!(case(&[("source.ip", "203.0.114.1")]), ["net16"]);
    assert_eq!(case(&[("source.ip", "2001:db8:1::5")]), ["v6"]);
    assert_eq!(case(&[("source.ip", "::ffff:198.51.100.7")]), ["ip"]);
    assert_eq!(case(&[("dns.question.name", "a.b.EVIL.example.")]), ["dom"]);
    assert!(case(&[("dns.question.name", "notevil.example")]).is_empty(), "a suffix is not a subdomain");
    assert_eq!(case(&[("url.original", "HTTP://bad.example/payload")]), ["url"]);
    assert_eq!(case(&[("url.original", "https://cdn.evil.example/x")]), ["dom"], "a URL's host is a host");
    assert_eq!(
        case(&[(
            "Hashes",
            "SHA1=DA39A3EE5E6B4B0D3255BFEF95601890AFD80709,MD5=D41D8CD98F00B204E9800998ECF8427E,SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        )]),
        ["md5", "sha256"]
    );
    assert_eq!(case(&[("email.from.address", "Mallory <MALLORY@evil.example>")]), ["mail"]);
    assert_eq!(case(&[("tls.client.ja3", "E7D705A3286E19EA42F587B344EE6865")]), ["ja3"]);
    assert!(case(&[("destination.ip", "192.0.2.1")]).is_empty(), "half of an AND is no match");
    assert_eq!(case(&[("destination.ip", "192.0.2.1"), ("url.domain", "pair.example")]), ["both"]);
    assert!(case(&[("message", "198.51.100.7 evil.example")]).is_empty(), "only observable fields are read");
}

#[test]
fn tenants_validity_and_decay_decide() {
    let now: Timestamp = "2026-12-06T00:00:00Z".parse().expect("a time");
    let day = jiff::SignedDuration::from_hours(24);
    let ip = |id: &str| ind(id, "[ipv4-addr:value = '198.51.100.7']");
    let set = Set::new(vec![
        entry(Some("acme"), ip("acme-only")),
        entry(None, ip("shared")),
        entry(None, Indicator { valid_until: Some(now - day), ..ip("expired") }),
        entry(None, Indicator { valid_until: Some(now + day), ..ip("valid") }),
        entry(None, Indicator { valid_from: Some(now + day), ..ip("not-yet") }),
        entry(None, Indicator { revoked: true, ..ip("revoked") }),
        entry(
            None,
            Indicator {
                confidence: Some(80),
                valid_from: Some(now - day * 30),
                decay: Some(crate::Decay { half_life_days: 10, floor: 20 }),
                ..ip("faded")
            },
        ),
        entry(
            None,
            Indicator {
                confidence: Some(80),
                valid_from: Some(now - day * 10),
                decay: Some(crate::Decay { half_life_days: 10, floor: 20 }),
                ..ip("fading")
            },
        ),
    ]);
    let f = [("source.ip", "198.51.100.7")];
    assert_eq!(hits(&set, "acme", &f, now), ["acme-only", "fading", "shared", "valid"]);
    assert_eq!(hits(&set, "globex", &f, now), ["fading", "shared", "valid"]);
    assert_eq!(hits(&set, "globex", &f, now + day * 2), ["fading", "not-yet", "shared"]);
    let fading = &set.entries()[7].indicator;
    assert_eq!(fading.confidence_at(now), Some(40));
}

#[test]
fn an_event_reads_a_bounded_number_of_observables() {
    let mut e = Event::new();
    e.push(
        "related.ip",
        Value::Array((0..10_000).map(|i| Value::Str(format!("10.0.{}.{}", i / 256, i % 256).into())).collect()),
    );
    let mut seen = Vec::new();
    Fields::default().observe(&e, &mut seen);
    assert_eq!(seen.len(), crate::observe::MAX_SEEN);
}

#[test]
fn tlp_levels_read() {
    assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
    assert_eq!(Tlp::parse("tlp:white"), Some(Tlp::Clear));
    assert_eq!(Tlp::parse("TLP:PURPLE"), None);
    assert_eq!(stix::tlp_marking(Tlp::Red), "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed");
    assert_eq!(stix::tlp_marking(Tlp::AmberStrict), "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003");
}

#[test]
fn an_exported_bundle_reads_back_as_the_same_indicators() {
    use crate::export::{Export, Exported, Seen, bundle};
    let t = |s: &str| -> Timestamp { s.parse().expect("a time") };
    let mut net =
        ind("indicator--a", "[ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR [domain-name:value = 'evil.example']");
    net.confidence = Some(85);
    net.tlp = Some(Tlp::Amber);
    net.attack = vec!["T1071.001".into()];
    net.tags = vec!["c2".into()];
    net.valid_until = Some(t("2027-01-01T00:00:00Z"));
    let mut hash = ind(
        "ioc:sha256",
        "[file:hashes.'SHA-256' = 'aa00000000000000000000000000000000000000000000000000000000000000']",
    );
    hash.tlp = Some(Tlp::Red);
    let export = Export {
        seed: "acme/incident/7",
        producer: "acme",
        name: "C2 beacon from ws-17 (it's \"urgent\")",
        description: "incident 7",
        created: t("2026-12-01T10:00:00.123456Z"),
        modified: t("2026-12-06T12:00:00Z"),
        indicators: vec![
            Exported {
                indicator: net.clone(),
                sighting: Some(Seen { count: 3, first: t("2026-12-01T10:00:00Z"), last: t("2026-12-01T11:00:00Z") }),
            },
            Exported { indicator: hash.clone(), sighting: None },
        ],
    };
    let out = bundle(&export);
    let text = serde_json::to_string(&out).expect("json");
    let objects = out["objects"].as_array().expect("objects");
    let types: Vec<&str> = objects.iter().filter_map(|o| o["type"].as_str()).collect();
    assert_eq!(types, ["identity", "indicator", "sighting", "indicator", "grouping"]);
    assert_eq!(objects[1]["created"], "2026-12-01T10:00:00.123Z");
    assert_eq!(objects[2]["count"], 3);
    assert_eq!(objects[2]["sighting_of_ref"], objects[1]["id"]);
    assert_eq!(objects[4]["object_marking_refs"][0], stix::tlp_marking(Tlp::Red), "the strictest TLP");
    assert_eq!(objects[4]["object_refs"].as_array().map(Vec::len), Some(3));
    // The same incident exported again: the same ids.
    assert_eq!(bundle(&export)["objects"][1]["id"], objects[1]["id"]);
    let read = stix::read_bundle(&text).expect("reads");
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let back: Vec<_> =
        read.indicators.iter().map(|i| (i.pattern.to_stix(), i.confidence, i.tlp, i.attack.clone())).collect();
    assert_eq!(
        back,
        [
            (net.pattern.to_stix(), Some(85), Some(Tlp::Amber), vec!["T1071.001".to_string()]),
            (hash.pattern.to_stix(), None, Some(Tlp::Red), vec![]),
        ]
    );
    assert_eq!(read.indicators[0].valid_until, net.valid_until);
}
