//! The Sigma condition grammar, parsed into [`Expr`] over a rule's search
//! identifiers.
//!
//! ```text
//! or_expr  := and_expr ("or" and_expr)*
//! and_expr := not_expr ("and" not_expr)*
//! not_expr := "not" not_expr | primary
//! primary  := "(" or_expr ")" | ("1" | "any" | "all") "of" (PATTERN | "them") | IDENT
//! ```
//!
//! Operators are lowercase. `them` and patterns skip identifiers that start
//! with `_` (unless the pattern itself does). A pattern that names no
//! identifier is an error, as is the obsolete `| count()` pipe syntax.

use crate::matcher::Expr;

/// A condition error with the character offset it refers to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CondError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LParen,
    RParen,
    Word(&'a str),
}

const PIPE: &str = "the `|` aggregation syntax is obsolete; write a Sigma correlation rule instead";

fn tokenize(text: &str) -> Result<Vec<(usize, Tok<'_>)>, CondError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            b'|' => return Err(CondError { offset: i, message: PIPE.into() }),
            c if is_word_byte(c) => {
                let start = i;
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                out.push((start, Tok::Word(&text[start..i])));
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(CondError { offset: i, message: format!("unexpected character `{ch}` in condition") });
            }
        }
    }
    Ok(out)
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'*' | b'.')
}

/// Parses `text` against the rule's identifiers (in declaration order).
pub(crate) fn parse(text: &str, identifiers: &[String]) -> Result<Expr, CondError> {
    let toks = tokenize(text)?;
    let mut p = CondParser { toks, pos: 0, ids: identifiers, len: text.len(), depth: 0 };
    if p.toks.is_empty() {
        return Err(CondError { offset: 0, message: "condition is empty".into() });
    }
    let e = p.or_expr()?;
    if let Some((off, tok)) = p.toks.get(p.pos) {
        let message = match tok {
            Tok::RParen => "unbalanced `)`".to_owned(),
            Tok::Word(w @ ("AND" | "OR" | "NOT")) => format!("operators are lowercase: write `{}`", w.to_lowercase()),
            Tok::Word(w) => format!("expected `and` or `or` before `{w}`"),
            Tok::LParen => "expected `and` or `or` before `(`".to_owned(),
        };
        return Err(CondError { offset: *off, message });
    }
    Ok(e)
}

struct CondParser<'a, 'i> {
    toks: Vec<(usize, Tok<'a>)>,
    pos: usize,
    ids: &'i [String],
    len: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 64;

impl CondParser<'_, '_> {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some((_, Tok::Word(w))) => Some(w),
            _ => None,
        }
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(o, _)| *o)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, CondError> {
        Err(CondError { offset: self.offset(), message: message.into() })
    }

    fn or_expr(&mut self) -> Result<Expr, CondError> {
        let mut items = vec![self.and_expr()?];
        while self.peek_word() == Some("or") {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and_expr(&mut self) -> Result<Expr, CondError> {
        let mut items = vec![self.not_expr()?];
        while self.peek_word() == Some("and") {
            self.pos += 1;
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn not_expr(&mut self) -> Result<Expr, CondError> {
        if self.peek_word() == Some("not") {
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return self.err("condition nests too deeply");
            }
            let inner = self.not_expr()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, CondError> {
        let Some((offset, tok)) = self.toks.get(self.pos).cloned() else {
            return self.err("condition ends where an identifier or `(` was expected");
        };
        match tok {
            Tok::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return self.err("condition nests too deeply");
                }
                self.pos += 1;
                let inner = self.or_expr()?;
                match self.toks.get(self.pos) {
                    Some((_, Tok::RParen)) => self.pos += 1,
                    _ => return Err(CondError { offset, message: "unclosed `(`".into() }),
                }
                self.depth -= 1;
                Ok(inner)
            }
            Tok::RParen => self.err("unexpected `)`"),
            Tok::Word(w) => {
                if matches!(w, "and" | "or") {
                    return self.err(format!("`{w}` needs an expression before it"));
                }
                if matches!(w, "AND" | "OR" | "NOT") {
                    return self.err(format!("operators are lowercase: write `{}`", w.to_lowercase()));
                }
                let next_is_of = matches!(self.toks.get(self.pos + 1), Some((_, Tok::Word("of"))));
                if next_is_of {
                    let all = match w {
                        "1" | "any" => false,
                        "all" => true,
                        _ => return self.err(format!("`{w} of` is not a quantifier; use `1 of` or `all of`")),
                    };
                    self.pos += 2;
                    let target_off = self.offset();
                    let Some(target) = self.peek_word().map(str::to_owned) else {
                        return self.err("`of` needs a pattern or `them`");
                    };
                    self.pos += 1;
                    let dets = self.resolve(&target, target_off)?;
                    let dets: Vec<Expr> = dets.into_iter().map(Expr::Det).collect();
                    return Ok(if dets.len() == 1 {
                        dets.into_iter().next().unwrap_or(Expr::Or(Vec::new()))
                    } else if all {
                        Expr::And(dets)
                    } else {
                        Expr::Or(dets)
                    });
                }
                if w.contains('*') {
                    return self.err(format!("pattern `{w}` needs `1 of` or `all of` before it"));
                }
                self.pos += 1;
                match self.ids.iter().position(|id| id == w) {
                    Some(i) => Ok(Expr::Det(i as u32)),
                    None => Err(CondError { offset, message: format!("unknown search identifier `{w}`") }),
                }
            }
        }
    }

    fn resolve(&self, target: &str, offset: usize) -> Result<Vec<u32>, CondError> {
        let found: Vec<u32> = if target == "them" {
            self.ids.iter().enumerate().filter(|(_, id)| !id.starts_with('_')).map(|(i, _)| i as u32).collect()
        } else {
            let skip_private = !target.starts_with('_');
            self.ids
                .iter()
                .enumerate()
                .filter(|(_, id)| !(skip_private && id.starts_with('_')) && pattern_matches(target, id))
                .map(|(i, _)| i as u32)
                .collect()
        };
        if found.is_empty() {
            return Err(CondError { offset, message: format!("`{target}` matches no search identifier") });
        }
        Ok(found)
    }
}

/// Full match of an identifier pattern where `*` is any run of characters.
fn pattern_matches(pattern: &str, id: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == id;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !id.starts_with(first) || id.len() < first.len() + last.len() || !id.ends_with(last) {
        return false;
    }
    let mut rest = &id[first.len()..id.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}
