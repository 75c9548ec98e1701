//! Every route, in one table: method, path, what it needs, and its
//! handler. The router is built from the table alone, so a route exists
//! only with its [`Need`]; the authorization tests enumerate the same
//! table ([`Endpoint::ALL`]), so a route cannot ship unchecked.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::app::App;
use crate::auth::{Guarded, Need, guard};
use crate::{api, console, ingest};

use access::Action::{Administer, Audit, Configure, Escalate, Hunt, Ingest, Operate, Read, Respond, Suppress, Triage};
#[cfg(test)]
use axum::http::Method;

/// Declares the table: each line an [`Endpoint`] variant with its
/// methods, its paths (an alias after `|`), need and handler.
macro_rules! endpoints {
    ($($(#[$doc:meta])* $name:ident: $method:ident $(| $more:ident)* $($path:literal)|+, $need:expr => $handler:path;)*) => {
        /// One endpoint of the server: one handler and one need, served at
        /// one or more method and path pairs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Endpoint {
            $($(#[$doc])* $name),*
        }

        impl Endpoint {
            /// Every endpoint, in the table's order.
            pub(crate) const ALL: &'static [Endpoint] = &[$(Endpoint::$name),*];

            /// The methods it answers.
            #[cfg(test)]
            pub(crate) fn methods(self) -> Vec<Method> {
                match self {
                    $(Endpoint::$name => vec![Method::$method $(, Method::$more)*]),*
                }
            }

            /// The paths it is served at: the first is its name, the
            /// others aliases the shippers use.
            pub(crate) fn paths(self) -> &'static [&'static str] {
                match self {
                    $(Endpoint::$name => &[$($path),+]),*
                }
            }

            /// What the caller needs: the permission table of the server.
            pub(crate) fn need(self) -> Need {
                match self {
                    $(Endpoint::$name => $need),*
                }
            }

            fn handler(self) -> MethodRouter<Arc<App>> {
                match self {
                    $(Endpoint::$name => on(MethodFilter::$method $(.or(MethodFilter::$more))*, $handler)),*
                }
            }
        }
    };
}

use Need::{Public, Role, Session, Token};

endpoints! {
    // Ingest, in the shippers' own protocols.
    Root: GET "/", Public => ingest::elastic::root;
    RootHead: HEAD "/", Public => ingest::elastic::cluster;
    Bulk: POST | PUT "/_bulk", Token(Ingest) => ingest::elastic::bulk;
    BulkIndex: POST | PUT "/{index}/_bulk", Token(Ingest) => ingest::elastic::bulk_index;
    HecHealth: GET "/services/collector/health" | "/services/collector/health/1.0", Public => ingest::hec::health;
    HecEvent: POST "/services/collector/event" | "/services/collector/event/1.0" | "/services/collector",
        Token(Ingest) => ingest::hec::event;
    HecRaw: POST "/services/collector/raw" | "/services/collector/raw/1.0", Token(Ingest) => ingest::hec::raw;
    Otlp: POST "/v1/logs", Token(Ingest) => ingest::otlp::logs;
    Ndjson: POST "/api/v1/ingest", Token(Ingest) => ingest::ndjson::ingest;

    // The REST API.
    Detections: GET "/api/v1/detections", Token(Read) => api::journals::detections;
    DeadLetters: GET "/api/v1/deadletter", Token(Read) => api::journals::deadletter;
    Sources: GET "/api/v1/sources", Token(Read) => api::journals::sources;
    Status: GET "/api/v1/status", Token(Operate) => api::journals::status;
    Alerts: GET "/api/v1/alerts", Token(Read) => api::alerts::list;
    Alert: GET "/api/v1/alerts/{id}", Token(Read) => api::alerts::one;
    Incidents: GET "/api/v1/incidents", Token(Read) => api::incidents::list;
    Incident: GET "/api/v1/incidents/{id}", Token(Read) => api::incidents::one;
    IncidentTimeline: GET "/api/v1/incidents/{id}/timeline", Token(Read) => api::incidents::timeline;
    IncidentEscalation: GET "/api/v1/incidents/{id}/escalation", Token(Read) => api::incidents::escalation;
    IncidentStatus: POST "/api/v1/incidents/{id}/status", Token(Triage) => api::incidents::act;
    IncidentAssign: POST "/api/v1/incidents/{id}/assign", Token(Triage) => api::incidents::act;
    IncidentEdit: POST "/api/v1/incidents/{id}/edit", Token(Triage) => api::incidents::act;
    IncidentWaiting: POST "/api/v1/incidents/{id}/waiting", Token(Triage) => api::incidents::act;
    IncidentNotes: POST "/api/v1/incidents/{id}/notes", Token(Triage) => api::incidents::act;
    IncidentTasks: POST "/api/v1/incidents/{id}/tasks", Token(Triage) => api::incidents::act;
    IncidentTaskDone: POST "/api/v1/incidents/{id}/tasks/{task}/done", Token(Triage) => api::incidents::task_done;
    IncidentEvidence: POST "/api/v1/incidents/{id}/evidence", Token(Triage) => api::incidents::act;
    IncidentIocs: POST "/api/v1/incidents/{id}/iocs", Token(Triage) => api::incidents::act;
    IncidentMerge: POST "/api/v1/incidents/{id}/merge", Token(Triage) => api::incidents::act;
    IncidentSplit: POST "/api/v1/incidents/{id}/split", Token(Triage) => api::incidents::act;
    IncidentEscalate: POST "/api/v1/incidents/{id}/escalate", Token(Escalate) => api::incidents::act;
    IncidentPagesAck: POST "/api/v1/incidents/{id}/pages/ack", Token(Triage) => api::incidents::act;
    PlaybookStart: POST "/api/v1/incidents/{id}/playbooks/{playbook}", Token(Respond) => api::respond::start;
    Playbooks: GET "/api/v1/playbooks", Token(Read) => api::respond::playbooks;
    Runs: GET "/api/v1/runs", Token(Read) => api::respond::runs;
    Run: GET "/api/v1/runs/{id}", Token(Read) => api::respond::run;
    RunStepAct: POST "/api/v1/runs/{id}/steps/{step}/{verdict}", Token(Respond) => api::respond::step_act;
    RunStop: POST "/api/v1/runs/{id}/stop", Token(Respond) => api::respond::stop;
    Suppressions: GET "/api/v1/suppressions", Token(Read) => api::config::suppressions;
    SuppressionAdd: POST "/api/v1/suppressions", Token(Suppress) => api::config::add_suppression;
    Assets: GET "/api/v1/assets", Token(Read) => api::config::assets;
    AssetsReplace: PUT "/api/v1/assets", Token(Configure) => api::config::put_assets;
    SlaPolicies: PUT "/api/v1/sla-policies", Token(Configure) => api::config::put_sla;
    RuleStats: GET "/api/v1/rules/stats", Token(Read) => api::reports::rule_stats;
    Notifications: GET "/api/v1/notifications", Token(Read) => api::reports::notifications;
    Deliveries: GET "/api/v1/deliveries", Token(Read) => api::reports::deliveries;
    Pages: GET "/api/v1/pages", Token(Read) => api::reports::pages;
    AuditTrail: GET "/api/v1/audit", Token(Audit) => api::reports::audit;
    Search: POST "/api/v1/search", Token(Read) => api::search::search;
    RetroHunt: POST "/api/v1/hunt", Token(Hunt) => api::search::hunt;

    // The console.
    Console: GET "/ui" | "/ui/", Session => console::home;
    LoginPage: GET "/ui/login", Public => console::login_page;
    Login: POST "/ui/login", Public => console::login;
    Logout: POST "/ui/logout", Session => console::logout;
    Prefs: POST "/ui/prefs", Session => console::prefs;
    Switch: GET "/ui/switch", Public => console::switch;
    Css: GET "/ui/assets/app.css", Public => console::css;
    Js: GET "/ui/assets/app.js", Public => console::js;
    // An on-call page's acknowledge link: its signed token is the
    // credential (no session: the person may not have a console account).
    PageAckForm: GET "/ui/ack", Public => console::ack_form;
    PageAck: POST "/ui/ack", Public => console::ack;
    Overview: GET "/ui/{tenant}" | "/ui/{tenant}/", Role(Read) => console::pages::overview;
    AlertQueue: GET "/ui/{tenant}/alerts", Role(Read) => console::pages::alerts;
    AlertsBulk: POST "/ui/{tenant}/alerts", Role(Triage) => console::pages::alerts_bulk;
    AlertNews: GET "/ui/{tenant}/alerts/news", Role(Read) => console::pages::alerts_news;
    AlertPage: GET "/ui/{tenant}/alerts/{id}", Role(Read) => console::pages::alert;
    EntityPage: GET "/ui/{tenant}/entities/{kind}", Role(Read) => console::pages::entity;
    IncidentQueue: GET "/ui/{tenant}/incidents", Role(Read) => console::pages::incidents;
    IncidentPage: GET "/ui/{tenant}/incidents/{id}", Role(Read) => console::pages::incident;
    IncidentHandoff: GET "/ui/{tenant}/incidents/{id}/handoff", Role(Read) => console::pages::handoff;
    IncidentPageStatus: POST "/ui/{tenant}/incidents/{id}/status", Role(Triage) => console::pages::incident_act;
    IncidentPageAssign: POST "/ui/{tenant}/incidents/{id}/assign", Role(Triage) => console::pages::incident_act;
    IncidentPageNote: POST "/ui/{tenant}/incidents/{id}/note", Role(Triage) => console::pages::incident_act;
    IncidentPageTask: POST "/ui/{tenant}/incidents/{id}/task", Role(Triage) => console::pages::incident_act;
    IncidentPageEscalate: POST "/ui/{tenant}/incidents/{id}/escalate", Role(Escalate) => console::pages::incident_act;
    IncidentPagePages: POST "/ui/{tenant}/incidents/{id}/pages", Role(Triage) => console::pages::incident_act;
    IncidentPagePlaybook: POST "/ui/{tenant}/incidents/{id}/playbook", Role(Respond) => console::pages::incident_playbook;
    ResponsePage: GET "/ui/{tenant}/response", Role(Read) => console::pages::response;
    RunPageAct: POST "/ui/{tenant}/runs/{id}", Role(Respond) => console::pages::run_act;
    SearchPage: GET "/ui/{tenant}/search", Role(Read) => console::pages::search;
    SearchSave: POST "/ui/{tenant}/search", Role(Read) => console::pages::search_act;
    EventPage: GET "/ui/{tenant}/events/{event}", Role(Read) => console::pages::event;
    RulesPage: GET "/ui/{tenant}/rules", Role(Read) => console::pages::rules;
    RuleTest: POST "/ui/{tenant}/rules", Role(Read) => console::pages::rule_test;
    RuleSwitch: POST "/ui/{tenant}/rules/switch", Role(Configure) => console::pages::rule_switch;
    SourcesPage: GET "/ui/{tenant}/sources", Role(Read) => console::pages::sources;
    SettingsPage: GET "/ui/{tenant}/settings", Role(Configure) => console::pages::settings;
    SettingsChange: POST "/ui/{tenant}/settings", Role(Administer) => console::pages::settings_act;
    SettingsConfig: POST "/ui/{tenant}/settings/config", Role(Configure) => console::pages::settings_config;
}

/// The server's router: every endpoint of the table behind its guard.
pub(crate) fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for &endpoint in Endpoint::ALL {
        let guarded = Guarded { app: app.clone(), endpoint };
        let mut route = endpoint.handler().route_layer(axum::middleware::from_fn_with_state(guarded, guard));
        if matches!(endpoint.need(), Need::Token(Ingest)) {
            // Bodies are bounded before they are read; gzip is bounded
            // again once decompressed.
            route = route.layer(DefaultBodyLimit::max(app.max_body));
        }
        for path in endpoint.paths() {
            router = router.route(path, route.clone());
        }
    }
    router.with_state(app)
}
