//! The authorization matrix, derived from the route table: every route
//! × every caller (no credentials, a token of each scope, a console user
//! of each role) × two tenants. What each may do comes from the table's
//! [`Need`] and `access`'s permission table; a route added to the table
//! without a sample request below does not compile.

use access::{Action, Scope};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use super::{Fixture, MARKER};
use crate::auth::Need;
use crate::routes::Endpoint;

/// One method and path the router answers: every alias of every
/// endpoint is checked, not only its first path.
#[derive(Debug, Clone)]
struct Route {
    e: Endpoint,
    method: Method,
    path: &'static str,
}

fn routes() -> Vec<Route> {
    let mut out = Vec::new();
    for &e in Endpoint::ALL {
        for method in e.methods() {
            for &path in e.paths() {
                out.push(Route { e, method: method.clone(), path });
            }
        }
    }
    out
}

/// A body a valid caller would send to the route: its content type and
/// text. Exhaustive on purpose: a new route needs a line here.
fn body(e: Endpoint) -> Option<(&'static str, String)> {
    use Endpoint as E;
    let json = |v: serde_json::Value| Some(("application/json", v.to_string()));
    let form = |s: &str| Some(("application/x-www-form-urlencoded", s.to_string()));
    match e {
        E::Root | E::RootHead | E::HecHealth => None,
        E::Bulk | E::BulkIndex => {
            Some(("application/x-ndjson", "{\"index\": {}}\n{\"message\": \"authz probe\"}\n".into()))
        }
        E::HecEvent => json(serde_json::json!({"event": "authz probe"})),
        E::HecRaw => Some(("text/plain", "authz probe\n".into())),
        E::Otlp => json(serde_json::json!({"resourceLogs": []})),
        E::Ndjson => Some(("application/x-ndjson", "{\"message\": \"authz probe\"}\n".into())),
        E::Detections | E::DeadLetters | E::Sources | E::Status | E::Alerts | E::Alert | E::Incidents => None,
        E::Incident | E::IncidentTimeline | E::IncidentEscalation => None,
        E::IncidentStatus => json(serde_json::json!({"version": 1, "status": "investigating"})),
        E::IncidentAssign => json(serde_json::json!({"version": 1, "assignee": "probe"})),
        E::IncidentEdit => json(serde_json::json!({"version": 1, "title": "probe"})),
        E::IncidentWaiting => json(serde_json::json!({"version": 1, "waiting": true})),
        E::IncidentNotes => json(serde_json::json!({"body": "authz probe"})),
        E::IncidentTasks => json(serde_json::json!({"title": "authz probe"})),
        E::IncidentTaskDone => None,
        E::IncidentEvidence => json(serde_json::json!({"kind": "file", "ref": "probe"})),
        E::IncidentIocs => json(serde_json::json!({"kind": "domain", "value": "probe.example"})),
        E::IncidentMerge => json(serde_json::json!({"from": 999_999})),
        E::IncidentSplit => json(serde_json::json!({"alerts": [999_999]})),
        E::IncidentEscalate => json(serde_json::json!({"version": 1, "to": "csirt"})),
        E::IncidentPagesAck => json(serde_json::json!({})),
        E::PlaybookStart => json(serde_json::json!({"dry_run": true})),
        E::Playbooks | E::Runs | E::Run => None,
        E::RunStepAct | E::RunStop => json(serde_json::json!({"reason": "authz probe"})),
        E::Suppressions | E::Assets | E::RuleStats | E::Notifications | E::Deliveries | E::Pages | E::AuditTrail => {
            None
        }
        E::SuppressionAdd => json(serde_json::json!({"rule": "x", "reason": "probe", "expires": "+1h"})),
        E::AssetsReplace => json(serde_json::json!([])),
        E::SlaPolicies => {
            json(serde_json::json!({"severity": "low", "acknowledge_minutes": 60, "resolve_minutes": 600}))
        }
        E::Search => json(serde_json::json!({"query": "authz"})),
        E::RetroHunt => json(serde_json::json!({"from": "-1h"})),
        E::Console | E::LoginPage | E::Switch | E::Css | E::Js | E::PageAckForm => None,
        E::PageAck => form("t=1.2.3"),
        E::Login => form("user=nobody&password=wrong&next=/ui/"),
        E::Logout => form(""),
        E::Prefs => form("lang=en&tz=UTC&back=/ui/"),
        E::Overview | E::AlertQueue | E::IncidentQueue | E::IncidentPage => None,
        E::IncidentHandoff => None,
        E::SearchPage | E::RulesPage | E::SourcesPage | E::SettingsPage | E::EventPage => None,
        E::AlertPage | E::EntityPage | E::AlertNews => None,
        E::SearchSave => form("action=save&name=probe&q=authz"),
        E::AlertsBulk => form("action=assign&assignee=probe&alert=999999"),
        E::IncidentPageStatus => form("version=1&status=investigating"),
        E::IncidentPageAssign => form("version=1&assignee=probe"),
        E::IncidentPageNote => form("body=authz+probe"),
        E::IncidentPageTask => form("title=authz+probe"),
        E::IncidentPageEscalate => form("version=1&to=probe"),
        E::IncidentPagePages => form(""),
        E::IncidentPagePlaybook => form("playbook=probe&mode=dry"),
        E::ResponsePage => None,
        E::RunPageAct => form("action=stop&reason=probe"),
        E::RuleTest => form("rule=title%3A+x&events=%7B%7D"),
        E::RuleSwitch => form("rule=no-such-rule&enabled=0"),
        E::SettingsChange => form("action=grant&user=nobody&role=viewer"),
        E::SettingsConfig => form("action=sla&severity=low&ack=60&resolve=600"),
    }
}

/// The route's path for a request in `tenant`, naming tenant `a`'s
/// incident or alert: another tenant must not reach them.
fn path(r: &Route, f: &Fixture, tenant: &str) -> String {
    let id = if r.path.starts_with("/api/v1/alerts/") || r.path.starts_with("/ui/{tenant}/alerts/") {
        f.alert
    } else {
        f.incident
    };
    let path = r
        .path
        .replace("{tenant}", tenant)
        .replace("{id}", &id.to_string())
        .replace("{index}", "logs")
        .replace("{task}", "1")
        .replace("{event}", "0.1")
        .replace("{kind}", "user")
        .replace("{playbook}", "probe")
        .replace("{step}", "1")
        .replace("{verdict}", "approve");
    if r.e == Endpoint::Switch { format!("{path}?tenant={tenant}") } else { path }
}

/// Who calls.
#[derive(Debug, Clone)]
enum Caller {
    Nobody,
    Token { tenant: &'static str, scope: Scope, secret: String },
    User { grants: Vec<(&'static str, Scope)>, cookie: String, csrf: String },
}

impl Caller {
    fn role_in(&self, tenant: &str) -> Option<Scope> {
        match self {
            Caller::User { grants, .. } => grants.iter().find(|(t, _)| *t == tenant).map(|(_, r)| *r),
            _ => None,
        }
    }

    fn may_see_tenant_a(&self, url_tenant: &str) -> bool {
        match self {
            Caller::Nobody => false,
            Caller::Token { tenant, .. } => *tenant == "a",
            Caller::User { .. } => url_tenant == "a" && self.role_in("a").is_some(),
        }
    }
}

fn request(r: &Route, f: &Fixture, tenant: &str, caller: &Caller) -> Request<Body> {
    let mut b =
        Request::builder().method(r.method.clone()).uri(path(r, f, tenant)).header(header::HOST, "127.0.0.1:8080");
    let mut text = body(r.e);
    match caller {
        Caller::Nobody => {}
        Caller::Token { secret, .. } => b = b.header(header::AUTHORIZATION, format!("Bearer {secret}")),
        Caller::User { cookie, csrf, .. } => {
            b = b.header(header::COOKIE, format!("hinomi_session={cookie}"));
            if let Some((kind, form)) = &mut text
                && kind.starts_with("application/x-www-form-urlencoded")
            {
                let sep = if form.is_empty() { "" } else { "&" };
                *form = format!("{form}{sep}csrf={csrf}");
            }
        }
    }
    match text {
        Some((kind, text)) => b.header(header::CONTENT_TYPE, kind).body(Body::from(text)).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

/// Whether the caller passes the route's check, as the tables say.
fn allowed(need: Need, caller: &Caller, url_tenant: &str) -> bool {
    match (need, caller) {
        (Need::Public, _) => true,
        (Need::Token(action), Caller::Token { scope, .. }) => scope.allows(action),
        (Need::Role(action), Caller::User { .. }) => caller.role_in(url_tenant).is_some_and(|r| r.allows(action)),
        (Need::Session, Caller::User { .. }) => true,
        _ => false,
    }
}

#[test]
fn every_route_every_caller_every_tenant() {
    let f = Fixture::new("authz");
    let mut callers = vec![Caller::Nobody];
    for tenant in ["a", "b"] {
        for scope in Scope::ALL {
            callers.push(Caller::Token { tenant, scope, secret: f.token(tenant, scope) });
        }
    }
    let roles = [Scope::Read, Scope::Analyst, Scope::Responder, Scope::Lead, Scope::Admin];
    for role in roles {
        for tenant in ["a", "b"] {
            let name = format!("{tenant}-{}", role.as_str());
            let grants = vec![(tenant, role)];
            let (cookie, csrf) = f.session(&name, &grants);
            callers.push(Caller::User { grants, cookie, csrf });
        }
    }
    // An MSSP analyst: analyst in a, viewer in b.
    let grants = vec![("a", Scope::Analyst), ("b", Scope::Read)];
    let (cookie, csrf) = f.session("mssp", &grants);
    callers.push(Caller::User { grants, cookie, csrf });

    let mut checked = 0;
    let mut marker_seen = false;
    // Logging out ends the session every later request would use: last.
    let mut order = routes();
    order.sort_by_key(|r| r.e == Endpoint::Logout);
    for r in order {
        let (e, need) = (r.e, r.e.need());
        for url_tenant in ["a", "b"] {
            if url_tenant == "b" && !r.path.contains("{tenant}") {
                continue;
            }
            for caller in &callers {
                let answer = f.call(request(&r, &f, url_tenant, caller));
                let what = format!(
                    "{} {} as {caller:?}: {} {}",
                    r.method,
                    path(&r, &f, url_tenant),
                    answer.status,
                    &answer.body[..answer.body.len().min(300)]
                );
                let refused = matches!(answer.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
                if allowed(need, caller, url_tenant) {
                    // The login form answers a wrong password with 401.
                    assert!(
                        !refused || (e == Endpoint::Login && answer.status == StatusCode::UNAUTHORIZED),
                        "refused: {what}"
                    );
                } else {
                    match need {
                        Need::Role(_) | Need::Session
                            if !matches!(caller, Caller::User { .. }) && r.method == "GET" =>
                        {
                            assert!(
                                answer.status == StatusCode::SEE_OTHER
                                    && answer.location.starts_with("/ui/login?next="),
                                "not sent to the login page: {what}"
                            );
                        }
                        Need::Role(_) | Need::Session if !matches!(caller, Caller::User { .. }) => {
                            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
                        }
                        _ => assert!(refused, "allowed: {what}"),
                    }
                }
                // Tenant a's incident is not found by anyone else, and
                // nothing of tenant a is in anyone else's answer.
                let names_a_thing = r.path.contains("{id}");
                if !caller.may_see_tenant_a(url_tenant) {
                    assert!(!answer.body.contains(MARKER), "tenant a's data leaked: {what}");
                    if names_a_thing && allowed(need, caller, url_tenant) && r.method == "GET" {
                        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{what}");
                    }
                }
                marker_seen |= answer.body.contains(MARKER);
                checked += 1;
            }
        }
    }
    // The leak check can fail: tenant a's own callers do see the marker.
    assert!(marker_seen, "no answer showed tenant a's data to tenant a");
    assert!(checked > routes().len() * callers.len(), "{checked}");
}

/// Every action the permission table knows is needed by some route: an
/// action nothing checks is a permission nobody can be refused.
#[test]
fn every_action_guards_a_route() {
    for action in Action::ALL {
        let used = Endpoint::ALL.iter().any(|e| matches!(e.need(), Need::Token(a) | Need::Role(a) if a == action));
        assert!(used, "{action:?} guards no route");
    }
}

/// The route table as who may call what, against a golden file
/// (`test_data/routes.txt`): a route added, or a permission changed,
/// shows in review as a change of that file, written out per role.
#[test]
fn route_table_is_the_golden_one() {
    let mut out = String::new();
    for r in routes() {
        let who = match r.e.need() {
            Need::Public => "anyone".to_string(),
            Need::Session => "any signed-in user".to_string(),
            Need::Token(a) => {
                let scopes: Vec<&str> = Scope::ALL.iter().filter(|s| s.allows(a)).map(|s| s.as_str()).collect();
                format!("token: {}", scopes.join(" "))
            }
            Need::Role(a) => {
                let roles: Vec<&str> = Scope::ALL.iter().filter(|s| s.allows(a)).map(|s| s.as_str()).collect();
                format!("role in the tenant: {}", roles.join(" "))
            }
        };
        out.push_str(&format!("{} {} -> {who}\n", r.method, r.path));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/routes.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &out).unwrap();
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    assert!(out == want, "the route table changed (UPDATE_EXPECT=1 writes it):\n{out}");
}
