//! `application/x-www-form-urlencoded` bodies, as browsers post forms:
//! fields in order with repeats kept (a checkbox list sends one name many
//! times). Broken escapes stay as written; bytes that are not UTF-8
//! become U+FFFD. Takes untrusted input and is fuzzed.

/// Form fields (`application/x-www-form-urlencoded`), in order, repeats kept.
pub fn fields(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `+` as space and `%XX` escapes; a broken escape stays as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly (`from_str_radix` would take a sign).
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of a form field.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = fields(b"a=1&b=hello+world&c=%E3%81%82&d=%zz&alert=1&alert=2&e");
        assert_eq!(field(&f, "b"), Some("hello world"));
        assert_eq!(field(&f, "c"), Some("あ"));
        assert_eq!(field(&f, "d"), Some("%zz"));
        assert_eq!(f.iter().filter(|(k, _)| k == "alert").count(), 2);
        assert_eq!(field(&f, "e"), Some(""));
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%+1"), "% 1", "a sign is not a hex digit");
    }
}
