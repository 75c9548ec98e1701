//! Which kinds of terms fill a store's `text` field: `cargo run --release
//! -p eventstore --example census -- DATA/store/TENANT/DAY`.

fn class(t: &str) -> &'static str {
    let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
    if digits == t.len() {
        "digits"
    } else if t.starts_with("0x") {
        "0xhex"
    } else if t.chars().all(|c| c.is_ascii_hexdigit()) && digits > 0 {
        "hex"
    } else if digits > 0 {
        "mixed"
    } else {
        "alpha"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: census PARTITION_DIR")?;
    let index = tantivy::Index::open_in_dir(&dir)?;
    let searcher = index.reader()?.searcher();
    let field = index.schema().get_field("text")?;
    let mut by: std::collections::BTreeMap<(&str, bool), (u64, u64, u64)> = Default::default();
    let mut samples: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for seg in searcher.segment_readers() {
        let inv = seg.inverted_index(field)?;
        let mut stream = inv.terms().stream()?;
        while stream.advance() {
            let t = String::from_utf8_lossy(stream.key()).to_string();
            let info = stream.value();
            let df = u64::from(info.doc_freq);
            let c = class(&t);
            let e = by.entry((c, df == 1)).or_default();
            e.0 += 1;
            e.1 += df;
            e.2 += info.postings_range.len() as u64;
            let s = samples.entry(c).or_default();
            if s.len() < 12 && df == 1 {
                s.push(t);
            }
        }
    }
    println!("{:<8} {:>6} {:>10} {:>12} {:>12}", "class", "df=1", "terms", "postings", "bytes");
    for ((c, unique), (n, p, b)) in by {
        println!("{c:<8} {unique:>6} {n:>10} {p:>12} {b:>12}");
    }
    for (c, s) in samples {
        println!("{c}: {s:?}");
    }
    Ok(())
}
