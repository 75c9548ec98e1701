//! Sigma values and modifiers: from the YAML text of a detection item to the
//! leaves a matcher tests (`Leaf`).
//!
//! The spec's escaping rules live in [`SigmaStr::parse`]; the modifier chain
//! is applied left to right in [`compile_values`].

use std::collections::HashMap;

use ipnet::IpNet;
use regex::{Regex, RegexBuilder};

use crate::matcher::{Cmp, Leaf, StrPat, TimePart};

/// One piece of a Sigma string: literal text or a wildcard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Lit(String),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A plain Sigma value after escape processing.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SigmaStr {
    pub(crate) pieces: Vec<Piece>,
}

impl SigmaStr {
    /// Applies the spec's escaping: a backslash escapes only `*`, `?` and
    /// another backslash; before anything else (or at the end) it is a
    /// literal backslash. So `C:\Windows` is literal, `\*` is a literal star
    /// and `\\*` is a backslash followed by a wildcard.
    pub(crate) fn parse(text: &str) -> SigmaStr {
        let mut s = SigmaStr::default();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        chars.next();
                        s.push_char(next);
                    }
                    _ => s.push_char('\\'),
                },
                '*' => s.pieces.push(Piece::Star),
                '?' => s.pieces.push(Piece::One),
                other => s.push_char(other),
            }
        }
        s
    }

    pub(crate) fn literal(text: &str) -> SigmaStr {
        let mut s = SigmaStr::default();
        if !text.is_empty() {
            s.pieces.push(Piece::Lit(text.to_owned()));
        }
        s
    }

    fn push_char(&mut self, c: char) {
        match self.pieces.last_mut() {
            Some(Piece::Lit(l)) => l.push(c),
            _ => self.pieces.push(Piece::Lit(c.to_string())),
        }
    }

    /// The text of a wildcard-free value.
    fn plain_text(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(l) => out.push_str(l),
                _ => return None,
            }
        }
        Some(out)
    }

    fn starts_with_star(&self) -> bool {
        matches!(self.pieces.first(), Some(Piece::Star))
    }

    fn ends_with_star(&self) -> bool {
        matches!(self.pieces.last(), Some(Piece::Star))
    }

    fn wrap(mut self, before: bool, after: bool) -> SigmaStr {
        if before && !self.starts_with_star() {
            self.pieces.insert(0, Piece::Star);
        }
        if after && !self.ends_with_star() {
            self.pieces.push(Piece::Star);
        }
        self
    }
}

/// Sigma value modifiers (`field|mod1|mod2`), as the spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Windash,
    Re,
    ReI,
    ReM,
    ReS,
    Cidr,
    Exists,
    FieldRef,
    Lt,
    Lte,
    Gt,
    Gte,
    Neq,
    Expand,
    Cased,
    Time(TimePart),
}

impl Modifier {
    pub(crate) fn parse(name: &str) -> Option<Modifier> {
        use Modifier::*;
        Some(match name {
            "contains" => Contains,
            "startswith" => StartsWith,
            "endswith" => EndsWith,
            "all" => All,
            "base64" => Base64,
            "base64offset" => Base64Offset,
            "wide" | "utf16le" => Utf16Le,
            "utf16be" => Utf16Be,
            "utf16" => Utf16,
            "windash" => Windash,
            "re" => Re,
            "i" | "ignorecase" => ReI,
            "m" | "multiline" => ReM,
            "s" | "dotall" => ReS,
            "cidr" => Cidr,
            "exists" => Exists,
            "fieldref" => FieldRef,
            "lt" => Lt,
            "lte" => Lte,
            "gt" => Gt,
            "gte" => Gte,
            "neq" => Neq,
            "expand" => Expand,
            "cased" => Cased,
            "minute" => Time(TimePart::Minute),
            "hour" => Time(TimePart::Hour),
            "day" => Time(TimePart::Day),
            "week" => Time(TimePart::Week),
            "month" => Time(TimePart::Month),
            "year" => Time(TimePart::Year),
            _ => return None,
        })
    }

    fn cmp(self) -> Option<Cmp> {
        Some(match self {
            Modifier::Lt => Cmp::Lt,
            Modifier::Lte => Cmp::Lte,
            Modifier::Gt => Cmp::Gt,
            Modifier::Gte => Cmp::Gte,
            _ => return None,
        })
    }
}

/// A rule value as YAML gave it: its raw text, and whether it was a plain
/// (unquoted) scalar, which decides whether it may be a number, boolean or null.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawValue {
    pub(crate) text: String,
    pub(crate) plain: bool,
}

impl RawValue {
    fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }

    fn as_bool(&self) -> Option<bool> {
        if !self.plain {
            return None;
        }
        match self.text.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<f64> {
        if !self.plain {
            return None;
        }
        model::parse_number(&self.text)
    }
}

/// How a detection item's values are tested, after modifiers.
#[derive(Debug)]
pub(crate) enum Values {
    /// OR of groups; with `all`, AND of groups. Each group is an OR of leaves
    /// (one value can expand into several, e.g. under `windash`).
    Groups { groups: Vec<Vec<Leaf>>, all: bool },
    /// `exists`: the field is present (true) or absent (false).
    Exists(bool),
}

/// Rule-set options that affect compilation.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Values for `%placeholder%` names under the `expand` modifier. A rule
    /// that uses a placeholder with no values here is rejected.
    pub placeholders: HashMap<String, Vec<String>>,
    /// Which rules events of unknown log source are tried against.
    pub unknown_source: UnknownSource,
}

/// The rules an event of unknown log source (JSON that names no channel or
/// product) is tried against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownSource {
    /// The rules that name no product (`category: proxy`, ...): a product's
    /// rule reads that product's fields, and its `not` conditions match
    /// whatever lacks them.
    #[default]
    Generic,
    /// Every rule, as the Sigma tools that ignore log sources do: for hunts
    /// over exports that lost their channel or product.
    Every,
}

/// Compiled values of one detection item, with the item-level flags.
#[derive(Debug)]
pub(crate) struct CompiledValues {
    pub(crate) values: Values,
    pub(crate) negate: bool,
    /// Set by `fieldref`: the name of the other field.
    pub(crate) fieldrefs: Vec<String>,
}

/// Applies `mods` to `raw` values. `keyword` is true for field-less items,
/// which search every value of the event and so behave as `contains`.
pub(crate) fn compile_values(
    mods: &[Modifier],
    raw: &[RawValue],
    keyword: bool,
    options: &CompileOptions,
) -> Result<CompiledValues, String> {
    use Modifier::*;
    let has = |m: Modifier| mods.contains(&m);
    let all = has(All);
    let negate = has(Neq);
    let cased = has(Cased);

    if has(Exists) {
        if mods.len() != 1 {
            return Err("`exists` must be the only modifier".into());
        }
        if keyword {
            return Err("`exists` needs a field name".into());
        }
        let [value] = raw else {
            return Err("`exists` takes exactly one boolean value".into());
        };
        let b = value.as_bool().ok_or_else(|| format!("`exists` takes true or false, not `{}`", value.text))?;
        return Ok(CompiledValues { values: Values::Exists(b), negate: false, fieldrefs: Vec::new() });
    }

    let mut fieldrefs = Vec::new();
    let groups: Vec<Vec<Leaf>> = if has(Re) {
        if mods.first() != Some(&Re) {
            return Err("`re` must be the first modifier".into());
        }
        for m in &mods[1..] {
            if !matches!(m, ReI | ReM | ReS | All | Neq) {
                return Err(format!("modifier `{}` cannot follow `re`", name(*m)));
            }
        }
        raw.iter()
            .map(|v| {
                if v.is_null() {
                    return Err("`re` needs a pattern, not null".to_owned());
                }
                compile_regex(&v.text, has(ReI), has(ReM), has(ReS)).map(|r| vec![Leaf::Regex(r)])
            })
            .collect::<Result<_, _>>()?
    } else if let Some(m) = mods.iter().find(|m| matches!(m, ReI | ReM | ReS)) {
        return Err(format!("`{}` is a flag of `re` and needs it first", name(*m)));
    } else if has(Cidr) {
        if mods.first() != Some(&Cidr) {
            return Err("`cidr` must be the first modifier".into());
        }
        if let Some(m) = mods[1..].iter().find(|m| !matches!(m, All | Neq)) {
            return Err(format!("modifier `{}` cannot follow `cidr`", name(*m)));
        }
        raw.iter()
            .map(|v| {
                let net: IpNet = v
                    .text
                    .trim()
                    .parse()
                    .or_else(|_| v.text.trim().parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{}` is not an IP network in CIDR notation", v.text))?;
                Ok(vec![Leaf::Cidr(net.trunc())])
            })
            .collect::<Result<_, String>>()?
    } else if has(FieldRef) {
        if keyword {
            return Err("`fieldref` needs a field name".into());
        }
        if mods.first() != Some(&FieldRef) {
            return Err("`fieldref` must be the first modifier".into());
        }
        let (mut before, mut after) = (false, false);
        for m in &mods[1..] {
            match m {
                Contains => (before, after) = (true, true),
                StartsWith => after = true,
                EndsWith => before = true,
                All | Neq | Cased => {}
                other => return Err(format!("modifier `{}` cannot follow `fieldref`", name(*other))),
            }
        }
        raw.iter()
            .map(|v| {
                if v.is_null() || v.text.is_empty() {
                    return Err("`fieldref` needs a field name".to_owned());
                }
                fieldrefs.push(v.text.clone());
                Ok(vec![Leaf::FieldRef { slot: fieldrefs.len() - 1, before, after, cased }])
            })
            .collect::<Result<_, String>>()?
    } else if let Some(part) = mods.iter().find_map(|m| if let Time(p) = m { Some(*p) } else { None }) {
        if keyword {
            return Err("time-part modifiers need a field name".into());
        }
        let mut cmp = Cmp::Eq;
        for m in mods {
            match m {
                Time(p) if *p == part => {}
                All | Neq => {}
                m if m.cmp().is_some() => cmp = m.cmp().unwrap_or(Cmp::Eq),
                other => return Err(format!("modifier `{}` cannot be combined with `{}`", name(*other), part.name())),
            }
        }
        raw.iter()
            .map(|v| {
                let n = v.as_number().ok_or_else(|| format!("`{}` needs a number, not `{}`", part.name(), v.text))?;
                Ok(vec![Leaf::Time { part, cmp, value: n }])
            })
            .collect::<Result<_, String>>()?
    } else if let Some(cmp) = mods.iter().find_map(|m| m.cmp()) {
        if keyword {
            return Err("numeric comparisons need a field name".into());
        }
        if let Some(m) = mods.iter().find(|m| m.cmp().is_none() && !matches!(m, All | Neq)) {
            return Err(format!("modifier `{}` cannot be combined with a numeric comparison", name(*m)));
        }
        if mods.iter().filter(|m| m.cmp().is_some()).count() > 1 {
            return Err("only one numeric comparison per detection item".into());
        }
        raw.iter()
            .map(|v| {
                let n = v.as_number().ok_or_else(|| format!("numeric comparison needs a number, not `{}`", v.text))?;
                Ok(vec![Leaf::Num { cmp, value: n }])
            })
            .collect::<Result<_, String>>()?
    } else {
        string_groups(mods, raw, keyword, cased, options)?
    };

    if groups.is_empty() {
        return Err("detection item has no values".into());
    }
    Ok(CompiledValues { values: Values::Groups { groups, all }, negate, fieldrefs })
}

/// The most values one detection item may expand into (`windash` gives 5^n
/// variants for n dashes; placeholders multiply).
const MAX_EXPANSION: usize = 4096;

/// The string pipeline: expand, encodings, windash, then the position
/// modifiers, applied in the order written.
fn string_groups(
    mods: &[Modifier],
    raw: &[RawValue],
    keyword: bool,
    cased: bool,
    options: &CompileOptions,
) -> Result<Vec<Vec<Leaf>>, String> {
    use Modifier::*;
    let mut groups = Vec::with_capacity(raw.len());
    for value in raw {
        if value.is_null() {
            groups.push(vec![Leaf::Null]);
            continue;
        }
        let texts = if mods.contains(&Expand) { expand(&value.text, options)? } else { vec![value.text.clone()] };
        let mut vals: Vec<Val> = texts.iter().map(|t| Val::Str(SigmaStr::parse(t))).collect();
        for m in mods {
            vals = match m {
                Contains | StartsWith | EndsWith => {
                    let (before, after) = match m {
                        Contains => (true, true),
                        StartsWith => (false, true),
                        _ => (true, false),
                    };
                    vals.into_iter()
                        .map(|v| v.into_str().map(|s| Val::Str(s.wrap(before, after))))
                        .collect::<Result<_, _>>()?
                }
                Utf16Le | Utf16Be | Utf16 => vals.into_iter().map(|v| v.encode_utf16(*m)).collect::<Result<_, _>>()?,
                Base64 => vals
                    .into_iter()
                    .map(|v| v.bytes("base64").map(|b| Val::Str(SigmaStr::literal(&base64(&b)))))
                    .collect::<Result<_, _>>()?,
                Base64Offset => {
                    let mut out = Vec::new();
                    for v in vals {
                        for variant in base64_offsets(&v.bytes("base64offset")?) {
                            out.push(Val::Str(SigmaStr::literal(&variant)));
                        }
                    }
                    out
                }
                Windash => {
                    let mut out = Vec::new();
                    for v in vals {
                        out.extend(windash(&v.into_str()?)?.into_iter().map(Val::Str));
                    }
                    out
                }
                All | Neq | Cased | Expand => vals,
                other => return Err(format!("modifier `{}` cannot be used on strings here", name(*other))),
            };
            if vals.len() > MAX_EXPANSION {
                return Err(format!("value expands to more than {MAX_EXPANSION} variants"));
            }
        }
        let mut leaves = Vec::with_capacity(vals.len());
        for v in vals {
            let mut s = v.into_str()?;
            if keyword {
                s = s.wrap(true, true);
            }
            leaves.push(Leaf::Str { pat: StrPat::new(&s, cased), cased });
        }
        groups.push(leaves);
    }
    Ok(groups)
}

/// A value in the middle of the modifier chain: text, or bytes after a
/// UTF-16 encoding.
enum Val {
    Str(SigmaStr),
    Bytes(Vec<u8>),
}

impl Val {
    fn into_str(self) -> Result<SigmaStr, String> {
        match self {
            Val::Str(s) => Ok(s),
            Val::Bytes(b) => String::from_utf8(b).map(|s| SigmaStr::literal(&s)).map_err(|_| {
                "UTF-16 output is not text; follow the encoding with `base64` or `base64offset`".to_owned()
            }),
        }
    }

    fn bytes(self, what: &str) -> Result<Vec<u8>, String> {
        match self {
            Val::Bytes(b) => Ok(b),
            Val::Str(s) => s
                .plain_text()
                .map(String::into_bytes)
                .ok_or_else(|| format!("`{what}` cannot encode a value with wildcards")),
        }
    }

    fn encode_utf16(self, m: Modifier) -> Result<Val, String> {
        let Val::Str(s) = self else {
            return Err("value is already encoded".into());
        };
        let text = s.plain_text().ok_or("UTF-16 modifiers cannot encode a value with wildcards")?;
        let mut out = Vec::with_capacity(text.len() * 2 + 2);
        if m == Modifier::Utf16 {
            out.extend_from_slice(&[0xFF, 0xFE]);
        }
        for unit in text.encode_utf16() {
            let b = if m == Modifier::Utf16Be { unit.to_be_bytes() } else { unit.to_le_bytes() };
            out.extend_from_slice(&b);
        }
        Ok(Val::Bytes(out))
    }
}

fn name(m: Modifier) -> &'static str {
    use Modifier::*;
    match m {
        Contains => "contains",
        StartsWith => "startswith",
        EndsWith => "endswith",
        All => "all",
        Base64 => "base64",
        Base64Offset => "base64offset",
        Utf16Le => "utf16le",
        Utf16Be => "utf16be",
        Utf16 => "utf16",
        Windash => "windash",
        Re => "re",
        ReI => "i",
        ReM => "m",
        ReS => "s",
        Cidr => "cidr",
        Exists => "exists",
        FieldRef => "fieldref",
        Lt => "lt",
        Lte => "lte",
        Gt => "gt",
        Gte => "gte",
        Neq => "neq",
        Expand => "expand",
        Cased => "cased",
        Time(p) => p.name(),
    }
}

/// The regex crate guarantees linear-time matching; these limits bound the
/// memory a hostile pattern can take at compile time.
pub(crate) fn compile_regex(pattern: &str, i: bool, m: bool, s: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(i)
        .multi_line(m)
        .dot_matches_new_line(s)
        .size_limit(4 << 20)
        .dfa_size_limit(4 << 20)
        .nest_limit(64)
        .build()
        .map_err(|e| format!("invalid regular expression: {}", one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces `%name%` placeholders with every configured value, one output
/// per combination. `\%` is a literal percent sign; `\\` is kept for the
/// wildcard parser, which reads it as one backslash.
fn expand(text: &str, options: &CompileOptions) -> Result<Vec<String>, String> {
    let mut outputs = vec![String::new()];
    let push = |outputs: &mut Vec<String>, s: &str| outputs.iter_mut().for_each(|o| o.push_str(s));
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&(_, '%')) => {
                    chars.next();
                    push(&mut outputs, "%");
                }
                Some(&(_, '\\')) => {
                    chars.next();
                    push(&mut outputs, "\\\\");
                }
                _ => push(&mut outputs, "\\"),
            },
            '%' => {
                let rest = &text[i + 1..];
                let name = rest
                    .find('%')
                    .map(|end| &rest[..end])
                    .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace));
                let Some(name) = name else {
                    push(&mut outputs, "%");
                    continue;
                };
                let values = options
                    .placeholders
                    .get(name)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("placeholder `%{name}%` has no configured values"))?;
                if outputs.len() * values.len() > MAX_EXPANSION {
                    return Err(format!("placeholder expansion gives more than {MAX_EXPANSION} values"));
                }
                outputs = outputs.iter().flat_map(|o| values.iter().map(move |v| format!("{o}{v}"))).collect();
                for _ in 0..=name.chars().count() {
                    chars.next();
                }
            }
            other => outputs.iter_mut().for_each(|o| o.push(other)),
        }
    }
    Ok(outputs)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three base64 forms of `bytes` at byte offsets 0, 1 and 2 inside a
/// longer encoded text, cut to the characters that do not depend on the
/// neighbouring bytes.
pub(crate) fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    let mut out = Vec::with_capacity(3);
    for (shift, start) in START.into_iter().enumerate() {
        let mut padded = vec![b' '; shift];
        padded.extend_from_slice(bytes);
        // Trimmed on the padded text: the partial last group and its `=`
        // depend on whatever bytes follow the value.
        let encoded = base64(&padded);
        let k = (bytes.len() + shift) % 3;
        let end = encoded.len().saturating_sub(END_TRIM[k]);
        if start < end {
            out.push(encoded[start..end].to_owned());
        }
    }
    out.dedup();
    out
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
/// More dash positions than this would make 5^n values.
const MAX_WINDASH_POSITIONS: usize = 5;

/// Windows accepts several characters where tools document a `-`: every `-`
/// or `/` that starts a word (preceded by start or a non-word character,
/// followed by a word character) becomes each of `-`, `/`, `–`, `—`, `―`.
fn windash(s: &SigmaStr) -> Result<Vec<SigmaStr>, String> {
    // Flatten into items so that neighbours across pieces are visible.
    enum Item {
        C(char),
        W(Piece),
    }
    let mut items = Vec::new();
    for p in &s.pieces {
        match p {
            Piece::Lit(l) => items.extend(l.chars().map(Item::C)),
            other => items.push(Item::W(other.clone())),
        }
    }
    let is_word = |i: Option<&Item>| matches!(i, Some(Item::C(c)) if c.is_alphanumeric() || *c == '_');
    let positions: Vec<usize> = (0..items.len())
        .filter(|&i| {
            matches!(items[i], Item::C('-' | '/')) && !(i > 0 && is_word(items.get(i - 1))) && is_word(items.get(i + 1))
        })
        .collect();
    if positions.len() > MAX_WINDASH_POSITIONS {
        return Err(format!("`windash` value has more than {MAX_WINDASH_POSITIONS} dashes to vary"));
    }
    let mut out = Vec::new();
    let combos = DASHES.len().pow(positions.len() as u32);
    for mut combo in 0..combos {
        let mut variant = SigmaStr::default();
        for (i, item) in items.iter().enumerate() {
            match item {
                Item::C(c) => {
                    if positions.contains(&i) {
                        variant.push_char(DASHES[combo % DASHES.len()]);
                        combo /= DASHES.len();
                    } else {
                        variant.push_char(*c);
                    }
                }
                Item::W(p) => variant.pieces.push(p.clone()),
            }
        }
        out.push(variant);
    }
    Ok(out)
}
