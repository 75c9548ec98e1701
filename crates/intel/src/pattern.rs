//! STIX 2.1 patterns, as far as matching one event needs them.
//!
//! A pattern is read into alternatives, each a set of observables that one
//! event must all carry (disjunctive normal form): `[a = 'x' OR b = 'y']`
//! is two alternatives, `[a = 'x' AND b = 'y']` one of two observables.
//! Supported: `=`, `IN (...)` and `ISSUBSET` (a network) on the object
//! paths of the kinds Hinomi observes (`ipv4-addr:value`, `domain-name:value`,
//! `url:value`, `email-addr:value`, `file:hashes.'SHA-256'`, ...), `AND` and
//! `OR` inside and between observation expressions, and parentheses.
//! Observation expressions joined by `AND` are matched in one event (the
//! specification allows them to be seen apart, which needs a window; none
//! is kept). Everything else (`NOT`, `!=`, `LIKE`, `MATCHES`, ordering
//! operators, `FOLLOWEDBY`, `WITHIN`, `REPEATS`, `START`/`STOP`, other
//! paths) is an error naming its column: an indicator Hinomi cannot match as
//! written is reported, never matched as something narrower or wider.
//!
//! Input is bounded: [`MAX_PATTERN`] bytes, [`MAX_DEPTH`] nested parentheses,
//! [`MAX_ALTERNATIVES`] alternatives after expansion.

use std::fmt;

use crate::{Kind, Observable};

pub const MAX_PATTERN: usize = 64 << 10;
pub const MAX_DEPTH: usize = 32;
pub const MAX_ALTERNATIVES: usize = 256;
/// Observables one alternative may require together.
pub const MAX_ALL_OF: usize = 16;

/// Alternatives, each a set of observables one event must all carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    any: Vec<Vec<Observable>>,
}

impl Pattern {
    pub fn single(observable: Observable) -> Pattern {
        Pattern { any: vec![vec![observable]] }
    }

    /// Each observable an alternative of its own (MISP's `domain|ip`).
    pub fn any_of(observables: Vec<Observable>) -> Pattern {
        Pattern { any: observables.into_iter().map(|o| vec![o]).collect() }
    }

    pub fn alternatives(&self) -> &[Vec<Observable>] {
        &self.any
    }

    /// Every observable the pattern names, once.
    pub fn observables(&self) -> Vec<&Observable> {
        let mut all: Vec<&Observable> = self.any.iter().flatten().collect();
        all.sort();
        all.dedup();
        all
    }

    /// The pattern in STIX syntax: alternatives joined by `OR`, each one
    /// observation expression.
    pub fn to_stix(&self) -> String {
        let mut out = String::new();
        for (i, all) in self.any.iter().enumerate() {
            if i > 0 {
                out.push_str(" OR ");
            }
            out.push('[');
            for (j, o) in all.iter().enumerate() {
                if j > 0 {
                    out.push_str(" AND ");
                }
                out.push_str(stix_path(o));
                out.push_str(if o.kind == Kind::Ip && o.value.contains('/') { " ISSUBSET '" } else { " = '" });
                for c in o.value.chars() {
                    if c == '\'' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('\'');
            }
            out.push(']');
        }
        out
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_stix())
    }
}

fn stix_path(o: &Observable) -> &'static str {
    match o.kind {
        Kind::Ip if o.value.contains(':') => "ipv6-addr:value",
        Kind::Ip => "ipv4-addr:value",
        Kind::Domain => "domain-name:value",
        Kind::Url => "url:value",
        Kind::Md5 => "file:hashes.MD5",
        Kind::Sha1 => "file:hashes.'SHA-1'",
        Kind::Sha256 => "file:hashes.'SHA-256'",
        Kind::Email => "email-addr:value",
        Kind::Ja3 => "x-ja3:value",
        Kind::Ja4 => "x-ja4:value",
    }
}

/// Why a pattern was not read, and where (1-based byte column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for PatternError {}

/// Reads a STIX 2.1 pattern.
pub fn parse(text: &str) -> Result<Pattern, PatternError> {
    if text.len() > MAX_PATTERN {
        return Err(PatternError { column: 1, message: format!("pattern longer than {MAX_PATTERN} bytes") });
    }
    let mut p = Parser { text, at: 0, depth: 0 };
    let any = p.observations()?;
    p.space();
    if p.at < text.len() {
        return Err(p.error(format!("unexpected {}", p.what())));
    }
    Ok(Pattern { any })
}

type Dnf = Vec<Vec<Observable>>;

struct Parser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: String) -> PatternError {
        PatternError { column: self.at + 1, message }
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn space(&mut self) {
        let skipped = self.rest().len() - self.rest().trim_start().len();
        self.at += skipped;
    }

    /// What is next, for an error.
    fn what(&self) -> String {
        match self.rest().chars().next() {
            None => "end of pattern".into(),
            Some(_) => {
                let word: String = self.rest().chars().take(16).take_while(|c| !c.is_whitespace()).collect();
                format!("{word:?}")
            }
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.space();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// The next word (letters, digits, `-`, `_`), not consumed.
    fn peek_word(&mut self) -> &str {
        self.space();
        let rest = self.rest();
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
        &rest[..end]
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_word() == keyword {
            self.at += keyword.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("parentheses nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    /// observations := and-group (OR and-group)*
    fn observations(&mut self) -> Result<Dnf, PatternError> {
        let mut any = self.observation_and()?;
        while self.eat_keyword("OR") {
            let more = self.observation_and()?;
            any = or(self, any, more)?;
        }
        Ok(any)
    }

    fn observation_and(&mut self) -> Result<Dnf, PatternError> {
        let mut all = self.observation()?;
        loop {
            if self.peek_word() == "FOLLOWEDBY" {
                return Err(self.error("FOLLOWEDBY is not supported (no sequence of events is kept)".into()));
            }
            if !self.eat_keyword("AND") {
                return Ok(all);
            }
            let more = self.observation()?;
            all = and(self, all, more)?;
        }
    }

    /// `[ comparisons ]` or `( observations )`, without qualifiers.
    fn observation(&mut self) -> Result<Dnf, PatternError> {
        let dnf = if self.eat("[") {
            let dnf = self.comparisons()?;
            if !self.eat("]") {
                return Err(self.error(format!("expected \"]\", found {}", self.what())));
            }
            dnf
        } else if self.eat("(") {
            self.enter()?;
            let dnf = self.observations()?;
            if !self.eat(")") {
                return Err(self.error(format!("expected \")\", found {}", self.what())));
            }
            self.depth -= 1;
            dnf
        } else {
            return Err(self.error(format!("expected \"[\" or \"(\", found {}", self.what())));
        };
        let word = self.peek_word().to_string();
        if matches!(word.as_str(), "WITHIN" | "REPEATS" | "START" | "STOP") {
            return Err(self.error(format!("the qualifier {word} is not supported (one event is matched at a time)")));
        }
        Ok(dnf)
    }

    fn comparisons(&mut self) -> Result<Dnf, PatternError> {
        let mut any = self.comparison_and()?;
        while self.eat_keyword("OR") {
            let more = self.comparison_and()?;
            any = or(self, any, more)?;
        }
        Ok(any)
    }

    fn comparison_and(&mut self) -> Result<Dnf, PatternError> {
        let mut all = self.comparison()?;
        while self.eat_keyword("AND") {
            let more = self.comparison()?;
            all = and(self, all, more)?;
        }
        Ok(all)
    }

    fn comparison(&mut self) -> Result<Dnf, PatternError> {
        if self.eat("(") {
            self.enter()?;
            let dnf = self.comparisons()?;
            if !self.eat(")") {
                return Err(self.error(format!("expected \")\", found {}", self.what())));
            }
            self.depth -= 1;
            return Ok(dnf);
        }
        self.space();
        let path_at = self.at;
        let kind = self.path()?;
        if self.eat_keyword("NOT") {
            return Err(self.error("NOT is not supported (an indicator names what is there)".into()));
        }
        self.space();
        let op_at = self.at;
        let op = if self.eat("=") {
            "="
        } else if self.eat_keyword("IN") {
            "IN"
        } else if self.eat_keyword("ISSUBSET") {
            "ISSUBSET"
        } else {
            let word = self.peek_word();
            let op = if word.is_empty() { self.rest().chars().take(2).collect::<String>() } else { word.to_string() };
            return Err(self.error(format!("the operator {op:?} is not supported (=, IN and ISSUBSET are)")));
        };
        if op == "ISSUBSET" && kind != Kind::Ip {
            self.at = op_at;
            return Err(self.error("ISSUBSET is only supported on addresses".into()));
        }
        let values = if op == "IN" {
            if !self.eat("(") {
                return Err(self.error(format!("expected \"(\" after IN, found {}", self.what())));
            }
            let mut values = vec![self.string()?];
            while self.eat(",") {
                values.push(self.string()?);
            }
            if !self.eat(")") {
                return Err(self.error(format!("expected \",\" or \")\", found {}", self.what())));
            }
            values
        } else {
            vec![self.string()?]
        };
        let mut any = Vec::with_capacity(values.len());
        for (at, value) in values {
            let observable =
                Observable::new(kind, &value).map_err(|message| PatternError { column: at + 1, message })?;
            if op == "=" && kind == Kind::Ip && observable.value.contains('/') {
                return Err(PatternError {
                    column: path_at + 1,
                    message: "a network is compared with ISSUBSET, not =".into(),
                });
            }
            any.push(vec![observable]);
        }
        if any.len() > MAX_ALTERNATIVES {
            return Err(PatternError { column: path_at + 1, message: format!("more than {MAX_ALTERNATIVES} values") });
        }
        Ok(any)
    }

    /// `object-type:property(.property | [index])*`, as a kind.
    fn path(&mut self) -> Result<Kind, PatternError> {
        let at = self.at;
        let object = self.peek_word().to_string();
        if object.is_empty() {
            return Err(self.error(format!("expected an object path, found {}", self.what())));
        }
        self.at += object.len();
        if !self.rest().starts_with(':') {
            return Err(self.error(format!("expected \":\" after {object:?}")));
        }
        self.at += 1;
        let mut parts: Vec<String> = Vec::new();
        loop {
            let rest = self.rest();
            if let Some(quoted) = rest.strip_prefix('\'') {
                let end = quoted.find('\'').ok_or_else(|| self.error("unterminated quoted property name".into()))?;
                parts.push(quoted[..end].to_string());
                self.at += end + 2;
            } else if rest.starts_with('[') {
                let end = rest.find(']').ok_or_else(|| self.error("unterminated list index".into()))?;
                self.at += end + 1;
            } else {
                let end =
                    rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(rest.len());
                if end == 0 {
                    return Err(self.error(format!("expected a property name, found {}", self.what())));
                }
                parts.push(rest[..end].to_string());
                self.at += end;
            }
            if self.rest().starts_with('.') {
                self.at += 1;
            } else if !self.rest().starts_with('[') {
                break;
            }
        }
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        kind_of(&object, &parts).ok_or_else(|| PatternError {
            column: at + 1,
            message: format!("the object path {:?} is not supported", &self.text[at..self.at]),
        })
    }

    /// A quoted string with `\'` and `\\` escapes, and where it starts.
    fn string(&mut self) -> Result<(usize, String), PatternError> {
        self.space();
        let at = self.at;
        let rest = self.rest();
        let Some(body) = rest.strip_prefix('\'') else {
            return Err(self.error(format!("expected a quoted string, found {}", self.what())));
        };
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.at += 1 + i + 1;
                    return Ok((at, out));
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => out.push(e),
                    _ => {
                        self.at += 1 + i;
                        return Err(self.error("only \\' and \\\\ may follow a backslash".into()));
                    }
                },
                c => out.push(c),
            }
        }
        Err(self.error("unterminated string".into()))
    }
}

fn or(p: &Parser<'_>, mut a: Dnf, b: Dnf) -> Result<Dnf, PatternError> {
    a.extend(b);
    if a.len() > MAX_ALTERNATIVES {
        return Err(p.error(format!("more than {MAX_ALTERNATIVES} alternatives")));
    }
    Ok(a)
}

fn and(p: &Parser<'_>, a: Dnf, b: Dnf) -> Result<Dnf, PatternError> {
    if a.len().saturating_mul(b.len()) > MAX_ALTERNATIVES {
        return Err(p.error(format!("more than {MAX_ALTERNATIVES} alternatives once expanded")));
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in &a {
        for y in &b {
            let mut all = x.clone();
            for o in y {
                if !all.contains(o) {
                    all.push(o.clone());
                }
            }
            if all.len() > MAX_ALL_OF {
                return Err(p.error(format!("more than {MAX_ALL_OF} observables required together")));
            }
            all.sort();
            out.push(all);
        }
    }
    Ok(out)
}

/// The kind an object path compares, if Hinomi observes it.
fn kind_of(object: &str, parts: &[&str]) -> Option<Kind> {
    let last = *parts.last()?;
    match (object, parts) {
        ("ipv4-addr" | "ipv6-addr", ["value"]) => Some(Kind::Ip),
        ("domain-name", ["value"]) => Some(Kind::Domain),
        ("url", ["value"]) => Some(Kind::Url),
        ("email-addr", ["value"]) => Some(Kind::Email),
        ("email-message", [r, "value"]) if r.ends_with("_ref") || r.ends_with("_refs") => Some(Kind::Email),
        ("network-traffic", ["src_ref" | "dst_ref", "value"]) => Some(Kind::Ip),
        ("file" | "artifact", ["hashes", _]) => match last.to_ascii_uppercase().as_str() {
            "MD5" => Some(Kind::Md5),
            "SHA-1" | "SHA1" => Some(Kind::Sha1),
            "SHA-256" | "SHA256" => Some(Kind::Sha256),
            _ => None,
        },
        ("x-ja3", ["value"]) => Some(Kind::Ja3),
        ("x-ja4", ["value"]) => Some(Kind::Ja4),
        _ => None,
    }
}
