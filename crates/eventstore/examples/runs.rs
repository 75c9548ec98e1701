//! How a word's postings are laid out in one partition: `cargo run --release
//! -p eventstore --example runs -- DATA/store/TENANT/DAY WORD...`. Prints the
//! document frequency, the runs of consecutive document ids and how the gaps
//! between postings spread over powers of two (what bit-packing pays for).

use tantivy::DocSet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: runs PARTITION_DIR WORD...")?;
    let index = tantivy::Index::open_in_dir(&dir)?;
    let searcher = index.reader()?.searcher();
    let field = index.schema().get_field("text")?;
    for word in args {
        for seg in searcher.segment_readers() {
            let inv = seg.inverted_index(field)?;
            let term = tantivy::Term::from_field_text(field, &word);
            let Some(mut postings) = inv.read_postings(&term, tantivy::schema::IndexRecordOption::Basic)? else {
                println!("{word}: absent");
                continue;
            };
            let (mut df, mut runs, mut last) = (0u64, 0u64, None::<u32>);
            let mut by_bits = [0u64; 33];
            while postings.doc() != tantivy::TERMINATED {
                let doc = postings.doc();
                match last {
                    Some(l) if doc == l + 1 => {}
                    _ => runs += 1,
                }
                if let Some(l) = last {
                    by_bits[(32 - (doc - l).leading_zeros()) as usize] += 1;
                }
                last = Some(doc);
                df += 1;
                postings.advance();
            }
            let spread: Vec<String> =
                by_bits.iter().enumerate().filter(|(_, n)| **n > 0).map(|(b, n)| format!("{b}b:{n}")).collect();
            println!(
                "{word}: df {df} of {}, {runs} runs (mean {:.1}), gaps {}",
                seg.max_doc(),
                df as f64 / runs.max(1) as f64,
                spread.join(" ")
            );
        }
    }
    Ok(())
}
