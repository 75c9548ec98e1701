//! `hinomi rules check`: besides load errors, what makes a rule hard to
//! run in a SOC: no id, no level, no ATT&CK tag, no description or
//! author, a field its log source never has (`data/taxonomy.txt`, derived
//! from the SigmaHQ corpus, plus the ECS names normalization fills).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;

/// One finding of the linter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Finding {
    pub(crate) file: String,
    pub(crate) rule: String,
    /// `error` fails the check; `warning` does not.
    pub(crate) severity: &'static str,
    pub(crate) message: String,
}

const TAXONOMY: &str = include_str!("../../data/taxonomy.txt");

/// Names every source of their kind has though few rules use them: the
/// ECS core, the Windows event envelope, the W3C log fields.
const ALWAYS: &[&str] = &[
    "@timestamp",
    "message",
    "event.action",
    "event.outcome",
    "event.category",
    "event.kind",
    "source.bytes",
    "destination.bytes",
    "network.bytes",
    "Computer",
    "Channel",
    "EventID",
    "EventTime",
    "Provider_Name",
    "TimeCreated_SystemTime",
    "cs-uri-stem",
    "cs-bytes",
    "sc-bytes",
    "c-useragent",
];
const ECS: &str = include_str!("../../../normalize/data/ecs-fields.txt");

/// Field names per log source key `product/category/service`, and the
/// names every source may have.
type Taxonomy = (HashMap<String, HashSet<String>>, HashSet<String>);

fn taxonomy() -> &'static Taxonomy {
    static T: OnceLock<Taxonomy> = OnceLock::new();
    T.get_or_init(|| {
        let by_source = TAXONOMY
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.split(' ').map(str::to_owned).collect()))
            .collect();
        let ecs = ECS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit('|').next())
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .chain(ALWAYS.iter().map(|f| (*f).to_owned()))
            .collect();
        (by_source, ecs)
    })
}

/// Findings for every document of one rule file's text.
pub(crate) fn lint_file(path: &str, text: &str) -> Vec<Finding> {
    let Ok(docs) = sigma::yaml_to_json(text) else { return Vec::new() };
    let mut out = Vec::new();
    for doc in &docs {
        let Some(map) = doc.as_object() else { continue };
        let rule = map.get("id").and_then(Value::as_str).unwrap_or("(no id)").to_owned();
        let mut finding = |severity, message: String| {
            out.push(Finding { file: path.to_owned(), rule: rule.clone(), severity, message })
        };
        let has = |k: &str| map.get(k).is_some_and(|v| !v.is_null());
        if !has("id") {
            finding("error", "no `id`".into());
        }
        let correlation = has("correlation");
        // Inside a correlation chain only the outermost rule carries a level.
        if !has("level") && !correlation && !has("name") {
            finding("warning", "no `level` (medium is assumed)".into());
        }
        let attack = map
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with("attack."))));
        if !attack && (!has("name") || correlation) {
            finding("warning", "no ATT&CK tag (`attack.tNNNN`): coverage cannot count it".into());
        }
        for key in ["description", "author"] {
            if !has(key) {
                finding("warning", format!("no `{key}`"));
            }
        }
        if let (Some(ls), Some(detection)) = (map.get("logsource"), map.get("detection")) {
            let part = |k: &str| ls.get(k).and_then(Value::as_str).map_or("-".to_owned(), str::to_lowercase);
            let key = format!("{}/{}/{}", part("product"), part("category"), part("service"));
            let (by_source, ecs) = taxonomy();
            if let Some(known) = by_source.get(&key) {
                for f in fields(detection) {
                    if !known.contains(&f) && !ecs.contains(&f) {
                        finding(
                            "warning",
                            format!("field `{f}` is not one rules of {key} use (a typo, or a custom field?)"),
                        );
                    }
                }
            }
        }
    }
    out
}

/// The field names a detection section reads.
fn fields(detection: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(map) = detection.as_object() else { return out };
    for (name, value) in map {
        if name == "condition" {
            continue;
        }
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for item in items {
            if let Some(m) = item.as_object() {
                for k in m.keys() {
                    let f = k.split('|').next().unwrap_or_default().to_owned();
                    if !f.is_empty() && !out.contains(&f) {
                        out.push(f);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_name_what_is_missing_and_odd_fields() {
        let text = "title: t\nid: x\nlogsource: {category: process_creation, product: windows}\n\
                    detection: {sel: {Imagee|endswith: '\\\\cmd.exe', CommandLine: x, user.name: y}, condition: sel}\n";
        let got: Vec<String> =
            lint_file("a.yml", text).into_iter().map(|f| format!("{}: {}", f.severity, f.message)).collect();
        assert_eq!(
            got,
            [
                "warning: no `level` (medium is assumed)",
                "warning: no ATT&CK tag (`attack.tNNNN`): coverage cannot count it",
                "warning: no `description`",
                "warning: no `author`",
                "warning: field `Imagee` is not one rules of windows/process_creation/- use (a typo, or a custom field?)",
            ]
        );
        let clean = "title: t\nid: x\nlevel: high\ndescription: d\nauthor: a\ntags: [attack.t1059]\n\
                     logsource: {category: process_creation, product: windows}\ndetection: {sel: {Image: x}, condition: sel}\n";
        assert!(lint_file("b.yml", clean).is_empty());
        assert!(lint_file("c.yml", "title: [").is_empty(), "load errors are reported by the loader");
    }
}
