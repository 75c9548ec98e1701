use super::*;

#[test]
fn flattening_nested_json_gives_dotted_names() {
    let json: serde_json::Value = serde_json::from_str(r#"{"a":{"b":1,"c":{"d":"x"}},"e":[1,"y"],"f":null}"#).unwrap();
    let event = Event::from_json_flat(json.as_object().unwrap());
    let names: Vec<&str> = event.fields().iter().map(|(n, _)| &**n).collect();
    assert_eq!(names, ["a.b", "a.c.d", "e", "f"]);
    assert_eq!(event.text("a.b").as_deref(), Some("1"));
    assert_eq!(event.get("e"), Some(&Value::Array(vec![Value::Int(1), Value::Str("y".into())])));
    assert_eq!(event.get("f"), Some(&Value::Null));
}

#[test]
fn values_have_canonical_text() {
    assert_eq!(Value::Int(4688).as_text().as_deref(), Some("4688"));
    assert_eq!(Value::Float(2.0).as_text().as_deref(), Some("2"));
    assert_eq!(Value::Float(2.5).as_text().as_deref(), Some("2.5"));
    assert_eq!(Value::Bool(true).as_text().as_deref(), Some("true"));
    assert_eq!(Value::Null.as_text(), None);
    assert_eq!(Value::Str("0x10".into()).as_f64(), Some(16.0));
    assert_eq!(Value::Str(" 12 ".into()).as_f64(), Some(12.0));
    assert_eq!(Value::Str("abc".into()).as_f64(), None);
}

#[test]
fn logsource_containment_follows_sigma() {
    let rule = LogSource::new(Some("windows"), Some("process_creation"), None);
    let sysmon = LogSource::new(Some("windows"), Some("process_creation"), Some("sysmon"));
    let security = LogSource::new(Some("windows"), None, Some("security"));
    assert!(rule.contains(&sysmon));
    assert!(!rule.contains(&security));
    assert!(LogSource::default().contains(&security));
    assert_eq!(rule.to_string(), "windows/process_creation/*");
}

#[test]
fn levels_parse_and_order() {
    assert_eq!(Level::parse("HIGH"), Some(Level::High));
    assert_eq!(Level::parse("info"), Some(Level::Informational));
    assert_eq!(Level::parse("severe"), None);
    assert!(Level::Critical > Level::Medium);
}

#[test]
fn direct_serialization_equals_the_json_tree() {
    let json: serde_json::Value =
        serde_json::from_str(r#"{"a":{"b":1.5},"e":[1,"y",null],"f":null,"t":true,"s":"x\"y"}"#).unwrap();
    let mut event = Event::from_json_flat(json.as_object().unwrap());
    event.push("a.b", Value::Int(9));
    assert_eq!(serde_json::to_value(&event).unwrap(), event.to_json());
    assert_eq!(serde_json::to_string(&event).unwrap(), event.to_json().to_string());
}

#[test]
fn wide_events_keep_the_first_of_a_repeated_name() {
    let mut event = Event::new();
    for i in 0..100 {
        event.push(format!("f{}", i % 40), Value::Int(i));
    }
    assert_eq!(event.fields().len(), 100);
    assert_eq!(event.get("f3"), Some(&Value::Int(3)));
    assert_eq!(event.get("f39"), Some(&Value::Int(39)));
    assert_eq!(event.get("f40"), None);
    assert_eq!(serde_json::to_value(&event).unwrap(), event.to_json());
    assert_eq!(event.to_json().as_object().map(|o| o.len()), Some(40));
}
