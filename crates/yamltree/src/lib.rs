//! A YAML tree that keeps what serde-style loaders lose: the raw text of
//! every scalar with its quoting style, and the line and column of every
//! node, so a loader can type scalars itself and name the place of every
//! mistake.
//!
//! Sigma rules need both: a YAML 1.2 resolver reads the plain scalar
//! `00000429` as the integer 429, but a rule that says
//! `Details|contains: 00000429` means the text. Response playbooks need the
//! positions. Not a serializer, and not a full YAML model: tags are dropped,
//! aliases are expanded (within a node budget), duplicate keys refused.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A position in a rule file, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos { line: span.start.line() as u32, col: span.start.col() as u32 + 1 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Scalar { text: String, plain: bool, pos: Pos },
    Seq { items: Vec<Node>, pos: Pos },
    Map { entries: Vec<(Node, Node)>, pos: Pos },
}

impl Node {
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. } | Node::Seq { pos, .. } | Node::Map { pos, .. } => *pos,
        }
    }

    /// The scalar's text, whatever its YAML type.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A map entry by key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether this is a plain scalar that YAML reads as null (`null`, `~` or nothing).
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, plain: true, .. } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A scalar, or each scalar of a sequence, as strings.
    pub fn string_list(&self) -> Vec<String> {
        match self {
            Node::Scalar { .. } if self.is_null() => Vec::new(),
            Node::Scalar { text, .. } => vec![text.clone()],
            Node::Seq { items, .. } => items.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
            Node::Map { .. } => Vec::new(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar { .. } => "a scalar",
            Node::Seq { .. } => "a list",
            Node::Map { .. } => "a map",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Aliases may expand a small file into a huge tree ("billion laughs"); no
/// Sigma rule comes near this many nodes.
const MAX_NODES: usize = 1_000_000;
/// Deeper nesting than this is not a rule; it would only exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Parses every document of a YAML stream.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder { anchors: Vec::new(), stack: Vec::new(), docs: Vec::new(), nodes: 0 };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError {
            pos: Pos { line: e.marker().line() as u32, col: e.marker().col() as u32 + 1 },
            message: e.info().to_owned(),
        })?;
        builder.event(event, &span)?;
    }
    Ok(builder.docs)
}

enum Frame {
    Seq { items: Vec<Node>, pos: Pos, anchor: usize },
    Map { entries: Vec<(Node, Node)>, key: Option<Node>, pos: Pos, anchor: usize },
}

struct Builder {
    anchors: Vec<(usize, Node)>,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), YamlError> {
        let pos = Pos::of(span);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain, pos };
                self.remember(anchor, &node);
                self.add(node, pos)?;
            }
            Event::Alias(anchor) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(id, _)| *id == anchor)
                    .map(|(_, n)| n.clone())
                    .ok_or_else(|| YamlError { pos, message: "alias to an unknown anchor".into() })?;
                self.nodes += count(&node);
                self.add(node, pos)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Seq { items: Vec::new(), pos, anchor });
            }
            Event::MappingStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Map { entries: Vec::new(), key: None, pos, anchor });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq { items, pos, anchor }) => {
                        let node = Node::Seq { items, pos };
                        self.remember(anchor, &node);
                        node
                    }
                    Some(Frame::Map { entries, pos, anchor, .. }) => {
                        let node = Node::Map { entries, pos };
                        self.remember(anchor, &node);
                        node
                    }
                    None => return Err(YamlError { pos, message: "unbalanced collection end".into() }),
                };
                self.add(node, pos)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError { pos, message: format!("nesting deeper than {MAX_DEPTH} levels") });
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
    }

    fn add(&mut self, node: Node, pos: Pos) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(YamlError { pos, message: format!("document expands to more than {MAX_NODES} nodes") });
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Some(name) = k.as_str()
                        && entries.iter().any(|(e, _)| e.as_str() == Some(name))
                    {
                        return Err(YamlError { pos: k.pos(), message: format!("duplicate key `{name}`") });
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

fn count(node: &Node) -> usize {
    match node {
        Node::Scalar { .. } => 1,
        Node::Seq { items, .. } => 1 + items.iter().map(count).sum::<usize>(),
        Node::Map { entries, .. } => 1 + entries.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
    }
}

/// YAML documents as JSON values, for files beside rules (rule tests):
/// plain scalars that read as numbers, booleans or null become those,
/// quoted ones stay text.
pub fn to_json(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let docs =
        parse_documents(text).map_err(|e| format!("{}:{}: invalid YAML: {}", e.pos.line, e.pos.col, e.message))?;
    Ok(docs.iter().map(node_json).collect())
}

fn node_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Scalar { text, plain: false, .. } => Value::String(text.clone()),
        Node::Scalar { .. } if node.is_null() => Value::Null,
        Node::Scalar { text, .. } => match text.as_str() {
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            t => t
                .parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| t.parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::from))
                .unwrap_or_else(|| Value::String(t.to_owned())),
        },
        Node::Seq { items, .. } => Value::Array(items.iter().map(node_json).collect()),
        Node::Map { entries, .. } => Value::Object(
            entries.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), node_json(v))).collect(),
        ),
    }
}
