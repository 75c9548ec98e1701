use jiff::{SignedDuration, Timestamp};
use model::Level;
use serde_json::json;

use super::*;

fn notice(title: &str) -> Notice {
    Notice {
        tenant: "acme".into(),
        trigger: Trigger::IncidentOpened,
        incident: Some(12),
        severity: Level::Critical,
        title: title.into(),
        at: "2026-11-20T03:00:00Z".parse::<Timestamp>().unwrap(),
        facts: vec![("host.name".into(), "ws-042".into()), ("user.name".into(), "alice".into())],
        subject: None,
    }
}

fn channels(toml_text: &str) -> (Vec<Channel>, Vec<Route>) {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        channels: Vec<Channel>,
        #[serde(default)]
        routes: Vec<Route>,
    }
    let c: Config = toml::from_str(toml_text).unwrap();
    (c.channels, c.routes)
}

const CONFIG: &str = r#"
[[channels]]
name = "soc-mail"
kind = "email"
server = "127.0.0.1:2525"
from = "hinomi@soc.example"
to = ["oncall@soc.example"]
starttls = "never"

[[channels]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
body = { text = "{{title}} on {{tenant}}", incident = "{{incident}}", fixed = 3 }

[[channels]]
name = "pd"
kind = "pagerduty"
routing_key_env = "PD_KEY"

[[routes]]
min_severity = "high"
channels = ["soc-mail", "pd"]

[[routes]]
tenants = ["acme"]
triggers = ["sla_breached", "incident_opened"]
channels = ["hook", "soc-mail"]
"#;

#[test]
fn routes_pick_channels_by_tenant_trigger_and_severity() {
    let (chans, routes) = channels(CONFIG);
    check(&chans, &routes).unwrap();
    let names = |n: &Notice| channels_for(&routes, n).into_iter().map(|(c, _)| c).collect::<Vec<_>>();
    let n = notice("Brute force");
    assert_eq!(names(&n), ["soc-mail", "pd", "hook"]);
    let low = Notice { severity: Level::Low, ..n.clone() };
    assert_eq!(names(&low), ["hook", "soc-mail"]);
    let other = Notice { tenant: "globex".into(), severity: Level::Medium, ..n.clone() };
    assert!(channels_for(&routes, &other).is_empty());
    let raised = Notice { trigger: Trigger::IncidentRaised, severity: Level::Medium, ..n };
    assert!(channels_for(&routes, &raised).is_empty());
}

#[test]
fn bad_settings_are_refused_with_the_channel_named() {
    let (chans, mut routes) = channels(CONFIG);
    routes[0].channels.push("nowhere".into());
    assert!(check(&chans, &routes).unwrap_err().contains("\"nowhere\""));
    for (bad, why) in [
        ("kind = \"email\"\nserver = \"mx\"\nfrom = \"a@b\"\nto = [\"c@d\"]", "needs a port"),
        ("kind = \"email\"\nserver = \"mx:25\"\nfrom = \"a@b\"\nto = [\"x <c@d>\"]", "not an email address"),
        ("kind = \"email\"\nserver = \"mx:25\"\nfrom = \"a@b\"\nto = []", "at least one"),
        ("kind = \"slack\"", "one of `url` and `url_env`"),
        ("kind = \"teams\"\nurl = \"file:///etc/passwd\"", "not http(s)"),
        ("kind = \"syslog\"\naddress = \"siem\"", "needs a port"),
    ] {
        let (chans, _) = channels(&format!("[[channels]]\nname = \"c\"\n{bad}\n"));
        let err = check(&chans, &[]).unwrap_err();
        assert!(err.contains("channel \"c\"") && err.contains(why), "{err}");
    }
    let twice = format!("{CONFIG}\n[[channels]]\nname = \"hook\"\nkind = \"slack\"\nurl_env = \"X\"\n");
    let (chans, routes) = channels(&twice);
    assert!(check(&chans, &routes).unwrap_err().contains("unique"));
    // A field no channel has is refused, not ignored.
    assert!(
        toml::from_str::<Channel>("name = \"c\"\nkind = \"slack\"\nurl = \"https://x\"\npassword = \"p\"\n").is_err()
    );
}

#[test]
fn one_message_per_incident_trigger_and_severity() {
    let n = notice("Brute force");
    assert_eq!(n.key(), "acme:incident:12:incident_opened:critical");
    let again = Notice { title: "other title".into(), facts: vec![], ..n.clone() };
    assert_eq!(again.key(), n.key(), "a storm on one incident is one message");
    assert_ne!(Notice { severity: Level::High, ..n.clone() }.key(), n.key());
    let silent = Notice { trigger: Trigger::SourceSilent, incident: None, title: "fw".into(), ..n };
    assert_eq!(silent.key(), format!("acme:source_silent:fw:{}", silent.at.as_second()));
}

#[test]
fn each_channel_gets_its_shape_and_hostile_text_stays_data() {
    let (chans, _) = channels(CONFIG);
    let hostile = notice("<!channel> *pwn*\r\nBcc: evil@x | x=1 \\");
    let link = Some("https://soc.example/ui/acme/incidents/12");
    let Payload::Email { subject, body } = render(&chans[0].kind, &hostile, link, None) else { panic!() };
    assert_eq!(subject, "[Hinomi] CRITICAL New incident #12: <!channel> *pwn*  Bcc: evil@x | x=1 \\ (acme)");
    assert!(!subject.contains('\n') && body.contains("host.name: ws-042\r\n") && body.contains("Open: https://"));

    let Payload::Json(hook) = render(&chans[1].kind, &hostile, link, None) else { panic!() };
    assert_eq!(hook, json!({"text": format!("{} on acme", hostile.title), "incident": 12, "fixed": 3}));

    let Payload::Json(pd) = render(&chans[2].kind, &hostile, link, Some("R0UT1NG")) else { panic!() };
    assert_eq!(pd["routing_key"], "R0UT1NG");
    assert_eq!(pd["dedup_key"], "hinomi:acme:incident:12");
    assert_eq!(pd["payload"]["severity"], "critical");
    assert_eq!(pd["payload"]["custom_details"]["user.name"], "alice");
    assert_eq!(pd["links"][0]["href"], "https://soc.example/ui/acme/incidents/12");

    let slack = ChannelKind::Slack { url: Some("https://hooks.example".into()), url_env: None };
    let Payload::Json(s) = render(&slack, &hostile, link, None) else { panic!() };
    let text = s["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"), "{text}");

    let teams = ChannelKind::Teams { url: Some("https://hooks.example".into()), url_env: None };
    let Payload::Json(t) = render(&teams, &hostile, link, None) else { panic!() };
    assert!(t["text"].as_str().unwrap().contains("&lt;\\!channel&gt; \\*pwn\\*"), "{t}");
    assert_eq!(t["themeColor"], "6B1F8F");

    let syslog = ChannelKind::Syslog { address: "127.0.0.1:514".into(), tcp: false };
    let Payload::Line(line) = render(&syslog, &hostile, link, None) else { panic!() };
    assert!(line.starts_with("<162>1 2026-11-20T03:00:00Z - hinomi - notice - CEF:0|Hinomi|Hinomi|1|incident_opened|"));
    assert!(
        line.contains(
            "*pwn*  Bcc: evil@x \\| x=1 \\\\|10|rt=1795143600000 cs1Label=tenant cs1=acme cn1Label=incident cn1=12"
        ),
        "{line}"
    );
    assert!(line.contains("request=https://soc.example/ui/acme/incidents/12 msg=host.name: ws-042; user.name: alice"));
    assert!(!line.contains('\n'));
    let equals = Notice { facts: vec![("cmd".into(), "a=b\nc\\d".into())], ..notice("t") };
    let Payload::Line(line) = render(&syslog, &equals, None, None) else { panic!() };
    assert!(line.ends_with("msg=cmd: a\\=b\\nc\\\\d"), "{line}");
}

#[test]
fn webhook_templates_fill_strings_and_keep_types() {
    let values = json!({"a": "x\"y", "n": 3, "none": null});
    let filled = fill_for_test(
        &json!({"s": "<{{a}}> {{ n }} {{none}} {{missing}} {{open", "n": "{{n}}", "l": ["{{a}}", 1]}),
        &values,
    );
    assert_eq!(filled, json!({"s": "<x\"y> 3   {{open", "n": 3, "l": ["x\"y", 1]}));
}

fn fill_for_test(t: &serde_json::Value, v: &serde_json::Value) -> serde_json::Value {
    render::fill_values(t, v)
}

#[test]
fn retries_back_off_then_give_up() {
    let p = RetryPolicy::default();
    let waits: Vec<Option<i64>> = (1..=8).map(|n| p.after(n).map(|d| d.as_secs())).collect();
    assert_eq!(waits, [Some(15), Some(30), Some(60), Some(120), Some(240), Some(480), Some(960), None]);
    let long = RetryPolicy { attempts: 100, ..p };
    assert_eq!(long.after(60), Some(SignedDuration::from_mins(30)));
}

#[test]
fn a_channel_waits_for_business_hours_only_if_every_route_naming_it_says_so() {
    let (_, mut routes) = channels(CONFIG);
    let low = Notice { severity: Level::Low, ..notice("x") };
    routes[1].quiet_below = Some(Level::High);
    assert_eq!(channels_for(&routes, &low), [("hook", true), ("soc-mail", true)]);
    // A critical one does not wait; a route that does not wait wins.
    assert_eq!(channels_for(&routes, &notice("x"))[2], ("hook", false));
    routes[0].min_severity = Level::Low;
    assert_eq!(channels_for(&routes, &low), [("soc-mail", false), ("pd", false), ("hook", true)]);
}

const ROTA: &str = r#"
name = "tier1"
tenant = "acme"
time_zone = "Asia/Tokyo"
handover = "09:00"
shift_days = 7
start = "2026-11-16"
people = [{ name = "aiko", email = "aiko@soc.example" }, { name = "ben", email = "ben@soc.example" }, { name = "chen", email = "chen@soc.example" }]
lead = { name = "dana", email = "dana@soc.example" }
escalate_after = "15m"
channel = "soc-mail"
"#;

/// [`ROTA`] with `extra`'s `key = value` lines in place of its own.
fn rota_spec(extra: &str) -> RotaSpec {
    let key = |l: &str| l.split(" = ").next().unwrap_or("").to_string();
    let replaced: Vec<String> = extra.lines().map(key).collect();
    let kept: Vec<&str> = ROTA.lines().filter(|l| !replaced.contains(&key(l))).collect();
    toml::from_str(&format!("{}\n{extra}", kept.join("\n"))).unwrap()
}

#[test]
fn the_person_on_call_changes_at_the_local_hand_over() {
    let rota = Rota::new(&rota_spec("")).unwrap();
    let on = |at: &str| rota.on_call(at.parse().unwrap()).name.clone();
    // Week one from Monday 2026-11-16 09:00 JST is aiko's, to the minute.
    assert_eq!(on("2026-11-16T09:00:00+09:00"), "aiko");
    assert_eq!(on("2026-11-23T08:59:00+09:00"), "aiko");
    assert_eq!(on("2026-11-23T09:00:00+09:00"), "ben");
    assert_eq!(on("2026-11-30T09:00:00+09:00"), "chen");
    // The rota repeats, and runs backwards before its start.
    assert_eq!(on("2026-12-07T09:00:00+09:00"), "aiko");
    assert_eq!(on("2026-11-16T08:00:00+09:00"), "chen");
    let shifts = rota.shifts("2026-11-25T12:00:00+09:00".parse().unwrap(), 3);
    let shown: Vec<(String, String)> = shifts.iter().map(|s| (s.person.name.clone(), s.from.to_string())).collect();
    assert_eq!(
        shown,
        [
            ("ben".to_string(), "2026-11-23T00:00:00Z".to_string()),
            ("chen".to_string(), "2026-11-30T00:00:00Z".to_string()),
            ("aiko".to_string(), "2026-12-07T00:00:00Z".to_string()),
        ]
    );
}

#[test]
fn the_chain_pages_the_next_person_then_the_lead() {
    let rota = Rota::new(&rota_spec("")).unwrap();
    let chain = rota.chain("2026-11-23T10:00:00+09:00".parse().unwrap());
    let steps: Vec<(&str, i64)> = chain.iter().map(|s| (s.person.name.as_str(), s.after.as_mins())).collect();
    assert_eq!(steps, [("ben", 0), ("chen", 15), ("dana", 30)]);
    // One person and a lead who is that person: paged once.
    let mut alone = rota_spec("");
    alone.people.truncate(1);
    alone.lead = alone.people[0].clone();
    assert_eq!(Rota::new(&alone).unwrap().chain("2026-11-23T10:00:00+09:00".parse().unwrap()).len(), 1);
    // Which notices page it.
    assert!(rota.applies(&notice("x")));
    assert!(!rota.applies(&Notice { severity: Level::Medium, ..notice("x") }));
    assert!(!rota.applies(&Notice { tenant: "globex".into(), ..notice("x") }));
    assert!(!rota.applies(&Notice { trigger: Trigger::SourceSilent, ..notice("x") }));
    let quiet = Rota::new(&rota_spec("quiet_below = \"critical\"")).unwrap();
    assert!(quiet.quiet(&Notice { severity: Level::High, ..notice("x") }) && !quiet.quiet(&notice("x")));
}

#[test]
fn bad_rotas_are_refused_with_the_rota_and_field_named() {
    let (chans, _) = channels(CONFIG);
    assert_eq!(check_rotas(&chans, &[rota_spec("")]).unwrap().len(), 1);
    for (extra, why) in [
        ("time_zone = \"Mars/Olympus\"", "time zone"),
        ("handover = \"9am\"", "handover"),
        ("start = \"next monday\"", "start"),
        ("shift_days = 0", "shift_days"),
        ("escalate_after = \"soon\"", "escalate_after"),
        ("escalate_after = \"0s\"", "escalate_after"),
    ] {
        let spec = rota_spec(extra);
        let err = check_rotas(&chans, &[spec]).unwrap_err();
        assert!(err.contains("\"tier1\"") && err.contains(why), "{extra}: {err}");
    }
    let mut nobody = rota_spec("");
    nobody.people.clear();
    assert!(check_rotas(&chans, &[nobody]).unwrap_err().contains("people"));
    let mut bad_mail = rota_spec("");
    bad_mail.lead.email = "dana".into();
    assert!(check_rotas(&chans, &[bad_mail]).unwrap_err().contains("\"dana\""));
    for (channel, why) in [("hook", "not an email channel"), ("nowhere", "not configured")] {
        let mut spec = rota_spec("");
        spec.channel = channel.into();
        assert!(check_rotas(&chans, &[spec]).unwrap_err().contains(why), "{channel}");
    }
    assert!(check_rotas(&chans, &[rota_spec(""), rota_spec("")]).unwrap_err().contains("unique"));
}

#[test]
fn a_page_names_its_person_its_step_and_its_link() {
    let page = PageView {
        person: "aiko",
        rota: "tier1",
        step: 1,
        steps: 3,
        ack: Some("https://soc.example/ack/1.2.ab"),
        ack_until: "2026-11-21T03:00:00Z".parse().unwrap(),
        next_after: Some(SignedDuration::from_mins(15)),
    };
    let Payload::Email { subject, body } = render_page(&notice("Brute force\r\nBcc: x"), Some("https://l"), &page)
    else {
        panic!("not a mail")
    };
    assert!(subject.starts_with("[PAGE] [Hinomi] CRITICAL New incident #12") && !subject.contains('\n'), "{subject}");
    assert!(body.contains("aiko, you are paged as on call for tier1 (1 of 3)"), "{body}");
    assert!(body.contains("Acknowledge: https://soc.example/ack/1.2.ab (once, until 2026-11-21T03:00:00Z)"), "{body}");
    assert!(body.contains("the next person is paged in 15m"), "{body}");
    let last = PageView { step: 3, next_after: None, ack: None, ..page };
    let Payload::Email { body, .. } = render_page(&notice("x"), None, &last) else { panic!("not a mail") };
    assert!(body.contains("You are the last in the chain") && body.contains("in the console"), "{body}");
}

#[test]
fn a_rate_limit_lets_a_burst_go_then_the_minute_s_pace() {
    let t0: Timestamp = "2026-11-20T03:00:00Z".parse().unwrap();
    let mut limit = RateLimit::new(60, t0);
    // A tenth of a minute's worth at once (six), then one a second.
    for _ in 0..6 {
        assert_eq!(limit.take(t0), Ok(()));
    }
    let wait = limit.take(t0).unwrap_err();
    assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
    assert!(limit.take(t0 + SignedDuration::from_millis(500)).is_err());
    assert_eq!(limit.take(t0 + SignedDuration::from_secs(1)), Ok(()));
    // Idle for long: the burst again, no more.
    let later = t0 + SignedDuration::from_mins(10);
    for _ in 0..6 {
        assert_eq!(limit.take(later), Ok(()));
    }
    assert!(limit.take(later).is_err());
    // A small limit still lets one through.
    let mut slow = RateLimit::new(2, t0);
    assert_eq!(slow.take(t0), Ok(()));
    assert!((slow.take(t0).unwrap_err().as_secs_f64() - 30.0).abs() < 1e-6);
}
