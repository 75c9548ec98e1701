//! Where a store's bytes go: `cargo run --release -p eventstore --example
//! space -- DATA/store`. Prints, per field, the term count and the bytes of
//! terms, postings, columns and stored documents (tantivy's own accounting).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: space STORE_DIR")?;
    let mut totals: std::collections::BTreeMap<String, [u64; 5]> = Default::default();
    for tenant in std::fs::read_dir(&dir)?.flatten().filter(|e| e.path().is_dir()) {
        for day in std::fs::read_dir(tenant.path())?.flatten().filter(|e| e.path().join("meta.json").exists()) {
            let index = tantivy::Index::open_in_dir(day.path())?;
            let searcher = index.reader()?.searcher();
            let schema = index.schema();
            let usage = searcher.space_usage()?;
            for (ord, seg) in usage.segments().iter().enumerate() {
                let reader = searcher.segment_reader(ord as u32);
                for (field, entry) in schema.fields() {
                    let t = totals.entry(entry.name().to_string()).or_default();
                    t[0] += reader.inverted_index(field).map(|i| i.terms().num_terms() as u64).unwrap_or(0);
                }
                for (slot, usage) in [(1, seg.termdict()), (2, seg.postings()), (3, seg.fast_fields())] {
                    for f in usage.fields() {
                        totals.entry(f.field_name().to_string()).or_default()[slot] += f.total().get_bytes();
                    }
                }
                totals.entry("(stored documents)".into()).or_default()[4] += seg.store().total().get_bytes();
            }
        }
    }
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "field", "terms", "termdict", "postings", "columns", "stored"
    );
    for (name, t) in totals {
        println!("{name:<28} {:>12} {:>12} {:>12} {:>12} {:>12}", t[0], t[1], t[2], t[3], t[4]);
    }
    Ok(())
}
