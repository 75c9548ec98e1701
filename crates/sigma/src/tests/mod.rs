use super::*;

fn load(yaml: &str) -> (RuleSet, Vec<LoadError>) {
    let mut b = RuleSetBuilder::new(CompileOptions::default());
    b.add_file("test.yml", yaml);
    b.build()
}

#[test]
fn smoke() {
    let (set, errors) = load(
        "title: t\nid: x\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let mut e = Event::new();
    e.push("Image", model::Value::Str("C:\\Windows\\System32\\CMD.EXE".into()));
    assert_eq!(set.matcher().matches(&e), &[0]);
}

mod corpus;
