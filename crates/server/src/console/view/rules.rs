//! The rules page: a rule test, then every rule the server runs, found by
//! part of its title or id, sorted by any column, a page at a time, each
//! with triage's counts for the tenant and a switch that turns it off or
//! on for the tenant (effective at once, audited).

use std::cmp::Ordering;

use access::Action;
use maud::{Markup, html};
use model::Level;
use state::RuleStats;

use super::{Ctx, T, badge, empty_row};
use crate::enc::{Shown, query_value};

/// A rule test as asked, and its answer: the matching event lines.
pub(crate) struct RuleTest {
    pub(crate) yaml: String,
    pub(crate) events: String,
    pub(crate) result: Result<Vec<usize>, String>,
}

/// A rule or correlation the engine runs that alerts: id, title, level.
/// A tenant may switch each off.
pub(crate) type LoadedRule = (String, String, Level);

/// Which rules the page lists, in which order, from where.
#[derive(Debug, Clone, Default)]
pub(crate) struct RulesFilter {
    /// Part of the title or id, any case.
    pub(crate) q: String,
    /// `title`, `level`, `alerts`, `detections`, `fp`, `held`, `off`.
    pub(crate) sort: String,
    /// `on`, `off` or all.
    pub(crate) state: String,
    /// 0-based.
    pub(crate) page: usize,
}

/// Rules a page lists.
pub(crate) const RULES_PAGE: usize = 100;

/// One row of the list.
pub(crate) struct RuleRow<'a> {
    pub(crate) rule: &'a LoadedRule,
    pub(crate) stats: Option<&'a RuleStats>,
    pub(crate) held: u64,
    pub(crate) enabled: bool,
}

/// The rows the filter selects, sorted, and how many there are in all;
/// only the filter's page is returned.
pub(crate) fn rule_rows<'a>(
    loaded: &'a [LoadedRule],
    stats: &'a [RuleStats],
    limited: &[engine::RateLimited],
    disabled: &[String],
    f: &RulesFilter,
) -> (Vec<RuleRow<'a>>, usize) {
    let q = f.q.trim().to_lowercase();
    let mut rows: Vec<RuleRow<'a>> = loaded
        .iter()
        .filter(|(id, title, ..)| q.is_empty() || title.to_lowercase().contains(&q) || id.to_lowercase().contains(&q))
        .map(|rule| RuleRow {
            rule,
            stats: stats.iter().find(|s| s.rule_id == rule.0),
            held: limited.iter().find(|r| r.rule_id == rule.0).map_or(0, |r| r.suppressed),
            enabled: !disabled.contains(&rule.0),
        })
        .filter(|r| match f.state.as_str() {
            "on" => r.enabled,
            "off" => !r.enabled,
            _ => true,
        })
        .collect();
    let count = |r: &RuleRow<'_>, k: fn(&RuleStats) -> i64| r.stats.map_or(0, k);
    let fp = |r: &RuleRow<'_>| r.stats.and_then(|s| s.false_positive_rate).unwrap_or(-1.0);
    let by_title = |a: &RuleRow<'_>, b: &RuleRow<'_>| a.rule.1.to_lowercase().cmp(&b.rule.1.to_lowercase());
    rows.sort_by(|a, b| {
        let first = match f.sort.as_str() {
            "level" => b.rule.2.cmp(&a.rule.2),
            "alerts" => count(b, |s| s.alerts).cmp(&count(a, |s| s.alerts)),
            "detections" => count(b, |s| s.detections).cmp(&count(a, |s| s.detections)),
            "fp" => fp(b).partial_cmp(&fp(a)).unwrap_or(Ordering::Equal),
            "held" => b.held.cmp(&a.held),
            "off" => a.enabled.cmp(&b.enabled),
            _ => Ordering::Equal,
        };
        first.then_with(|| by_title(a, b)).then_with(|| a.rule.0.cmp(&b.rule.0))
    });
    let total = rows.len();
    let rows = rows.into_iter().skip(f.page * RULES_PAGE).take(RULES_PAGE).collect();
    (rows, total)
}

impl RulesFilter {
    fn url(&self, ctx: &Ctx, sort: &str, page: usize) -> String {
        ctx.url(&format!(
            "rules?q={}&state={}&sort={}&page={page}",
            query_value(&self.q),
            query_value(&self.state),
            query_value(sort)
        ))
    }
}

/// The rules page: a rule test, then the rules of the filter's page.
pub(crate) fn rules(
    ctx: &Ctx,
    f: &RulesFilter,
    rows: &[RuleRow<'_>],
    matching: usize,
    loaded: usize,
    test: Option<&RuleTest>,
) -> Markup {
    let (yaml, events) = test.map_or(("", ""), |t| (t.yaml.as_str(), t.events.as_str()));
    let switch = ctx.can(Action::Configure);
    let columns = [
        (T::Rule, "title"),
        (T::Level, "level"),
        (T::Alerts, "alerts"),
        (T::Detections, "detections"),
        (T::RateLimited, "held"),
        (T::FalsePositiveRate, "fp"),
        (T::Enabled, "off"),
    ];
    let pages = matching.div_ceil(RULES_PAGE).max(1);
    html! {
        section {
            h2 { (ctx.t(T::RuleTest)) }
            form method="post" action=(ctx.url("rules")) {
                (ctx.csrf_field())
                p { label for="rule-yaml" { (ctx.t(T::RuleYaml)) } br; textarea #rule-yaml name="rule" rows="10" cols="80" { (yaml) } }
                p { label for="rule-events" { (ctx.t(T::SampleEvents)) } br; textarea #rule-events name="events" rows="6" cols="80" { (events) } }
                button #rule-test { (ctx.t(T::RuleTest)) }
            }
            @match test.map(|t| &t.result) {
                Some(Ok(lines)) => p.notice role="status" #rule-result {
                    (ctx.t(T::Matches)) ": " (lines.len()) " ("
                    (lines.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) ")"
                },
                Some(Err(e)) => p.error role="alert" #rule-result { (e) },
                None => {},
            }
        }
        section {
            h2 #rules-title { (ctx.t(T::Rules)) " (" (loaded) ")" }
            form method="get" class="filters" {
                label for="r-q" { (ctx.t(T::Find)) } " " input #r-q name="q" value=(f.q) size="30";
                " " label for="r-state" { (ctx.t(T::Enabled)) } " "
                select #r-state name="state" {
                    @for (v, k) in [("", T::All), ("on", T::On), ("off", T::Off)] {
                        option value=(v) selected[f.state == v] { (ctx.t(k)) }
                    }
                }
                input type="hidden" name="sort" value=(f.sort);
                " " button { (ctx.t(T::Filter)) }
            }
            p #rules-shown role="status" {
                (matching) " " (ctx.t(T::RulesMatching)) " · " (ctx.t(T::PageOf)) " " (f.page + 1) " / " (pages)
            }
            table #rules {
                thead {
                    tr {
                        @for (key, sort) in columns {
                            th scope="col" aria-sort=(if f.sort == sort || (f.sort.is_empty() && sort == "title") { "descending" } else { "none" }) {
                                a.sort href=(f.url(ctx, sort, 0)) { (ctx.t(key)) }
                            }
                        }
                    }
                }
                tbody {
                    @for r in rows {
                        @let (id, title, level) = r.rule;
                        tr.rule-row class=[(!r.enabled).then_some("off")] {
                            td title=(id) { (Shown(title)) }
                            td { (badge(ctx, *level)) }
                            td { (r.stats.map_or(0, |s| s.alerts)) }
                            td { (r.stats.map_or(0, |s| s.detections)) }
                            @if r.held > 0 { td.bad { (r.held) } } @else { td { "0" } }
                            td { (r.stats.and_then(|s| s.false_positive_rate).map_or("-".into(), |x| format!("{:.0}%", x * 100.0))) }
                            td {
                                (ctx.t(if r.enabled { T::On } else { T::Off }))
                                @if switch {
                                    form method="post" action=(ctx.url("rules/switch")) class="inline" {
                                        (ctx.csrf_field())
                                        input type="hidden" name="rule" value=(id);
                                        input type="hidden" name="enabled" value=(if r.enabled { "0" } else { "1" });
                                        input type="hidden" name="back" value=(f.url(ctx, &f.sort, f.page));
                                        " " button.switch aria-label=(format!("{} {}", ctx.t(if r.enabled { T::SwitchOff } else { T::SwitchOn }), title)) {
                                            (ctx.t(if r.enabled { T::SwitchOff } else { T::SwitchOn }))
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if rows.is_empty() { (empty_row(ctx, 7)) }
                }
            }
            p {
                @if f.page > 0 { a rel="prev" href=(f.url(ctx, &f.sort, f.page - 1)) { (ctx.t(T::PagePrev)) } " " }
                @if f.page + 1 < pages { a rel="next" href=(f.url(ctx, &f.sort, f.page + 1)) { (ctx.t(T::PageNext)) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(id: &str, alerts: i64, fp: Option<f64>) -> RuleStats {
        RuleStats {
            rule_id: id.into(),
            title: id.into(),
            alerts,
            detections: alerts * 2,
            true_positive: 0,
            benign_true_positive: 0,
            false_positive: 0,
            duplicate: 0,
            false_positive_rate: fp,
            mean_time_to_triage_secs: None,
        }
    }

    #[test]
    fn rules_are_found_sorted_and_paged() {
        let loaded: Vec<LoadedRule> = (0..250)
            .map(|i| {
                (format!("id-{i:03}"), format!("Rule {i:03}{}", if i % 50 == 0 { " PsExec" } else { "" }), Level::Low)
            })
            .collect();
        let st = [stats("id-007", 5, Some(0.5)), stats("id-100", 9, Some(0.9)), stats("id-200", 1, None)];
        let disabled = ["id-100".to_string()];
        let f = |q: &str, sort: &str, state: &str, page: usize| RulesFilter {
            q: q.into(),
            sort: sort.into(),
            state: state.into(),
            page,
        };
        let ids = |(rows, total): (Vec<RuleRow<'_>>, usize)| {
            (rows.iter().map(|r| r.rule.0.clone()).collect::<Vec<_>>(), total)
        };
        let (first, total) = ids(rule_rows(&loaded, &st, &[], &disabled, &f("", "", "", 0)));
        assert_eq!((first.len(), total, first[0].as_str()), (100, 250, "id-000"));
        assert_eq!(ids(rule_rows(&loaded, &st, &[], &disabled, &f("", "", "", 2))).0.len(), 50);
        assert_eq!(ids(rule_rows(&loaded, &st, &[], &disabled, &f("psexec", "", "", 0))).1, 5);
        assert_eq!(ids(rule_rows(&loaded, &st, &[], &disabled, &f("ID-20", "", "", 0))).0[0], "id-200");
        assert_eq!(
            &ids(rule_rows(&loaded, &st, &[], &disabled, &f("", "alerts", "", 0))).0[..3],
            ["id-100", "id-007", "id-200"]
        );
        assert_eq!(&ids(rule_rows(&loaded, &st, &[], &disabled, &f("", "fp", "", 0))).0[..2], ["id-100", "id-007"]);
        assert_eq!(ids(rule_rows(&loaded, &st, &[], &disabled, &f("", "", "off", 0))), (vec!["id-100".to_string()], 1));
        assert_eq!(ids(rule_rows(&loaded, &st, &[], &disabled, &f("", "", "on", 0))).1, 249);
    }
}
