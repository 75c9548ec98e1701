//! Analysts' notes as Markdown, rendered through the page templates.
//!
//! pulldown-cmark parses (CommonMark, linear time); this module keeps a
//! small, closed set of elements and renders them with maud, every text
//! through [`Shown`]: paragraphs, headings (as `h4`, below the page's
//! own), emphasis, strong, strikethrough, inline code and code blocks,
//! lists, block quotes, rules, line breaks and links. Raw HTML in a note
//! is shown as the text it is; a link keeps its target only for `http`,
//! `https` and `mailto` (never `javascript:` or `data:`), and opens
//! nothing automatically; images show their description, so a note
//! cannot make the console fetch anything. Nesting deeper than
//! [`MAX_DEPTH`] is flattened, so no note can exhaust the stack.

use maud::{Markup, html};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::enc::Shown;

/// Elements nested deeper than this render their text without markup.
pub(crate) const MAX_DEPTH: usize = 24;

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Paragraph,
    Heading,
    Quote,
    CodeBlock,
    List(Option<u64>),
    Item,
    Emphasis,
    Strong,
    Strike,
    /// A link with a target a note may have.
    Link(String),
    /// Anything else (tables, images, raw HTML blocks, a link to a target
    /// not allowed): its text, no markup.
    Plain,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Element(Kind, Vec<Node>),
    Text(String),
    Code(String),
    Break,
    Rule,
}

/// A link target a note may keep.
fn allowed(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"].iter().any(|s| lower.starts_with(s))
}

fn kind(tag: Tag<'_>) -> Kind {
    match tag {
        Tag::Paragraph => Kind::Paragraph,
        Tag::Heading { .. } => Kind::Heading,
        Tag::BlockQuote(_) => Kind::Quote,
        Tag::CodeBlock(_) => Kind::CodeBlock,
        Tag::List(start) => Kind::List(start),
        Tag::Item => Kind::Item,
        Tag::Emphasis => Kind::Emphasis,
        Tag::Strong => Kind::Strong,
        Tag::Strikethrough => Kind::Strike,
        Tag::Link { dest_url, .. } if allowed(&dest_url) => Kind::Link(dest_url.to_string()),
        _ => Kind::Plain,
    }
}

/// The note's tree of kept elements.
fn parse(text: &str) -> Vec<Node> {
    let mut stack: Vec<(Kind, Vec<Node>)> = vec![(Kind::Plain, Vec::new())];
    let push = |stack: &mut Vec<(Kind, Vec<Node>)>, node: Node| {
        if let Some((_, children)) = stack.last_mut() {
            children.push(node);
        }
    };
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(tag) => {
                // Too deep: the element's text joins its parent's.
                let kind = if stack.len() > MAX_DEPTH { Kind::Plain } else { kind(tag) };
                stack.push((kind, Vec::new()));
            }
            Event::End(end) => {
                if stack.len() > 1
                    && let Some((kind, children)) = stack.pop()
                {
                    let block = matches!(end, TagEnd::Paragraph | TagEnd::HtmlBlock | TagEnd::TableRow);
                    match kind {
                        Kind::Plain => {
                            for c in children {
                                push(&mut stack, c);
                            }
                            // A flattened block still ends a line.
                            if block {
                                push(&mut stack, Node::Break);
                            }
                        }
                        kind => push(&mut stack, Node::Element(kind, children)),
                    }
                }
            }
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                push(&mut stack, Node::Text(t.into_string()))
            }
            Event::Code(t) => push(&mut stack, Node::Code(t.into_string())),
            Event::FootnoteReference(t) => push(&mut stack, Node::Text(format!("[^{t}]"))),
            Event::SoftBreak => push(&mut stack, Node::Text("\n".into())),
            Event::HardBreak => push(&mut stack, Node::Break),
            Event::Rule => push(&mut stack, Node::Rule),
            Event::TaskListMarker(done) => push(&mut stack, Node::Text(if done { "[x] " } else { "[ ] " }.into())),
        }
    }
    // Unclosed elements (none from a well-behaved parser) keep their text.
    let mut nodes = Vec::new();
    for (_, children) in stack {
        nodes.extend(children);
    }
    nodes
}

fn render(nodes: &[Node]) -> Markup {
    html! {
        @for n in nodes {
            @match n {
                Node::Text(t) => { (Shown(t)) }
                Node::Code(t) => { code { (Shown(t)) } }
                Node::Break => { br; }
                Node::Rule => { hr; }
                Node::Element(kind, children) => {
                    @let inner = render(children);
                    @match kind {
                        Kind::Paragraph => { p { (inner) } }
                        Kind::Heading => { h4 { (inner) } }
                        Kind::Quote => { blockquote { (inner) } }
                        Kind::CodeBlock => { pre { code { (inner) } } }
                        Kind::List(None) => { ul { (inner) } }
                        Kind::List(Some(start)) => { ol start=(start) { (inner) } }
                        Kind::Item => { li { (inner) } }
                        Kind::Emphasis => { em { (inner) } }
                        Kind::Strong => { strong { (inner) } }
                        Kind::Strike => { del { (inner) } }
                        Kind::Link(url) => { a href=(url) rel="noopener noreferrer nofollow" { (inner) } }
                        Kind::Plain => { (inner) }
                    }
                }
            }
        }
    }
}

/// A note as the page shows it.
pub(crate) fn note(text: &str) -> Markup {
    render(&parse(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, want: &str) {
        assert_eq!(note(text).into_string(), want, "{text:?}");
    }

    #[test]
    fn kept_elements_render() {
        check(
            "**brute force** from `203.0.113.7`",
            "<p><strong>brute force</strong> from <code>203.0.113.7</code></p>",
        );
        check("# Scope\n- ws-042\n- srv-db-01", "<h4>Scope</h4><ul><li>ws-042</li><li>srv-db-01</li></ul>");
        check("3. three\n4. four", "<ol start=\"3\"><li>three</li><li>four</li></ol>");
        check("> quoted *em* ~~old~~", "<blockquote><p>quoted <em>em</em> <del>old</del></p></blockquote>");
        check("```\nrm -rf /\n```", "<pre><code>rm -rf /\n</code></pre>");
        check("a\nb  \nc\n\n---", "<p>a\nb<br>c</p><hr>");
        check(
            "[ticket](https://tickets.example/T-1?a=1&b=2)",
            "<p><a href=\"https://tickets.example/T-1?a=1&amp;b=2\" rel=\"noopener noreferrer nofollow\">ticket</a></p>",
        );
        check("- [x] isolated\n- [ ] reset", "<ul><li>[x] isolated</li><li>[ ] reset</li></ul>");
    }

    /// Random notes built from Markdown's and HTML's special characters
    /// and words: every tag on the page is one the renderer keeps, and
    /// every link target is allowed.
    #[test]
    fn random_notes_make_only_kept_markup() {
        const PIECES: &[&str] = &[
            "<",
            ">",
            "/",
            "\"",
            "'",
            "=",
            "&",
            "*",
            "_",
            "~",
            "`",
            "```",
            "[",
            "]",
            "(",
            ")",
            "!",
            "#",
            "-",
            "1.",
            ">",
            " ",
            "\n",
            "\n\n",
            "    ",
            "\\",
            "script",
            "img",
            "a href",
            "onerror",
            "javascript:",
            "http://x",
            "data:",
            "mailto:",
            "<!--",
            "-->",
            "&lt;",
            "&#x3C;",
            "|",
            ":--",
            "[^1]",
            "\u{202e}",
            "日本",
        ];
        const TAGS: &[&str] =
            &["p", "h4", "blockquote", "pre", "code", "ul", "ol", "li", "em", "strong", "del", "a", "br", "hr"];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = next() % 40;
            let text: String = (0..len).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            let page = note(&text).into_string();
            for tag in page.split('<').skip(1) {
                let name = tag.trim_start_matches('/').split([' ', '>']).next().unwrap_or("");
                assert!(TAGS.contains(&name), "tag {name:?} from {text:?}: {page}");
                if let Some(at) = tag.find("href=\"") {
                    assert!(allowed(&tag[at + 6..]), "link in {page} from {text:?}");
                }
            }
        }
    }

    #[test]
    fn hostile_notes_stay_text() {
        // Raw HTML, inline and as a block, is the text it is.
        check("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;<br>");
        check("hi <img src=x onerror=alert(1)>", "<p>hi &lt;img src=x onerror=alert(1)&gt;</p>");
        // Links only to web and mail addresses; images show their text.
        for bad in ["javascript:alert(1)", "JavaScript:alert(1)", " data:text/html,x", "vbscript:x", "//evil.example"] {
            check(&format!("[click]({bad})"), "<p>click</p>");
        }
        check("<javascript:alert(1)>", "<p>javascript:alert(1)</p>");
        check("![pixel](https://evil.example/t.gif)", "<p>pixel</p>");
        check(
            "[a](https://x.example \"t\\\" onmouseover=\\\"x\")",
            "<p><a href=\"https://x.example\" rel=\"noopener noreferrer nofollow\">a</a></p>",
        );
        // Characters that make text read otherwise are written out.
        check("`\u{202e}fdp.exe`", "<p><code>⟨U+202E⟩fdp.exe</code></p>");
        // Deep nesting is flattened, not recursed into without end.
        let deep = ">".repeat(10_000) + " x";
        let page = note(&deep).into_string();
        assert_eq!(page.matches("<blockquote>").count(), MAX_DEPTH);
        assert!(page.contains('x'));
        let lists = "- ".repeat(5_000) + "y";
        assert!(note(&lists).into_string().matches("<ul>").count() <= MAX_DEPTH);
    }
}
