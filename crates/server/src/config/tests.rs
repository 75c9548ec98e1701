use super::*;

#[track_caller]
fn parse_err(text: &str) -> String {
    match Config::parse(text).and_then(|c| c.check().map(|_| c)) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn defaults_bind_to_loopback() {
    let c = Config::load(None).unwrap();
    assert_eq!(c.http.listen, [SocketAddr::from(([127, 0, 0, 1], 8080))]);
    let addrs: Vec<_> = c.syslog.iter().map(|s| (s.protocol, s.listen.to_string())).collect();
    assert_eq!(addrs, [(Protocol::Udp, "127.0.0.1:5514".into()), (Protocol::Tcp, "127.0.0.1:5514".into())]);
    assert_eq!(c.triage.database, Database::Sqlite(PathBuf::new()));
}

#[test]
fn bad_settings_are_errors_that_say_where() {
    for (text, says) in [
        ("[http]\nlisten = 5", "invalid type"),
        ("[http]\nlisten = [\"localhost\"]", "invalid socket address"),
        ("[engine]\nwal_synk = true", "unknown field `wal_synk`"),
        ("[[syslog]]\nprotocol='tls'\nlisten='127.0.0.1:1'", "needs [tls] cert and key"),
        ("[[syslog]]\nprotocol='udp'\nlisten='127.0.0.1:1'\nformat='xml'", "xml"),
        ("[[syslog]]\nprotocol='quic'\nlisten='127.0.0.1:1'", "unknown variant `quic`"),
        ("[engine]\ncheckpoint_interval = \"10\"", "say the unit"),
        ("[engine]\ncheckpoint_interval = \"10 fortnights\"", "unknown unit"),
        ("[http]\nmax_body = \"12 parsecs\"", "unknown unit"),
        ("[http]\nmax_body = 10", "at least 1 KiB"),
        ("[triage]\ndatabase = \"mysql://x\"", "PostgreSQL URL"),
        ("[store]\nzstd_level = 40", "1 to 19"),
        ("[[sources]]\nname = \"Fire Wall\"", "source name"),
        ("[[intel.feeds]]\nname = 'a'\nurl = 'x.json'\nformat = 'yara'", "unknown format \"yara\""),
        ("[[intel.feeds]]\nname = 'a'\nurl = '/srv/feed'\nformat = 'taxii'", "is an http(s) URL"),
        ("[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'csv'\nuser = 'u'", "give user and password_env"),
        ("[[intel.feeds]]\nname = 'a b'\nurl = 'x'\nformat = 'csv'", "a feed name needs"),
        ("[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'list'\nkind = 'colour'", "unknown kind"),
        ("[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'list'\nevery = '10ms'", "at least 1s"),
        ("[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'list'\ntenant = 'Acme Corp'", "tenant"),
        ("[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'list'\ndecay_floor = 20", "needs a decay half-life"),
        ("[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'list'\ndecay_half_life = '36h'", "whole days"),
        (
            "[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'list'\ndecay_half_life = '9d'\ndecay_floor = 101",
            "0 to 100",
        ),
        (
            "[[intel.feeds]]\nname = 'a'\nurl = 'x'\nformat = 'list'\n[[intel.feeds]]\nname = 'a'\nurl = 'y'\nformat = 'csv'",
            "two feeds of one name",
        ),
    ] {
        let err = parse_err(text);
        assert!(err.contains(says), "{text}: {err}");
    }
}

#[test]
fn spans_and_sizes_carry_their_units() {
    let span = |t: &str| t.parse::<Span>().map(|s| s.0);
    assert_eq!(span("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(span("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(span("15 m"), Ok(Duration::from_secs(900)));
    assert_eq!(span("90d"), Ok(Duration::from_secs(90 * 86_400)));
    assert!(span("").is_err() && span("-1s").is_err() && span("1.5h").is_err());
    let size = |t: &str| t.parse::<Size>().map(|s| s.0);
    assert_eq!(size("100 MiB"), Ok(100 << 20));
    assert_eq!(size("1GB"), Ok(1_000_000_000));
    assert_eq!(size("1048576"), Ok(1 << 20));
    assert!(size("99999999999 TiB").is_err());
}

#[test]
fn keys_of_earlier_versions_read_as_todays() {
    let old = "[http]\nmax_body_bytes = 2048\n[engine]\ncheckpoint_interval_ms = 200\nslow_down_ms = 5\n\
               [store]\ncommit_interval_ms = 100\nretention_days = 7\nmax_bytes = 4096\n\
               [store.tenants.acme]\nretention_days = 365\n\
               [triage]\ndedup_window_minutes = 5\nsla_check_seconds = 2\n\
               [console]\nidle_minutes = 30\nsession_hours = 8\nlockout_minutes = 1\n\
               [[sources]]\nname = \"fw\"\nsilent_after_seconds = 600\n";
    let c = Config::parse(old).unwrap();
    assert_eq!(c.http.max_body, Size(2048));
    assert_eq!(c.engine.checkpoint_interval.0, Duration::from_millis(200));
    assert_eq!(c.engine.slow_down.0, Duration::from_millis(5));
    assert_eq!((c.store.commit_interval.0, c.store.max_size), (Duration::from_millis(100), Some(Size(4096))));
    let settings = c.store.settings(Path::new("/d"));
    assert_eq!(settings.default_retention, (Some(7), Some(4096)));
    assert_eq!(settings.retention["acme"], (Some(365), None));
    assert_eq!(c.triage.policy().dedup_window, jiff::SignedDuration::from_mins(5));
    assert_eq!((c.console.idle.0, c.console.lockout.0), (Duration::from_secs(1800), Duration::from_secs(60)));
    assert_eq!(c.sources[0].silent_after, Some(Span(Duration::from_secs(600))));
    // A key of today next to its old name: today's wins, the old one is
    // an unknown key (a file that says two things is refused).
    assert!(parse_err("[engine]\ncheckpoint_interval = \"1s\"\ncheckpoint_interval_ms = 5").contains("unknown field"));
}

#[test]
fn databases_are_named_by_their_kind() {
    let db = |t: &str| parse_database(t);
    assert_eq!(db(""), Ok(Database::Sqlite(PathBuf::new())));
    assert_eq!(db("sqlite:/var/lib/hinomi/state.db"), Ok(Database::Sqlite("/var/lib/hinomi/state.db".into())));
    assert_eq!(db("postgresql://hinomi@db/soc"), Ok(Database::Postgres("postgresql://hinomi@db/soc".into())));
    assert_eq!(db("host=db user=hinomi"), Ok(Database::Postgres("host=db user=hinomi".into())));
    assert!(db("state.db").is_err());
}

/// Every example of `docs/configuration.md` is a configuration this
/// version reads: the documentation cannot drift from the code.
#[test]
fn every_example_in_the_documentation_parses() {
    let doc = include_str!("../../../../docs/configuration.md");
    let mut examples = 0;
    for block in doc.split("```toml\n").skip(1) {
        let text = block.split("```").next().unwrap_or_default();
        let c = Config::parse(text).unwrap_or_else(|e| panic!("{e:#}\n{text}"));
        c.check().unwrap_or_else(|e| panic!("{e:#}\n{text}"));
        examples += 1;
    }
    assert!(examples >= 1, "no example found");
}
