//! From one YAML document to a [`Rule`]: metadata, log source, detections and
//! condition, with every problem reported at its line and column.

use model::{Level, LogSource};

use crate::condition;
use crate::matcher::{Detection, Expr, Item, ItemTest, Matchable};
use crate::value::{CompileOptions, Modifier, RawValue, Values, compile_values};
use crate::{FieldTable, Rule};
use yamltree::{Node, Pos};

/// A problem in one document, before the file name is attached.
#[derive(Debug)]
pub(crate) struct DocError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
    pub(crate) rule_id: Option<String>,
}

impl DocError {
    pub(crate) fn at(node: &Node, message: impl Into<String>) -> DocError {
        DocError { pos: node.pos(), message: message.into(), rule_id: None }
    }

    /// The error with its file named, as the builder reports it.
    pub(crate) fn at_file(self, path: &str) -> crate::LoadError {
        crate::LoadError {
            path: path.to_owned(),
            line: self.pos.line,
            col: self.pos.col,
            rule_id: self.rule_id,
            message: self.message,
        }
    }
}

pub(crate) fn err<T>(node: &Node, message: impl Into<String>) -> Result<T, DocError> {
    Err(DocError::at(node, message))
}

/// Top-level keys Sigma defines for detection rules; anything else is a
/// custom attribute, which the spec allows.
pub(crate) fn parse_rule(
    doc: &Node,
    path: &str,
    fields: &mut FieldTable,
    options: &CompileOptions,
) -> Result<Rule, DocError> {
    let Node::Map { .. } = doc else {
        return err(doc, format!("a rule must be a map, found {}", doc.kind()));
    };
    let id = doc.get("id").and_then(Node::as_str).map(str::to_owned);
    parse_rule_inner(doc, path, fields, options).map_err(|mut e| {
        e.rule_id = id;
        e
    })
}

fn parse_rule_inner(
    doc: &Node,
    path: &str,
    fields: &mut FieldTable,
    options: &CompileOptions,
) -> Result<Rule, DocError> {
    if let Some(action) = doc.get("action") {
        return err(action, "legacy multi-document `action` collections are not supported; write each rule in full");
    }
    let text = |key: &str| -> Result<Option<String>, DocError> {
        match doc.get(key) {
            None => Ok(None),
            Some(n) if n.is_null() => Ok(None),
            Some(n) => match n.as_str() {
                Some(s) => Ok(Some(s.to_owned())),
                None => err(n, format!("`{key}` must be a string, found {}", n.kind())),
            },
        }
    };
    let title = match text("title")? {
        Some(t) if !t.trim().is_empty() => t,
        _ => return err(doc, "rule has no `title`"),
    };
    let id = match text("id")? {
        Some(id) if !id.trim().is_empty() => id,
        _ => return err(doc, "rule has no `id` (Hinomi identifies rules by their Sigma id)"),
    };
    let level = match doc.get("level") {
        None => Level::Medium,
        Some(n) => match n.as_str().and_then(Level::parse) {
            Some(l) => l,
            None => return err(n, "`level` must be informational, low, medium, high or critical"),
        },
    };
    let logsource = match doc.get("logsource") {
        Some(n @ Node::Map { .. }) => {
            let get = |k: &str| n.get(k).and_then(Node::as_str).map(str::to_lowercase);
            LogSource::new(get("product").as_deref(), get("category").as_deref(), get("service").as_deref())
        }
        Some(n) => return err(n, format!("`logsource` must be a map, found {}", n.kind())),
        None => return err(doc, "rule has no `logsource`"),
    };
    let list = |key: &str| doc.get(key).map(Node::string_list).unwrap_or_default();
    let Some(detection) = doc.get("detection") else {
        return err(doc, "rule has no `detection`");
    };
    let matchable = parse_detection(detection, fields, options, &[])?;
    Ok(Rule {
        id,
        name: text("name")?,
        alerts: true,
        title,
        level,
        status: text("status")?,
        description: text("description")?,
        author: text("author")?,
        date: text("date")?,
        modified: text("modified")?,
        tags: list("tags"),
        references: list("references"),
        falsepositives: list("falsepositives"),
        logsource,
        path: path.to_owned(),
        line: doc.pos().line,
        matchable,
    })
}

/// A filter document (the Sigma filters specification): which rules it
/// applies to and the condition an event must meet to stay a match.
#[derive(Debug)]
pub(crate) struct Filter {
    pub(crate) id: Option<String>,
    pub(crate) logsource: LogSource,
    /// Rule ids or names; empty for every rule of the log source (`any`).
    pub(crate) rules: Vec<String>,
    /// Hinomi's extension: the filter applies to this tenant's events only.
    pub(crate) tenant: Option<String>,
    pub(crate) matchable: Matchable,
    pub(crate) path: String,
    pub(crate) line: u32,
}

pub(crate) fn parse_filter(
    doc: &Node,
    path: &str,
    fields: &mut FieldTable,
    options: &CompileOptions,
) -> Result<Filter, DocError> {
    let id = doc.get("id").and_then(Node::as_str).map(str::to_owned);
    let title = doc.get("title").and_then(Node::as_str).unwrap_or("");
    if title.trim().is_empty() {
        return err(doc, "filter has no `title`");
    }
    let logsource = match doc.get("logsource") {
        Some(n @ Node::Map { .. }) => {
            let get = |k: &str| n.get(k).and_then(Node::as_str).map(str::to_lowercase);
            LogSource::new(get("product").as_deref(), get("category").as_deref(), get("service").as_deref())
        }
        Some(n) => return err(n, format!("`logsource` must be a map, found {}", n.kind())),
        None => return err(doc, "filter has no `logsource`"),
    };
    let Some(filter @ Node::Map { .. }) = doc.get("filter") else {
        return err(doc, "`filter` must be a map with `rules`, selections and a `condition`");
    };
    let rules = match filter.get("rules") {
        None => Vec::new(),
        Some(n) if n.as_str() == Some("any") => Vec::new(),
        Some(n) => n.string_list(),
    };
    let tenant = doc.get("tenant").and_then(Node::as_str).map(str::to_owned);
    let matchable = parse_detection(filter, fields, options, &["rules"]).map_err(|mut e| {
        e.rule_id = id.clone();
        e
    })?;
    Ok(Filter { id, logsource, rules, tenant, matchable, path: path.to_owned(), line: doc.pos().line })
}

fn parse_detection(
    node: &Node,
    fields: &mut FieldTable,
    options: &CompileOptions,
    skip: &[&str],
) -> Result<Matchable, DocError> {
    let Node::Map { entries, .. } = node else {
        return err(node, format!("`detection` must be a map, found {}", node.kind()));
    };
    let mut names = Vec::new();
    let mut detections = Vec::new();
    let mut condition_node = None;
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            return err(key, "search identifiers must be strings");
        };
        match name {
            _ if skip.contains(&name) => {}
            "condition" => condition_node = Some(value),
            "timeframe" => return err(key, "`timeframe` is obsolete; write a Sigma correlation rule instead"),
            _ => {
                names.push(name.to_owned());
                detections.push(parse_search(value, fields, options)?);
            }
        }
    }
    let Some(cond) = condition_node else {
        return err(node, "`detection` has no `condition`");
    };
    let texts: Vec<(&Node, &str)> = match cond {
        Node::Scalar { text, .. } => vec![(cond, text.as_str())],
        Node::Seq { items, .. } => {
            let mut out = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(t) => out.push((item, t)),
                    None => return err(item, "each condition in a list must be a string"),
                }
            }
            out
        }
        Node::Map { .. } => return err(cond, "`condition` must be a string or a list of strings"),
    };
    let mut exprs = Vec::new();
    for (node, text) in texts {
        match condition::parse(text, &names) {
            Ok(e) => exprs.push(e),
            Err(e) => {
                let Pos { line, col } = node.pos();
                // Quoted scalars start one column before their text.
                let quote = matches!(node, Node::Scalar { plain: false, .. }) as u32;
                let col = if text.contains('\n') { col } else { col + quote + e.offset as u32 };
                return Err(DocError {
                    pos: Pos { line, col },
                    message: format!("condition: {}", e.message),
                    rule_id: None,
                });
            }
        }
    }
    let condition = if exprs.len() == 1 { exprs.remove(0) } else { Expr::Or(exprs) };
    Ok(Matchable { detections, condition })
}

/// One search identifier's definition.
fn parse_search(node: &Node, fields: &mut FieldTable, options: &CompileOptions) -> Result<Detection, DocError> {
    match node {
        Node::Map { entries, .. } => Ok(Detection { alternatives: vec![parse_map(entries, fields, options)?] }),
        Node::Seq { items, .. } => {
            if items.is_empty() {
                return err(node, "search identifier has an empty list");
            }
            let mut alternatives = Vec::new();
            let mut keywords = Vec::new();
            for item in items {
                match item {
                    Node::Map { entries, .. } => alternatives.push(parse_map(entries, fields, options)?),
                    Node::Scalar { text, plain, .. } => keywords.push(RawValue { text: text.clone(), plain: *plain }),
                    Node::Seq { .. } => return err(item, "nested lists are not a Sigma search"),
                }
            }
            if !keywords.is_empty() {
                alternatives.push(vec![make_item(None, &[], &keywords, node, fields, options)?]);
            }
            Ok(Detection { alternatives })
        }
        Node::Scalar { text, plain, .. } => {
            let raw = [RawValue { text: text.clone(), plain: *plain }];
            Ok(Detection { alternatives: vec![vec![make_item(None, &[], &raw, node, fields, options)?]] })
        }
    }
}

/// A map of `field|modifiers: values`, AND-ed.
fn parse_map(
    entries: &[(Node, Node)],
    fields: &mut FieldTable,
    options: &CompileOptions,
) -> Result<Vec<Item>, DocError> {
    if entries.is_empty() {
        return Err(DocError { pos: Pos::default(), message: "search map is empty".into(), rule_id: None });
    }
    let mut items = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Some(key_text) = key.as_str() else {
            return err(key, "field names must be strings");
        };
        let mut parts = key_text.split('|');
        let field = parts.next().unwrap_or("");
        let mut mods = Vec::new();
        for m in parts {
            match Modifier::parse(m) {
                Some(m) => mods.push(m),
                None => return err(key, format!("unknown modifier `{m}`")),
            }
        }
        let raw: Vec<RawValue> = match value {
            Node::Scalar { text, plain, .. } => vec![RawValue { text: text.clone(), plain: *plain }],
            // An empty list is null, as pySigma reads it.
            Node::Seq { items, .. } if items.is_empty() => vec![RawValue { text: "null".into(), plain: true }],
            Node::Seq { items, .. } => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Node::Scalar { text, plain, .. } => out.push(RawValue { text: text.clone(), plain: *plain }),
                        other => return err(other, format!("values must be scalars, found {}", other.kind())),
                    }
                }
                out
            }
            Node::Map { .. } => return err(value, "a field's value cannot be a map"),
        };
        let field = (!field.is_empty()).then_some(field);
        items.push(make_item(field, &mods, &raw, key, fields, options)?);
    }
    Ok(items)
}

fn make_item(
    field: Option<&str>,
    mods: &[Modifier],
    raw: &[RawValue],
    at: &Node,
    fields: &mut FieldTable,
    options: &CompileOptions,
) -> Result<Item, DocError> {
    let compiled = match compile_values(mods, raw, field.is_none(), options) {
        Ok(c) => c,
        Err(message) => {
            let what = field.unwrap_or("keywords");
            return err(at, format!("`{what}`: {message}"));
        }
    };
    let test = match compiled.values {
        Values::Groups { groups, all } => ItemTest::Groups { groups, all },
        Values::Exists(b) => ItemTest::Exists(b),
    };
    Ok(Item {
        field: field.map(|f| fields.intern(f)),
        test,
        negate: compiled.negate,
        fieldrefs: compiled.fieldrefs.iter().map(|f| fields.intern(f)).collect(),
    })
}
