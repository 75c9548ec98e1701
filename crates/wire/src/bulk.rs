//! Elasticsearch `_bulk` bodies: NDJSON pairs of an action line
//! (`{"index":{...}}`, `create`, `update`, `delete`) and, except for
//! `delete`, a document line. Documents are kept as their JSON text; the
//! response lists one result per action, as Elasticsearch does.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Index,
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One action of a bulk request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub action: Action,
    pub index: String,
    pub id: Option<String>,
    /// The document (`update`: its `doc` or the whole line), as JSON text.
    pub document: Option<String>,
}

/// A body that cannot be read as a bulk request; Elasticsearch answers
/// these with 400 and stores nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkError(pub String);

/// The metadata of an action line; other keys (routing, pipeline, …) are
/// accepted and ignored.
#[derive(serde::Deserialize, Default)]
struct Meta {
    #[serde(rename = "_index")]
    index: Option<String>,
    #[serde(rename = "_id")]
    id: Option<IdValue>,
}

/// `_id` as clients send it: a string or a number.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(serde_json::Number),
}

/// Parses a body. `default_index` comes from `/{index}/_bulk`.
pub fn parse(body: &[u8], default_index: Option<&str>) -> Result<Vec<Item>, BulkError> {
    let text = std::str::from_utf8(body).map_err(|e| BulkError(format!("body is not UTF-8: {e}")))?;
    let mut lines = text.split('\n').enumerate().filter(|(_, l)| !l.trim().is_empty());
    let mut items = Vec::new();
    while let Some((n, line)) = lines.next() {
        let line_no = n + 1;
        // One action: a map with exactly one key, parsed without a tree.
        let actions: std::collections::BTreeMap<String, Option<Meta>> = serde_json::from_str(line)
            .map_err(|e| BulkError(format!("malformed action/metadata line [{line_no}]: {e}")))?;
        let mut actions = actions.into_iter();
        let (Some((name, meta)), None) = (actions.next(), actions.next()) else {
            return Err(BulkError(format!("malformed action/metadata line [{line_no}], expected one action")));
        };
        let action = match name.as_str() {
            "index" => Action::Index,
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            other => {
                return Err(BulkError(format!("malformed action/metadata line [{line_no}]: unknown action `{other}`")));
            }
        };
        let meta = meta.unwrap_or_default();
        let index = meta
            .index
            .or_else(|| default_index.map(str::to_string))
            .ok_or_else(|| BulkError(format!("action [{line_no}] has no index and the path names none")))?;
        let id = meta.id.map(|v| match v {
            IdValue::Text(s) => s,
            IdValue::Number(n) => n.to_string(),
        });
        let document = if action == Action::Delete {
            None
        } else {
            let (_, doc) =
                lines.next().ok_or_else(|| BulkError(format!("action [{line_no}] is not followed by a document")))?;
            Some(document_text(&action, doc))
        };
        items.push(Item { action, index, id, document });
    }
    Ok(items)
}

/// `update` lines carry `{"doc": {...}}`; the record is the doc.
fn document_text(action: &Action, line: &str) -> String {
    if *action == Action::Update
        && let Ok(Value::Object(mut o)) = serde_json::from_str::<Value>(line)
        && let Some(doc) = o.remove("doc")
    {
        return doc.to_string();
    }
    line.trim_end_matches('\r').to_string()
}

/// The response body for `items` all written; items without an id get
/// `{first_id}.{n}`. Written directly (not through a JSON tree): a bulk
/// answer has an entry per document.
pub fn response(items: &[Item], took_ms: u64, first_id: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64 + items.len() * 200);
    let _ = write!(out, r#"{{"took":{took_ms},"errors":false,"items":["#);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let id = match &item.id {
            Some(id) => Value::String(id.clone()).to_string(),
            None => format!("\"{first_id}.{i}\""),
        };
        let (status, result) = match item.action {
            Action::Delete => (200, "not_found"),
            Action::Update => (200, "updated"),
            _ => (201, "created"),
        };
        let _ = write!(
            out,
            r#"{{"{}":{{"_index":{},"_id":{id},"_version":1,"result":"{result}","_shards":{{"total":1,"successful":1,"failed":0}},"_seq_no":{i},"_primary_term":1,"status":{status}}}}}"#,
            item.action.as_str(),
            Value::String(item.index.clone()),
        );
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_actions_and_documents() {
        let body = b"{\"index\":{\"_index\":\"logs\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"create\":{}}\n{\"b\":2}\n{\"delete\":{\"_index\":\"x\",\"_id\":\"9\"}}\n{\"update\":{\"_id\":3}}\n{\"doc\":{\"c\":3}}\n";
        let items = parse(body, Some("default-idx")).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].document.as_deref(), Some("{\"a\":1}"));
        assert_eq!(items[1].index, "default-idx");
        assert_eq!(items[2].document, None);
        assert_eq!(items[3].id.as_deref(), Some("3"));
        assert_eq!(items[3].document.as_deref(), Some("{\"c\":3}"));
        let resp: Value = serde_json::from_str(&response(&items, 3, "77")).unwrap();
        assert_eq!(resp["items"][1]["create"]["_id"], "77.1");
        assert_eq!(resp["items"][0]["index"]["status"], 201);
    }

    #[test]
    fn broken_action_lines_fail_the_request() {
        assert_eq!(
            parse(b"{\"index\":{}}\n{}\nnot json\n", Some("i")).unwrap_err().0,
            "malformed action/metadata line [3]: expected ident at line 1 column 2"
        );
        assert!(parse(b"{\"index\":{}}\n", None).is_err());
        assert!(parse(b"{\"index\":{}}\n", Some("i")).unwrap_err().0.contains("not followed by a document"));
        assert!(parse(b"{\"frobnicate\":{}}\n{}\n", Some("i")).is_err());
    }
}
