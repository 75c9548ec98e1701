//! The query parser: a hand-written recursive descent over the text, so
//! every error can name the column where it went wrong.

use std::fmt;

use ipnet::IpNet;
use regex::Regex;

use crate::ast::*;
use crate::tokens::{is_single_token, lowercase};

/// Where and why a query did not parse. `column` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// The query with a caret under the column, for terminals.
    pub fn show(&self, query: &str) -> String {
        format!("{query}\n{}^ {}", " ".repeat(self.column.saturating_sub(1)), self.message)
    }
}

/// Longest query accepted; longer input is refused before parsing.
pub const MAX_QUERY: usize = 64 * 1024;
/// Deepest nesting of parentheses and `NOT`, so a hostile query cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parses a query: a filter, then pipes.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    if text.len() > MAX_QUERY {
        return Err(ParseError { column: 1, message: format!("the query is longer than {MAX_QUERY} bytes") });
    }
    let mut p = Parser { s: text, i: 0, depth: 0 };
    p.skip_ws();
    let filter = if p.at_end() || p.peek() == Some('|') { Filter::All } else { p.or()? };
    p.skip_ws();
    let mut pipes = Vec::new();
    while p.eat('|') {
        pipes.push(p.pipe()?);
        p.skip_ws();
    }
    if !p.at_end() {
        if p.peek() == Some(')') {
            return Err(p.error("a `)` without its `(`"));
        }
        return Err(p.error(format!("unexpected {}", p.describe_here())));
    }
    Ok(Query { filter, pipes })
}

struct Parser<'a> {
    s: &'a str,
    /// Byte offset of the next character.
    i: usize,
    depth: usize,
}

/// Characters that end an unquoted value.
fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '|' | '"')
}

/// Characters of a field name in the filter.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '$' | '/')
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.s[self.i..].chars().nth(1)
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn column_at(&self, at: usize) -> usize {
        self.s.char_indices().take_while(|(i, _)| *i < at).count() + 1
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.i, message)
    }

    fn error_at(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError { column: self.column_at(at), message: message.into() }
    }

    fn describe_here(&self) -> String {
        match self.peek() {
            None => "end of the query".into(),
            Some(c) => format!("`{c}`"),
        }
    }

    /// Whether the upcoming text is the keyword `kw` (exact case) followed
    /// by a space, a parenthesis, a quote or the end.
    fn at_keyword(&self, kw: &str) -> bool {
        let rest = &self.s[self.i..];
        rest.starts_with(kw)
            && rest[kw.len()..].chars().next().is_none_or(|c| c.is_whitespace() || c == '(' || c == '"')
    }

    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        if self.at_keyword(kw) {
            self.i += kw.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("the query nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    // ---- filter ----

    fn or(&mut self) -> Result<Filter, ParseError> {
        let mut items = vec![self.and()?];
        while self.keyword("OR") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Filter::Or(items) })
    }

    fn and(&mut self) -> Result<Filter, ParseError> {
        let mut items = vec![self.unary()?];
        loop {
            self.skip_ws();
            if self.at_end() || matches!(self.peek(), Some(')' | '|')) || self.at_keyword("OR") {
                break;
            }
            self.keyword("AND");
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Filter::And(items) })
    }

    fn unary(&mut self) -> Result<Filter, ParseError> {
        self.skip_ws();
        let start = self.i;
        if self.keyword("NOT") || (self.peek() == Some('-') && self.peek2().is_some_and(|c| !c.is_whitespace())) {
            if self.s[start..].starts_with('-') {
                self.bump();
            }
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.peek() {
            None => Err(self.error("expected a search term at the end of the query")),
            Some('(') => {
                self.bump();
                self.enter()?;
                self.skip_ws();
                if self.peek() == Some(')') {
                    return Err(self.error("empty parentheses"));
                }
                let inner = self.or()?;
                self.depth -= 1;
                self.skip_ws();
                if !self.eat(')') {
                    return Err(
                        self.error(format!("expected `)` to close the `(` at column {}", self.column_at(start)))
                    );
                }
                Ok(inner)
            }
            Some(')') => Err(self.error("a `)` without its `(`")),
            Some('|') => Err(self.error("expected a search term before `|`")),
            Some('"') => {
                let text = self.quoted()?;
                if text.is_empty() {
                    return Err(self.error_at(start, "empty phrase"));
                }
                Ok(Filter::Phrase(lowercase(&text)))
            }
            Some(_) => self.term(),
        }
    }

    /// A field test (`name:value`, `name>value`) or a bare word.
    fn term(&mut self) -> Result<Filter, ParseError> {
        let start = self.i;
        while self.peek().is_some_and(is_name_char) {
            self.bump();
        }
        let name = &self.s[start..self.i];
        // A field name starts with a letter, `@`, `_` or `$`: `10.0.0.1:443`
        // is text. A one-letter name before `:\` is a drive (`C:\Windows`).
        let drive = name.len() == 1 && self.s[self.i..].starts_with(":\\");
        if name.starts_with(|c: char| c.is_alphabetic() || matches!(c, '@' | '_' | '$')) && !drive {
            match self.peek() {
                Some(':') => {
                    self.bump();
                    return self.field_value(name.to_string(), start);
                }
                Some('<' | '>') => return self.comparison(name.to_string()),
                _ => {}
            }
        }
        self.i = start;
        let word = self.value_word()?;
        if word.text == "*" {
            return Ok(Filter::All);
        }
        let lower = lowercase(&word.text);
        if is_single_token(&lower) {
            return Ok(Filter::Word(self.pattern(&word, start)?));
        }
        if word.wild.iter().any(|&w| w) {
            return Err(self.error_at(
                start,
                "wildcards work in words of letters, digits and . _ - @; for other text use a field test (field:val*) or a quoted phrase",
            ));
        }
        Ok(Filter::Phrase(lower))
    }

    fn field_value(&mut self, field: String, field_start: usize) -> Result<Filter, ParseError> {
        let start = self.i;
        match self.peek() {
            None => Err(self.error(format!("expected a value after `{field}:`"))),
            Some(c) if c.is_whitespace() => Err(self.error(format!(
                "expected a value right after `{field}:` (no space); quote values that contain spaces"
            ))),
            Some('"') => {
                let text = self.quoted()?;
                Ok(Filter::Field { field, test: Test::Is(Pattern::literal(&text)) })
            }
            Some(open @ ('[' | '{')) => {
                self.bump();
                self.skip_ws();
                let lo = self.bound_value(open == '[')?;
                self.skip_ws();
                if !self.keyword("TO") {
                    return Err(self.error(format!("expected `TO` in the range of `{field}`")));
                }
                self.skip_ws();
                let hi_start = self.i;
                let hi_text = self.range_word()?;
                self.skip_ws();
                let inclusive = match self.bump() {
                    Some(']') => true,
                    Some('}') => false,
                    _ => return Err(self.error_at(self.i.saturating_sub(1), "expected `]` or `}` to close the range")),
                };
                let hi = self.bound_from(&hi_text, inclusive, hi_start)?;
                if matches!((&lo, &hi), (Bound::Open, Bound::Open)) {
                    return Ok(Filter::Field { field, test: Test::Exists });
                }
                Ok(Filter::Field { field, test: Test::Range { lo, hi } })
            }
            Some('(') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    let at = self.i;
                    let test = if self.peek() == Some('"') {
                        Test::Is(Pattern::literal(&self.quoted()?))
                    } else {
                        let word = self.value_word()?;
                        if word.text.is_empty() {
                            return Err(self.error(format!("expected a value in the list of `{field}`")));
                        }
                        self.value_test(&word, at)?
                    };
                    items.push(Filter::Field { field: field.clone(), test });
                    self.skip_ws();
                    if self.eat(')') {
                        break;
                    }
                    if !self.keyword("OR") {
                        return Err(self.error(format!(
                            "expected `OR` or `)` in the list of `{field}` opened at column {}",
                            self.column_at(field_start)
                        )));
                    }
                }
                Ok(if items.len() == 1 { items.remove(0) } else { Filter::Or(items) })
            }
            Some(_) => {
                let word = self.value_word()?;
                if word.text.is_empty() {
                    return Err(self.error_at(start, format!("expected a value after `{field}:`")));
                }
                let test = self.value_test(&word, start)?;
                Ok(Filter::Field { field, test })
            }
        }
    }

    fn value_test(&self, word: &Word, at: usize) -> Result<Test, ParseError> {
        if word.text == "*" && word.wild == [true] {
            return Ok(Test::Exists);
        }
        if word.text.contains('/')
            && !word.wild.iter().any(|&w| w)
            && let Ok(net) = word.text.parse::<IpNet>()
        {
            return Ok(Test::Cidr(net.trunc()));
        }
        Ok(Test::Is(self.pattern(word, at)?))
    }

    fn comparison(&mut self, field: String) -> Result<Filter, ParseError> {
        let greater = self.bump() == Some('>');
        let equal = self.eat('=');
        let start = self.i;
        let text = if self.peek() == Some('"') { self.quoted()? } else { self.value_word()?.text };
        if text.is_empty() {
            return Err(self.error_at(start, format!("expected a value to compare `{field}` with")));
        }
        let value = scalar(&text);
        let bound = if equal { Bound::Inclusive(value) } else { Bound::Exclusive(value) };
        let test = if greater {
            Test::Range { lo: bound, hi: Bound::Open }
        } else {
            Test::Range { lo: Bound::Open, hi: bound }
        };
        Ok(Filter::Field { field, test })
    }

    fn bound_value(&mut self, inclusive: bool) -> Result<Bound, ParseError> {
        let start = self.i;
        let text = self.range_word()?;
        self.bound_from(&text, inclusive, start)
    }

    fn bound_from(&self, text: &str, inclusive: bool, at: usize) -> Result<Bound, ParseError> {
        if text.is_empty() {
            return Err(self.error_at(at, "expected a range bound (a value or *)"));
        }
        if text == "*" {
            return Ok(Bound::Open);
        }
        let value = scalar(text);
        Ok(if inclusive { Bound::Inclusive(value) } else { Bound::Exclusive(value) })
    }

    /// A range bound: quoted, or up to a space or a closing bracket.
    fn range_word(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let start = self.i;
        while self.peek().is_some_and(|c| !c.is_whitespace() && c != ']' && c != '}') {
            self.bump();
        }
        Ok(self.s[start..self.i].to_string())
    }

    /// `"..."` with `\"` and `\\` as escapes; the opening quote is next.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error_at(start, "this quote is never closed")),
                Some('"') => return Ok(out),
                Some('\\') if matches!(self.peek(), Some('"' | '\\')) => out.extend(self.bump()),
                Some(c) => out.push(c),
            }
        }
    }

    /// An unquoted value up to a space, parenthesis, pipe or quote. A
    /// backslash makes the next `* ? ( ) | "` or space literal; any other
    /// backslash is itself (Windows paths need no doubling).
    fn value_word(&mut self) -> Result<Word, ParseError> {
        let mut word = Word::default();
        while let Some(c) = self.peek() {
            if ends_value(c) {
                break;
            }
            self.bump();
            if c == '\\'
                && let Some(next) = self.peek()
                && (matches!(next, '*' | '?' | '(' | ')' | '|' | '"') || next.is_whitespace())
            {
                self.bump();
                word.push(next, false);
                continue;
            }
            word.push(c, c == '*' || c == '?');
        }
        Ok(word)
    }

    fn pattern(&self, word: &Word, at: usize) -> Result<Pattern, ParseError> {
        if !word.wild.iter().any(|&w| w) {
            return Ok(Pattern::literal(&word.text));
        }
        let mut re = String::from("(?s)^");
        let mut text = String::new();
        for (c, &wild) in word.text.chars().zip(&word.wild) {
            let lower = lowercase(&c.to_string());
            match (c, wild) {
                ('*', true) => re.push_str(".*"),
                ('?', true) => re.push('.'),
                _ => re.push_str(&regex::escape(&lower)),
            }
            if wild || (c != '*' && c != '?') {
                text.push_str(&lower);
            } else {
                text.push('\\');
                text.push(c);
            }
        }
        re.push('$');
        let glob = Regex::new(&re).map_err(|e| self.error_at(at, format!("pattern too complex: {e}")))?;
        Ok(Pattern { text, glob: Some(glob) })
    }

    // ---- pipes ----

    fn pipe(&mut self) -> Result<Pipe, ParseError> {
        self.skip_ws();
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.bump();
        }
        let command = self.s[start..self.i].to_ascii_lowercase();
        self.skip_ws();
        match command.as_str() {
            "where" => Ok(Pipe::Where(self.expr_or()?)),
            "stats" => {
                let aggs = self.aggs()?;
                if aggs.is_empty() {
                    return Err(self.error("`stats` needs at least one aggregation, e.g. count()"));
                }
                let by = if self.pipe_keyword("by") { self.names("`by`")? } else { Vec::new() };
                Ok(Pipe::Stats { aggs, by })
            }
            "sort" => {
                let mut keys = Vec::new();
                loop {
                    self.skip_ws();
                    let descending = self.eat('-');
                    if !descending {
                        self.eat('+');
                    }
                    let field = self.name()?;
                    if field.is_empty() {
                        return Err(self.error("expected a column to sort by"));
                    }
                    keys.push(SortKey { field, descending });
                    if !self.list_continues() {
                        break;
                    }
                }
                Ok(Pipe::Sort(keys))
            }
            "head" => {
                let at = self.i;
                let digits: String =
                    std::iter::from_fn(|| self.peek().filter(char::is_ascii_digit).and_then(|_| self.bump())).collect();
                if digits.is_empty() {
                    self.skip_ws();
                    if !self.at_end() && self.peek() != Some('|') {
                        return Err(self.error("`head` takes a count of rows"));
                    }
                    return Ok(Pipe::Head(10));
                }
                digits.parse().map(Pipe::Head).map_err(|_| self.error_at(at, "`head` takes a count"))
            }
            "fields" => Ok(Pipe::Fields(self.names("`fields`")?)),
            "timechart" => {
                let mut span = 3600;
                if self.s[self.i..].starts_with("span=") {
                    self.i += "span=".len();
                    let at = self.i;
                    let word = self.name()?;
                    span = duration(&word)
                        .filter(|s| *s > 0)
                        .ok_or_else(|| self.error_at(at, "expected a span such as 30s, 5m, 1h or 1d"))?;
                }
                let mut aggs = self.aggs()?;
                if aggs.is_empty() {
                    aggs.push(Agg { func: AggFn::Count, field: None, name: "count()".into() });
                }
                let by = if self.pipe_keyword("by") {
                    let at = self.i;
                    let mut names = self.names("`by`")?;
                    if names.len() > 1 {
                        return Err(self.error_at(at, "`timechart` splits by one column"));
                    }
                    names.pop()
                } else {
                    None
                };
                Ok(Pipe::Timechart { span, aggs, by })
            }
            "" => Err(self.error("expected a command after `|`: where, stats, sort, head, fields or timechart")),
            other => Err(self.error_at(
                start,
                format!("unknown command `{other}`; expected where, stats, sort, head, fields or timechart"),
            )),
        }
    }

    fn pipe_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let matches = self.at_pipe_keyword(kw);
        if matches {
            self.i += kw.len();
            self.skip_ws();
        }
        matches
    }

    /// After an item of a list: a comma, or a space before another name.
    fn list_continues(&mut self) -> bool {
        self.skip_ws();
        if self.eat(',') {
            return true;
        }
        !self.at_end() && self.peek() != Some('|') && !self.at_pipe_keyword("by")
    }

    fn at_pipe_keyword(&self, kw: &str) -> bool {
        let rest = &self.s[self.i..];
        rest.get(..kw.len()).is_some_and(|head| head.eq_ignore_ascii_case(kw))
            && rest[kw.len()..].chars().next().is_none_or(char::is_whitespace)
    }

    fn names(&mut self, after: &str) -> Result<Vec<String>, ParseError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let name = self.name()?;
            if name.is_empty() {
                return Err(self.error(format!("expected a column name after {after}")));
            }
            out.push(name);
            if !self.list_continues() {
                return Ok(out);
            }
        }
    }

    /// A column name in a pipe: `user.name`, or an aggregate's own name
    /// such as `count()` or `dc(user.name)`.
    fn name(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && !matches!(c, ',' | '|' | '(' | ')' | '=' | '<' | '>' | '!' | '"'))
        {
            self.bump();
        }
        if self.i > start && self.peek() == Some('(') {
            let open = self.i;
            while let Some(c) = self.bump() {
                if c == ')' {
                    return Ok(self.s[start..self.i].to_string());
                }
            }
            return Err(self.error_at(open, "this `(` is never closed"));
        }
        Ok(self.s[start..self.i].to_string())
    }

    fn aggs(&mut self) -> Result<Vec<Agg>, ParseError> {
        let mut aggs = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some('|') || self.at_pipe_keyword("by") {
                return Ok(aggs);
            }
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
                self.bump();
            }
            let func = match self.s[start..self.i].to_ascii_lowercase().as_str() {
                "count" => AggFn::Count,
                "dc" | "distinct_count" => AggFn::Dc,
                "min" => AggFn::Min,
                "max" => AggFn::Max,
                "avg" => AggFn::Avg,
                "sum" => AggFn::Sum,
                other => {
                    return Err(self.error_at(
                        start,
                        format!("unknown aggregation `{other}`; expected count, dc, min, max, avg or sum"),
                    ));
                }
            };
            if !self.eat('(') {
                return Err(self.error(format!("expected `(` after `{}`", func.name())));
            }
            self.skip_ws();
            let field = self.name()?;
            self.skip_ws();
            if !self.eat(')') {
                return Err(self.error(format!("expected `)` to close `{}(`", func.name())));
            }
            if field.is_empty() && func != AggFn::Count {
                return Err(
                    self.error_at(start, format!("`{}` needs a column, e.g. {}(user.name)", func.name(), func.name()))
                );
            }
            let field = (!field.is_empty()).then_some(field);
            let mut name = self.s[start..self.i].split_whitespace().collect::<String>();
            if self.pipe_keyword("as") {
                name = self.name()?;
                if name.is_empty() {
                    return Err(self.error("expected a name after `as`"));
                }
            }
            aggs.push(Agg { func, field, name });
            self.skip_ws();
            self.eat(',');
        }
    }

    fn expr_or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.expr_and()?;
        while self.pipe_keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.expr_and()?));
        }
        Ok(left)
    }

    fn expr_and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.expr_not()?;
        while self.pipe_keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.expr_not()?));
        }
        Ok(left)
    }

    fn expr_not(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.pipe_keyword("not") {
            self.enter()?;
            let inner = self.expr_not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.eat('(') {
            let open = self.i - 1;
            self.enter()?;
            let inner = self.expr_or()?;
            self.depth -= 1;
            self.skip_ws();
            if !self.eat(')') {
                return Err(self.error(format!("expected `)` to close the `(` at column {}", self.column_at(open))));
            }
            return Ok(inner);
        }
        let field = self.name()?;
        if field.is_empty() {
            return Err(self.error(format!("expected a column name in `where`, found {}", self.describe_here())));
        }
        self.skip_ws();
        let op_at = self.i;
        let op = match (self.bump(), self.peek()) {
            (Some('='), Some('=')) => {
                self.bump();
                CmpOp::Eq
            }
            (Some('='), _) => CmpOp::Eq,
            (Some('!'), Some('=')) => {
                self.bump();
                CmpOp::Ne
            }
            (Some('<'), Some('=')) => {
                self.bump();
                CmpOp::Le
            }
            (Some('<'), _) => CmpOp::Lt,
            (Some('>'), Some('=')) => {
                self.bump();
                CmpOp::Ge
            }
            (Some('>'), _) => CmpOp::Gt,
            _ => return Err(self.error_at(op_at, format!("expected = != < <= > or >= after `{field}`"))),
        };
        self.skip_ws();
        let at = self.i;
        let text = if self.peek() == Some('"') {
            self.quoted()?
        } else {
            let w = self.value_word()?;
            w.text
        };
        if text.is_empty() {
            return Err(self.error_at(at, format!("expected a value after `{field} {}`", op.as_str())));
        }
        Ok(Expr::Compare { field, op, value: scalar(&text) })
    }
}

/// An unquoted value and which of its characters are wildcards.
#[derive(Default)]
struct Word {
    text: String,
    wild: Vec<bool>,
}

impl Word {
    fn push(&mut self, c: char, wild: bool) {
        self.text.push(c);
        self.wild.push(wild);
    }
}

impl Pattern {
    pub fn literal(text: &str) -> Pattern {
        Pattern { text: lowercase(text), glob: None }
    }
}

/// Reads a comparison value: a number, a time (RFC 3339, a date, or
/// `now`/`-24h`-style offsets from now), or else text.
pub(crate) fn scalar(text: &str) -> Scalar {
    if text.eq_ignore_ascii_case("now") {
        return Scalar::Relative(0);
    }
    if let Some(sign @ ('-' | '+')) = text.chars().next()
        && let Some(secs) = duration(&text[1..])
    {
        return Scalar::Relative(if sign == '-' { -secs } else { secs });
    }
    if let Some(n) = model::parse_number(text).filter(|n| n.is_finite()) {
        return Scalar::Number(n);
    }
    if let Some(t) = parse_time(text) {
        return Scalar::Time(t);
    }
    Scalar::Text(lowercase(text))
}

/// `30s`, `5m`, `1h`, `2d`, `1w` in seconds.
pub(crate) fn duration(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 7 * 86400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A time bound as analysts write it: RFC 3339, a date, `now`, or an
/// offset from `now` such as `-24h` (the query language's own forms).
pub fn time_arg(text: &str, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    match parse(&format!("@timestamp>={text}")).ok()?.filter {
        Filter::Field { test: Test::Range { lo: Bound::Inclusive(s), .. }, .. } => match s {
            Scalar::Time(t) => Some(t),
            Scalar::Relative(secs) => now.checked_add(jiff::SignedDuration::from_secs(secs)).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// RFC 3339, or a civil date/time taken as UTC (`2026-11-01`,
/// `2026-11-01 10:00`, `2026-11-01T10:00:00`).
pub fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    if !text.starts_with(|c: char| c.is_ascii_digit()) || !text.contains('-') {
        return None;
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return dt.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return d.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    None
}
