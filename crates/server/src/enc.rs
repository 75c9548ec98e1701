//! Text made safe for where it goes: URL query values, and log data on a
//! page (the templates escape it; [`Shown`] also makes visible what an
//! attacker can use to make text read other than it is).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Log data as a page shows it: escaped by the template, and with every
/// character that is invisible or reorders text (bidi controls, zero-width
/// characters, other control characters) written out as `⟨U+202E⟩`, so
/// `\u{202e}exe.gnp` does not read as `png.exe` and `ad\u{200b}min` is
/// not `admin`.
pub(crate) struct Shown<'a>(pub(crate) &'a str);

/// Characters a page writes out instead of rendering.
fn hidden(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
        || (c.is_control() && c != '\n' && c != '\t')
}

impl maud::Render for Shown<'_> {
    fn render_to(&self, out: &mut String) {
        use std::fmt::Write;
        let mut rest = self.0;
        while let Some(at) = rest.find(hidden) {
            let _ = maud::Escaper::new(out).write_str(&rest[..at]);
            let c = rest[at..].chars().next().unwrap_or(' ');
            let _ = write!(out, "⟨U+{:04X}⟩", u32::from(c));
            rest = &rest[at + c.len_utf8()..];
        }
        let _ = maud::Escaper::new(out).write_str(rest);
    }
}

/// Everything but the unreserved characters of RFC 3986.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a value for a URL query.
pub(crate) fn query_value(text: &str) -> String {
    utf8_percent_encode(text, QUERY).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_written_out() {
        use maud::Render;
        assert_eq!(Shown("\u{202e}exe.gnp").render().into_string(), "⟨U+202E⟩exe.gnp");
        assert_eq!(Shown("ad\u{200b}min <b>\u{0}").render().into_string(), "ad⟨U+200B⟩min &lt;b&gt;⟨U+0000⟩");
        assert_eq!(Shown("line\ttab\nnext 日本").render().into_string(), "line\ttab\nnext 日本");
    }

    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(query_value("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
        assert_eq!(query_value("_id:1.2"), "_id%3A1.2");
    }
}
