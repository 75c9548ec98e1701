//! Windows log-source routing: channel and EventID to Sigma log-source views,
//! read from `data/windows-logsources.txt`.

use std::collections::HashMap;
use std::sync::Arc;

use model::{LogSource, SourceView};

/// A routing table problem: the data file's line number and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

struct Category {
    event_ids: Vec<i64>,
    condition: Option<(String, String)>,
    view: Arc<SourceView>,
}

/// Routes Windows events to Sigma log sources.
pub struct WindowsRouting {
    /// Lowercased channel → its service view and the category rules.
    channels: HashMap<String, (Arc<SourceView>, Vec<Category>)>,
    /// For channels the table does not know: `product: windows` only.
    unknown: Arc<SourceView>,
}

impl WindowsRouting {
    /// The table shipped with Hinomi.
    pub fn builtin() -> &'static WindowsRouting {
        static TABLE: std::sync::OnceLock<WindowsRouting> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            // The built-in file is tested to parse; a broken build would fail
            // that test, so an empty table here is never reached in practice.
            WindowsRouting::parse(include_str!("../data/windows-logsources.txt")).unwrap_or_else(|_| WindowsRouting {
                channels: HashMap::new(),
                unknown: Arc::new(windows_view(None, None, Vec::new())),
            })
        })
    }

    /// Parses a table in the format of `data/windows-logsources.txt`.
    pub fn parse(text: &str) -> Result<WindowsRouting, TableError> {
        let mut services: HashMap<String, Vec<String>> = HashMap::new();
        let mut channels: HashMap<String, (Arc<SourceView>, Vec<Category>)> = HashMap::new();
        let mut pending = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('|').map(str::trim).collect();
            let err = |message: String| TableError { line: line_no, message };
            match cols.as_slice() {
                ["service", service, channel] => {
                    services.entry(service.to_string()).or_default().push(channel.to_string());
                    let view = Arc::new(windows_view(None, Some(service), Vec::new()));
                    channels.entry(channel.to_lowercase()).or_insert_with(|| (view, Vec::new()));
                }
                ["category", category, service, ids, rest @ ..] => {
                    if rest.len() > 2 {
                        return Err(err("too many columns".into()));
                    }
                    let event_ids = ids
                        .split(',')
                        .map(|s| s.trim().parse::<i64>().map_err(|_| err(format!("`{s}` is not an event id"))))
                        .collect::<Result<Vec<_>, _>>()?;
                    let condition = match rest.first().filter(|c| !c.is_empty()) {
                        None => None,
                        Some(c) => {
                            let (f, v) = c.split_once('=').ok_or_else(|| err(format!("`{c}` is not Field=Value")))?;
                            Some((f.trim().to_owned(), v.trim().to_owned()))
                        }
                    };
                    let mut aliases = Vec::new();
                    for pair in rest.get(1).map(|s| s.split_whitespace()).into_iter().flatten() {
                        let (r, e) =
                            pair.split_once('=').ok_or_else(|| err(format!("`{pair}` is not RuleField=EventField")))?;
                        aliases.push((Box::from(r), Box::from(e)));
                    }
                    let view = Arc::new(windows_view(Some(category), Some(service), aliases));
                    pending.push((line_no, service.to_string(), Category { event_ids, condition, view }));
                }
                _ => return Err(err(format!("cannot read `{line}`"))),
            }
        }
        for (line, service, category) in pending {
            let chans = services
                .get(&service)
                .ok_or_else(|| TableError { line, message: format!("service `{service}` has no channel") })?;
            for chan in chans {
                if let Some((_, cats)) = channels.get_mut(&chan.to_lowercase()) {
                    cats.push(Category {
                        event_ids: category.event_ids.clone(),
                        condition: category.condition.clone(),
                        view: category.view.clone(),
                    });
                }
            }
        }
        Ok(WindowsRouting { channels, unknown: Arc::new(windows_view(None, None, Vec::new())) })
    }

    /// The views of an event from `channel` with `event_id`; `field` looks up
    /// other fields for conditional categories.
    pub fn views<'a>(
        &self,
        channel: Option<&str>,
        event_id: Option<i64>,
        field: impl Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
    ) -> Vec<Arc<SourceView>> {
        let Some((service, cats)) = channel.and_then(|c| self.channels.get(&c.to_lowercase())) else {
            return vec![self.unknown.clone()];
        };
        let mut out = vec![service.clone()];
        if let Some(id) = event_id {
            for cat in cats {
                if !cat.event_ids.contains(&id) {
                    continue;
                }
                if let Some((f, v)) = &cat.condition
                    && !field(f).is_some_and(|have| have.eq_ignore_ascii_case(v))
                {
                    continue;
                }
                if !out.iter().any(|o| Arc::ptr_eq(o, &cat.view)) {
                    out.push(cat.view.clone());
                }
            }
        }
        out
    }

    /// Every view the table can give, for listing and for warming caches.
    pub fn all_views(&self) -> Vec<Arc<SourceView>> {
        let mut out = vec![self.unknown.clone()];
        for (service, cats) in self.channels.values() {
            out.push(service.clone());
            out.extend(cats.iter().map(|c| c.view.clone()));
        }
        out
    }
}

fn windows_view(category: Option<&str>, service: Option<&str>, aliases: Vec<(Box<str>, Box<str>)>) -> SourceView {
    SourceView { logsource: LogSource::new(Some("windows"), category, service), aliases }
}
