//! Every value modifier, and the value pitfalls of the spec notes.

use super::{check, check_error, check_with, rule};
use crate::CompileOptions;

/// A one-item detection `sel: {<key>: <value>}`.
fn item(key: &str, value: &str) -> String {
    format!("    sel:\n        {key}: {value}\n    condition: sel")
}

#[test]
fn plain_values_are_whole_and_case_insensitive() {
    check(&item("Image", "'C:\\Windows\\cmd.exe'"), r#"{"Image":"c:\\windows\\CMD.exe"}"#, true);
    check(&item("Image", "'C:\\Windows\\cmd.exe'"), r#"{"Image":"C:\\Windows\\cmd.exe2"}"#, false);
    check(&item("Name", "'ÄRGER'"), r#"{"Name":"ärger"}"#, true);
    check(&item("Image", "'x'"), r#"{"Other":"x"}"#, false);
}

#[test]
fn cased_is_exact() {
    check(&item("Image|cased", "'Cmd.exe'"), r#"{"Image":"Cmd.exe"}"#, true);
    check(&item("Image|cased", "'Cmd.exe'"), r#"{"Image":"cmd.exe"}"#, false);
    check(&item("Image|contains|cased", "'Md'"), r#"{"Image":"CMd.exe"}"#, true);
    check(&item("Image|contains|cased", "'Md'"), r#"{"Image":"cmd.exe"}"#, false);
}

#[test]
fn wildcards_star_and_question() {
    check(&item("Image", "'*\\cmd.exe'"), r#"{"Image":"C:\\cmd.exe"}"#, true);
    // The spec's pitfall: `\*` is an escaped, literal star.
    check(&item("Image", "'C:\\*\\cmd.exe'"), r#"{"Image":"C:*\\cmd.exe"}"#, true);
    check(&item("Image", "'C:\\*\\cmd.exe'"), r#"{"Image":"C:\\x\\cmd.exe"}"#, false);
    check(&item("Image", "'C:\\\\*\\cmd.exe'"), r#"{"Image":"C:\\Windows\\System32\\cmd.exe"}"#, true);
    check(&item("Image", "'c?d.exe'"), r#"{"Image":"cmd.exe"}"#, true);
    check(&item("Image", "'c?d.exe'"), r#"{"Image":"cd.exe"}"#, false);
    check(&item("Image", "'c?d.exe'"), r#"{"Image":"cmmd.exe"}"#, false);
    check(&item("Image", "'c?d.exe'"), r#"{"Image":"cäd.exe"}"#, true);
    check(&item("Url", "'/index.php?x=*'"), r#"{"Url":"/index.php?x=1"}"#, true);
    check(&item("Url", "'/index.php?x=*'"), r#"{"Url":"/index.phpZx=1"}"#, true);
    check(&item("a", "'*b*d*'"), r#"{"a":"abcde"}"#, true);
    check(&item("a", "'*b*d*'"), r#"{"a":"adcbe"}"#, false);
    check(&item("a", "'a*e?'"), r#"{"a":"abcdef"}"#, true);
    check(&item("a", "'a*e?'"), r#"{"a":"abcde"}"#, false);
    check(&item("a", "'*'"), r#"{"a":""}"#, true);
    check(&item("a", "'*'"), r#"{"b":"x"}"#, false);
    check(&item("a", "'??'"), r#"{"a":"ab"}"#, true);
    check(&item("a", "'??'"), r#"{"a":"abc"}"#, false);
}

#[test]
fn escaping_follows_the_spec_table() {
    // `\*` and `\?` are literal.
    check(&item("a", "'x\\*y'"), r#"{"a":"x*y"}"#, true);
    check(&item("a", "'x\\*y'"), r#"{"a":"xzzy"}"#, false);
    check(&item("a", "'x\\?y'"), r#"{"a":"x?y"}"#, true);
    check(&item("a", "'x\\?y'"), r#"{"a":"xzy"}"#, false);
    // `\\*` is a backslash then the wildcard.
    check(&item("a", "'x\\\\*'"), r#"{"a":"x\\anything"}"#, true);
    check(&item("a", "'x\\\\*'"), r#"{"a":"xanything"}"#, false);
    // `\\\*` is a literal backslash and star.
    check(&item("a", "'x\\\\\\*'"), r#"{"a":"x\\*"}"#, true);
    check(&item("a", "'x\\\\\\*'"), r#"{"a":"x\\abc"}"#, false);
    // `\\` is one backslash; `\\\` and `\\\\` are two.
    check(&item("a", "'x\\\\y'"), r#"{"a":"x\\y"}"#, true);
    check(&item("a", "'x\\\\\\y'"), r#"{"a":"x\\\\y"}"#, true);
    check(&item("a", "'x\\\\\\\\y'"), r#"{"a":"x\\\\y"}"#, true);
    // A backslash before anything else, or at the end, is literal.
    check(&item("a", "'C:\\Windows\\'"), r#"{"a":"C:\\Windows\\"}"#, true);
    // The zeek example: `\\\\\*\\IPC$` is the text `\\*\IPC$`.
    check(&item("a", "'\\\\\\\\\\*\\\\IPC$'"), r#"{"a":"\\\\*\\IPC$"}"#, true);
    check(&item("a", "'\\\\\\\\\\*\\\\IPC$'"), r#"{"a":"\\\\x\\IPC$"}"#, false);
}

#[test]
fn contains_startswith_endswith() {
    check(&item("c|contains", "'whoami'"), r#"{"c":"cmd /c WHOAMI /all"}"#, true);
    check(&item("c|contains", "'whoami'"), r#"{"c":"cmd"}"#, false);
    check(&item("c|startswith", "'cmd'"), r#"{"c":"CMD /c"}"#, true);
    check(&item("c|startswith", "'cmd'"), r#"{"c":"x cmd"}"#, false);
    check(&item("c|endswith", "'.exe'"), r#"{"c":"a.EXE"}"#, true);
    check(&item("c|endswith", "'.exe'"), r#"{"c":"a.exe "}"#, false);
    // Wildcards inside keep working, and existing edge stars are not doubled.
    check(&item("c|contains", "'a*c'"), r#"{"c":"xxabbbcxx"}"#, true);
    check(&item("c|contains", "'*a'"), r#"{"c":"bab"}"#, true);
    check(&item("c|endswith", "'a?c'"), r#"{"c":"zzabc"}"#, true);
    check(&item("c|startswith", "''"), r#"{"c":"anything"}"#, true);
}

#[test]
fn lists_or_and_all_and() {
    check(&item("c|contains", "['a1', 'b2']"), r#"{"c":"xb2x"}"#, true);
    check(&item("c|contains|all", "['a1', 'b2']"), r#"{"c":"xb2x"}"#, false);
    check(&item("c|contains|all", "['a1', 'b2']"), r#"{"c":"b2 a1"}"#, true);
    check(&item("c", "[x, y]"), r#"{"c":"y"}"#, true);
    // A map ANDs its items; a list of maps ORs them.
    let map = "    sel:\n        a: 1\n        b: 2\n    condition: sel";
    check(map, r#"{"a":1,"b":2}"#, true);
    check(map, r#"{"a":1,"b":3}"#, false);
    let list = "    sel:\n        - a: 1\n        - b: 2\n    condition: sel";
    check(list, r#"{"a":0,"b":2}"#, true);
    check(list, r#"{"a":0,"b":0}"#, false);
}

#[test]
fn null_missing_and_empty() {
    let null = item("a", "null");
    check(&null, r#"{"b":1}"#, true);
    check(&null, r#"{"a":null}"#, true);
    // Empty is a value: the normalizer makes the empty elements that mean
    // "not set" nulls (docs/sigma-semantics.md).
    check(&null, r#"{"a":""}"#, false);
    check(&null, r#"{"a":"x"}"#, false);
    let empty = item("a", "''");
    check(&empty, r#"{"a":""}"#, true);
    check(&empty, r#"{"a":null}"#, true);
    check(&empty, r#"{"b":1}"#, false);
    check(&empty, r#"{"a":"x"}"#, false);
    // An empty list is null, as pySigma reads it.
    check(&item("a", "[]"), r#"{"b":1}"#, true);
    // `not` of a null selection means "the field is set".
    check("    f:\n        a: null\n    condition: not f", r#"{"a":"x"}"#, true);
}

#[test]
fn exists() {
    check(&item("a|exists", "true"), r#"{"a":null}"#, true);
    check(&item("a|exists", "true"), r#"{"a":""}"#, true);
    check(&item("a|exists", "true"), r#"{"b":1}"#, false);
    check(&item("a|exists", "false"), r#"{"b":1}"#, true);
    check(&item("a|exists", "false"), r#"{"a":1}"#, false);
    check_error(&rule(&item("a|exists", "'yes'")), "7:9: `a`: `exists` takes true or false, not `yes`");
    check_error(&rule(&item("a|exists|contains", "true")), "7:9: `a`: `exists` must be the only modifier");
}

#[test]
fn yaml_typing_keeps_the_raw_text() {
    // YAML 1.2 reads 00000429 as the integer 429; Sigma means the text.
    check(&item("Details|contains", "00000429"), r#"{"Details":"DWORD (0x00000429)"}"#, true);
    check(&item("Details|contains", "00000429"), r#"{"Details":"429"}"#, false);
    check(&item("EventID", "4688"), r#"{"EventID":4688}"#, true);
    check(&item("EventID", "4688"), r#"{"EventID":"4688"}"#, true);
    check(&item("EventID", "'4688'"), r#"{"EventID":4688}"#, true);
    check(&item("EventID", "4688"), r#"{"EventID":46880}"#, false);
    check(&item("Signed", "true"), r#"{"Signed":"True"}"#, true);
    check(&item("Signed", "true"), r#"{"Signed":true}"#, true);
    check(&item("Signed", "true"), r#"{"Signed":"false"}"#, false);
    check(&item("v", "1.50"), r#"{"v":"1.50"}"#, true);
    check(&item("v", "0x10"), r#"{"v":"0x10"}"#, true);
}

#[test]
fn arrays_match_any_element() {
    check(&item("tags", "'b'"), r#"{"tags":["a","b"]}"#, true);
    check(&item("tags", "'c'"), r#"{"tags":["a","b"]}"#, false);
    check(&item("n|gt", "5"), r#"{"n":[1,9]}"#, true);
}

#[test]
fn dotted_and_dashed_field_names() {
    check(&item("userIdentity.arn|contains", "':root'"), r#"{"userIdentity":{"arn":"arn:aws:iam::1:root"}}"#, true);
    check(&item("cs-uri-query|contains", "'cmd='"), r#"{"cs-uri-query":"a=1&cmd=whoami"}"#, true);
}

#[test]
fn keywords_search_every_value() {
    let kw = "    keywords:\n        - 'mimikatz'\n        - 'sekurlsa'\n    condition: keywords";
    check(kw, r#"{"msg":"running MIMIKATZ now"}"#, true);
    check(kw, r#"{"a":"x","b":"y sekurlsa::logonpasswords"}"#, true);
    check(kw, r#"{"a":"nothing"}"#, false);
    let all = "    keywords:\n        '|all':\n            - 'alpha'\n            - 'beta'\n    condition: keywords";
    check(all, r#"{"a":"alpha","b":"beta"}"#, true);
    check(all, r#"{"a":"alpha"}"#, false);
    check("    kw: 'single*word'\n    condition: kw", r#"{"m":"a single big word"}"#, true);
    check("    kw:\n        '|re': 'ab+c'\n    condition: kw", r#"{"m":"xabbbc"}"#, true);
    // The prefilter probes ASCII text as it is; other text must still be
    // lowercased first: the Kelvin sign (U+212A) lowercases to ASCII `k`.
    check(kw, "{\"msg\":\"MIMI\u{212A}ATZ\"}", true);
    check("    sel:\n        f|contains: 'kelvin'\n    condition: sel", "{\"f\":\"\u{212A}ELVIN\"}", true);
    check("    sel:\n        f|contains: 'kelvin'\n    condition: sel", r#"{"f":"KeLvIn"}"#, true);
    // Keyword anchors are looked for in all values joined: in numbers and
    // array items too, never across the joint between two values, and past
    // the first few dozen fields.
    let num = "    keywords:\n        - '4625'\n    condition: keywords";
    check(num, r#"{"EventID":4625}"#, true);
    check(num, r#"{"a":"46","b":"25"}"#, false);
    check(kw, r#"{"a":["x","SEKURLSA"]}"#, true);
    check(kw, r#"{"a":"mimi","b":"katz"}"#, false);
    let many: Vec<String> = (0..80).map(|i| format!("\"f{i}\":\"C:\\\\Windows\\\\v{i}\"")).collect();
    check(kw, &format!("{{{},\"z\":\"Invoke-Mimikatz\"}}", many.join(",")), true);
    check(kw, &format!("{{{}}}", many.join(",")), false);
}

#[test]
fn re_with_flags() {
    check(&item("c|re", "'^a.c$'"), r#"{"c":"abc"}"#, true);
    check(&item("c|re", "'^a.c$'"), r#"{"c":"ABC"}"#, false);
    check(&item("c|re|i", "'^a.c$'"), r#"{"c":"ABC"}"#, true);
    check(&item("c|re", "'b.d'"), r#"{"c":"xxbcdxx"}"#, true);
    check(&item("c|re|m", "'^two$'"), r#"{"c":"one\ntwo\nthree"}"#, true);
    check(&item("c|re", "'^two$'"), r#"{"c":"one\ntwo\nthree"}"#, false);
    check(&item("c|re|s", "'one.two'"), r#"{"c":"one\ntwo"}"#, true);
    check(&item("c|re", "'one.two'"), r#"{"c":"one\ntwo"}"#, false);
    check(&item("c|re", "'(?i)WHOAMI'"), r#"{"c":"whoami"}"#, true);
    // The raw text is the pattern: no Sigma escaping or wildcards.
    check(&item("c|re", "'a\\*b'"), r#"{"c":"a*b"}"#, true);
    check_error(
        &rule(&item("c|re", "'(unclosed'")),
        "7:9: `c`: invalid regular expression: regex parse error: (unclosed ^ error: unclosed group",
    );
    check_error(&rule(&item("c|contains|re", "'x'")), "7:9: `c`: `re` must be the first modifier");
    check_error(&rule(&item("c|i", "'x'")), "7:9: `c`: `i` is a flag of `re` and needs it first");
}

#[test]
fn cidr() {
    let v4 = item("ip|cidr", "['10.0.0.0/8', '192.168.1.0/24']");
    check(&v4, r#"{"ip":"10.1.2.3"}"#, true);
    check(&v4, r#"{"ip":"192.168.1.77"}"#, true);
    check(&v4, r#"{"ip":"192.168.2.1"}"#, false);
    check(&v4, r#"{"ip":"not an ip"}"#, false);
    let v6 = item("ip|cidr", "'fe80::/10'");
    check(&v6, r#"{"ip":"fe80::1"}"#, true);
    check(&v6, r#"{"ip":"2001:db8::1"}"#, false);
    check_error(
        &rule(&item("ip|cidr", "'10.0.0.0/33'")),
        "7:9: `ip`: `10.0.0.0/33` is not an IP network in CIDR notation",
    );
}

#[test]
fn base64_and_base64offset() {
    check(&item("c|base64", "'foobar'"), r#"{"c":"Zm9vYmFy"}"#, true);
    check(&item("c|base64|contains", "'foo'"), r#"{"c":"xxZm9vxx"}"#, true);
    // pySigma's vectors for base64offset: foobar → Zm9vYmFy, Zvb2Jhc, mb29iYX.
    let off = item("c|base64offset|contains", "'foobar'");
    check(&off, r#"{"c":"powershell -e Zm9vYmFy"}"#, true);
    check(&off, r#"{"c":"-e QZvb2JhcQ"}"#, true);
    check(&off, r#"{"c":"-e QUmb29iYXI"}"#, true);
    check(&off, r#"{"c":"-e Zm9v"}"#, false);
    assert_eq!(crate::value::base64_offsets(b"foobar"), ["Zm9vYmFy", "Zvb2Jhc", "mb29iYX"]);
    assert_eq!(crate::value::base64(b"ab"), "YWI=");
    check_error(&rule(&item("c|base64", "'a*'")), "7:9: `c`: `base64` cannot encode a value with wildcards");
}

#[test]
fn utf16_encodings() {
    // "cmd" as UTF-16LE is 63 00 6d 00 64 00 → base64 YwBtAGQA.
    check(&item("c|wide|base64", "'cmd'"), r#"{"c":"YwBtAGQA"}"#, true);
    check(&item("c|utf16le|base64", "'cmd'"), r#"{"c":"YwBtAGQA"}"#, true);
    // UTF-16BE: 00 63 00 6d 00 64 → AGMAbQBk.
    check(&item("c|utf16be|base64", "'cmd'"), r#"{"c":"AGMAbQBk"}"#, true);
    // utf16 adds the FF FE byte order mark: FF FE 63 00 6d 00 64 00 → //5jAG0AZAA=.
    check(&item("c|utf16|base64", "'cmd'"), r#"{"c":"//5jAG0AZAA="}"#, true);
    check(&item("c|wide|base64offset|contains", "'cmd'"), r#"{"c":"xxYwBtAGQAxx"}"#, true);
    check_error(
        &rule(&item("c|utf16", "'ä'")),
        "7:9: `c`: UTF-16 output is not text; follow the encoding with `base64` or `base64offset`",
    );
}

#[test]
fn windash_varies_word_leading_dashes() {
    let wd = item("c|contains|windash", "' -enc '");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        check(&wd, &format!(r#"{{"c":"powershell {dash}enc AAA"}}"#), true);
    }
    check(&wd, r#"{"c":"powershell +enc AAA"}"#, false);
    // `-param-1 -param2`: only the dashes that start a word vary (pySigma), so 25 values.
    let two = item("c|windash", "'-param-1 -param2'");
    check(&two, r#"{"c":"/param-1 \u2014param2"}"#, true);
    check(&two, r#"{"c":"-param/1 -param2"}"#, false);
    let mut options = CompileOptions::default();
    options.placeholders.clear();
    check_with(&item("c|windash", "'a-b'"), r#"{"c":"a-b"}"#, true, options);
    check_error(
        &rule(&item("c|windash", "'-a -b -c -d -e -f'")),
        "7:9: `c`: `windash` value has more than 5 dashes to vary",
    );
}

#[test]
fn fieldref() {
    check(&item("TargetFilename|fieldref", "Image"), r#"{"TargetFilename":"C:\\A.exe","Image":"c:\\a.exe"}"#, true);
    check(&item("TargetFilename|fieldref", "Image"), r#"{"TargetFilename":"C:\\A.exe","Image":"c:\\b.exe"}"#, false);
    check(&item("TargetFilename|fieldref", "Image"), r#"{"TargetFilename":"C:\\A.exe"}"#, false);
    check(&item("a|fieldref|endswith", "b"), r#"{"a":"xxyy","b":"YY"}"#, true);
    check(&item("a|fieldref|startswith", "b"), r#"{"a":"xxyy","b":"yy"}"#, false);
    check(&item("a|fieldref|contains", "b"), r#"{"a":"xxyyzz","b":"yy"}"#, true);
    check(&item("a|fieldref|cased", "b"), r#"{"a":"X","b":"x"}"#, false);
    check(&item("a|fieldref|neq", "b"), r#"{"a":"x","b":"y"}"#, true);
}

#[test]
fn numeric_comparisons() {
    check(&item("n|gt", "5"), r#"{"n":6}"#, true);
    check(&item("n|gt", "5"), r#"{"n":5}"#, false);
    check(&item("n|gte", "5"), r#"{"n":"5"}"#, true);
    check(&item("n|lt", "5"), r#"{"n":4.5}"#, true);
    check(&item("n|lte", "5"), r#"{"n":"0x5"}"#, true);
    check(&item("n|lt", "5"), r#"{"n":"five"}"#, false);
    check(&item("n|lt", "5"), r#"{"m":1}"#, false);
    check_error(&rule(&item("n|gt", "'x'")), "7:9: `n`: numeric comparison needs a number, not `x`");
    check_error(
        &rule(&item("n|gt|contains", "1")),
        "7:9: `n`: modifier `contains` cannot be combined with a numeric comparison",
    );
}

#[test]
fn neq_negates_the_item() {
    let neq = item("a|neq", "['x', 'y']");
    check(&neq, r#"{"a":"z"}"#, true);
    check(&neq, r#"{"a":"x"}"#, false);
    check(&neq, r#"{"b":1}"#, true);
    check(&item("n|neq", "5"), r#"{"n":5}"#, false);
}

#[test]
fn expand_placeholders() {
    let mut options = CompileOptions::default();
    options.placeholders.insert("Admins".into(), vec!["alice".into(), "bob*".into()]);
    let det = item("User|expand", "'%Admins%'");
    check_with(&det, r#"{"User":"alice"}"#, true, options.clone());
    check_with(&det, r#"{"User":"bobby"}"#, true, options.clone());
    check_with(&det, r#"{"User":"carol"}"#, false, options.clone());
    // `\%` is a literal percent; a backslash before a placeholder is written `\\`.
    check_with(&item("User|expand", "'CORP\\\\%Admins%'"), r#"{"User":"corp\\alice"}"#, true, options.clone());
    check_with(&item("User|expand", "'100\\% %Admins%'"), r#"{"User":"100% alice"}"#, true, options.clone());
    // Without `expand`, percent signs are text.
    check_with(&item("User", "'%Admins%'"), r#"{"User":"%admins%"}"#, true, options);
    check_error(
        &rule(&item("User|expand", "'%Missing%'")),
        "7:9: `User`: placeholder `%Missing%` has no configured values",
    );
}

#[test]
fn time_parts() {
    let ts = r#"{"t":"2026-03-15T22:45:10Z","u":"2026-03-15 07:05:00.123"}"#;
    check(&item("t|hour", "22"), ts, true);
    check(&item("t|hour|gte", "22"), ts, true);
    check(&item("t|hour|lt", "22"), ts, false);
    check(&item("t|minute", "45"), ts, true);
    check(&item("t|day", "15"), ts, true);
    check(&item("t|week", "11"), ts, true);
    check(&item("t|month", "3"), ts, true);
    check(&item("t|year", "2026"), ts, true);
    check(&item("u|hour", "7"), ts, true);
    check(&item("t|hour", "22"), r#"{"t":"not a date"}"#, false);
    // Offsets are converted to UTC.
    check(&item("t|hour", "13"), r#"{"t":"2026-03-15T22:45:10+09:00"}"#, true);
    check_error(&rule(&item("t|hour", "'late'")), "7:9: `t`: `hour` needs a number, not `late`");
}

#[test]
fn unknown_modifiers_are_errors_with_positions() {
    check_error(&rule(&item("a|contain", "'x'")), "7:9: unknown modifier `contain`");
    check_error(&rule(&item("a|cidr|contains", "'10.0.0.0/8'")), "7:9: `a`: modifier `contains` cannot follow `cidr`");
}

#[test]
fn regex_anchors_are_literals_every_match_contains() {
    use crate::prefilter::regex_anchors;
    assert_eq!(regex_anchors("foo(bar|baz)"), Some(vec!["foobar".to_owned(), "foobaz".to_owned()]));
    assert_eq!(regex_anchors(".*\\\\Temp\\\\[a-z]+\\.EXE$"), Some(vec![".exe".to_owned()]));
    assert_eq!(regex_anchors("(?i)WhoAmI"), Some(vec!["whoami".to_owned()]));
    assert_eq!(regex_anchors("\\w+\\s+\\d+"), None);
    assert_eq!(regex_anchors("a?"), None);
    // Anchored regex rules give the same verdicts with and without the prefilter.
    check(&item("c|re", "'^cmd.*/c'"), r#"{"c":"CMD /c"}"#, false);
    check(&item("c|re|i", "'^cmd.*/c'"), r#"{"c":"CMD /c"}"#, true);
    check(&item("c|re", "'[Ww]hoami'"), r#"{"c":"x Whoami"}"#, true);
}
