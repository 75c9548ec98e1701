//! Elasticsearch `_bulk` bodies: NDJSON pairs of an action line
//! (`{"index":{...}}`, `create`, `update`, `delete`) and, except for
//! `delete`, a document line. Documents are kept as their JSON text; the
//! response lists one result per action, as Elasticsearch does.
//!
//! A document that is not a JSON object (or not UTF-8) is an error of its
//! item alone, as in Elasticsearch: the other items are stored and the
//! answer says which failed and why. An action line that cannot be read
//! fails the whole request, since what follows it cannot be paired.

use std::sync::Arc;

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
    /// Shared by the items that name the same index in a row (all of a
    /// shipper's, as a rule): a large body has hundreds of thousands.
    pub index: Arc<str>,
    pub id: Option<String>,
    /// The document (`update`: its `doc` or the whole line), as JSON text.
    pub document: Option<String>,
    /// Why the document cannot be stored; `document` then holds its line
    /// as text (invalid UTF-8 replaced), for the dead letter.
    pub error: Option<String>,
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
    let mut parser = Parser::new(default_index);
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        parser.line(n + 1, line)?;
    }
    parser.finish()
}

/// A body read line by line as it arrives ([`parse`] for a body in one
/// piece): the server reads large bodies this way, letting each part of
/// the body go once its lines are parsed.
pub struct Parser {
    default_index: Option<String>,
    /// An action waiting for its document line: the action, its index
    /// and id, and the action line's number.
    pending: Option<(Action, Arc<str>, Option<String>, usize)>,
    items: Vec<Item>,
    /// The index of the last action.
    last_index: Option<Arc<str>>,
}

impl Parser {
    pub fn new(default_index: Option<&str>) -> Parser {
        Parser { default_index: default_index.map(str::to_string), pending: None, items: Vec::new(), last_index: None }
    }

    /// Takes line `line_no` (counted from 1, blank lines included),
    /// without its `\n`.
    pub fn line(&mut self, line_no: usize, line: &[u8]) -> Result<(), BulkError> {
        if line.trim_ascii().is_empty() {
            return Ok(());
        }
        if let Some((action, index, id, _)) = self.pending.take() {
            let (document, error) = match document(&action, line) {
                Ok(text) => (Some(text), None),
                Err(why) => {
                    let text = String::from_utf8_lossy(line).trim_end_matches('\r').to_string();
                    (Some(text), Some(format!("document [{line_no}]: {why}")))
                }
            };
            self.items.push(Item { action, index, id, document, error });
            return Ok(());
        }
        let (action, index, id) = self.action(line_no, line)?;
        if action == Action::Delete {
            self.items.push(Item { action, index, id, document: None, error: None });
        } else {
            self.pending = Some((action, index, id, line_no));
        }
        Ok(())
    }

    /// The items, once every line is in.
    pub fn finish(self) -> Result<Vec<Item>, BulkError> {
        match self.pending {
            Some((.., line_no)) => Err(BulkError(format!("action [{line_no}] is not followed by a document"))),
            None => Ok(self.items),
        }
    }

    fn action(&mut self, line_no: usize, line: &[u8]) -> Result<(Action, Arc<str>, Option<String>), BulkError> {
        let line = std::str::from_utf8(line)
            .map_err(|e| BulkError(format!("malformed action/metadata line [{line_no}]: not UTF-8: {e}")))?;
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
        let name = meta
            .index
            .or_else(|| self.default_index.clone())
            .ok_or_else(|| BulkError(format!("action [{line_no}] has no index and the path names none")))?;
        let index = match &self.last_index {
            Some(last) if **last == *name => last.clone(),
            _ => {
                let index: Arc<str> = name.into();
                self.last_index = Some(index.clone());
                index
            }
        };
        let id = meta.id.map(|v| match v {
            IdValue::Text(s) => s,
            IdValue::Number(n) => n.to_string(),
        });
        Ok((action, index, id))
    }
}

/// A document line as the record to store: checked to be one JSON object
/// (`update` lines carry `{"doc": {...}}`; the record is the doc).
fn document(action: &Action, line: &[u8]) -> Result<String, String> {
    let line = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
    let line = line.trim_end_matches('\r');
    if *action == Action::Update
        && let Ok(Value::Object(mut o)) = serde_json::from_str::<Value>(line)
        && let Some(doc) = o.remove("doc")
    {
        return Ok(doc.to_string());
    }
    if !line.trim_start().starts_with('{') {
        return Err("not a JSON object".into());
    }
    serde_json::from_str::<serde::de::IgnoredAny>(line).map_err(|e| format!("not a JSON object: {e}"))?;
    Ok(line.to_string())
}

/// The response body for `items` written, but those with an error;
/// items without an id get `{first_id}.{n}`. Written directly (not through
/// a JSON tree): a bulk answer has an entry per document.
pub fn response(items: &[Item], took_ms: u64, first_id: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64 + items.len() * 200);
    let errors = items.iter().any(|i| i.error.is_some());
    let _ = write!(out, r#"{{"took":{took_ms},"errors":{errors},"items":["#);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(why) = &item.error {
            let id = item.id.as_ref().map_or(Value::Null, |id| Value::String(id.clone()));
            let _ = write!(
                out,
                r#"{{"{}":{{"_index":{},"_id":{id},"status":400,"error":{{"type":"document_parsing_exception","reason":{}}}}}}}"#,
                item.action.as_str(),
                Value::String(item.index.to_string()),
                Value::String(why.clone()),
            );
            continue;
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
            Value::String(item.index.to_string()),
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
        assert_eq!(&*items[1].index, "default-idx");
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
        assert!(parse(b"{\"index\":{\"_id\":\"\xff\"}}\n{}\n", Some("i")).unwrap_err().0.contains("not UTF-8"));
    }

    #[test]
    fn lines_fed_one_by_one_give_what_the_whole_body_gives() {
        let body = b"{\"index\":{}}\n\n{\"a\":1}\r\n{\"delete\":{\"_id\":1}}\n{\"create\":{}}\n{\"b\":\"\xff\"}\n{\"index\":{}}";
        let mut parser = Parser::new(Some("i"));
        for (n, line) in body.split(|&b| b == b'\n').enumerate() {
            parser.line(n + 1, line).unwrap();
        }
        assert_eq!(parser.finish(), parse(body, Some("i")));
        assert_eq!(parse(body, Some("i")).unwrap_err().0, "action [7] is not followed by a document");
    }

    #[test]
    fn a_bad_document_is_an_error_of_its_item_alone() {
        let body = b"{\"index\":{}}\n{\"a\":\"\xff\"}\n{\"index\":{\"_id\":\"k\"}}\n[1]\n{\"index\":{}}\n{\"c\":3}\n";
        let items = parse(body, Some("i")).unwrap();
        let errors: Vec<Option<&str>> = items.iter().map(|i| i.error.as_deref()).collect();
        assert_eq!(
            errors,
            [
                Some("document [2]: not UTF-8: invalid utf-8 sequence of 1 bytes from index 6"),
                Some("document [4]: not a JSON object"),
                None
            ]
        );
        assert_eq!(items[0].document.as_deref(), Some("{\"a\":\"\u{fffd}\"}"));
        let resp: Value = serde_json::from_str(&response(&items, 3, "77")).unwrap();
        assert_eq!(resp["errors"], true);
        assert_eq!(resp["items"][1]["index"]["status"], 400);
        assert_eq!(resp["items"][1]["index"]["_id"], "k");
        assert_eq!(resp["items"][1]["index"]["error"]["reason"], "document [4]: not a JSON object");
        assert_eq!(resp["items"][2]["index"]["status"], 201);
    }
}
