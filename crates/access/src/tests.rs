use super::*;

/// The whole permission table, one line per scope, against a golden file:
/// a change of who may do what shows in review as a change of that file.
#[test]
fn permission_table_is_the_golden_one() {
    let mut out = String::from("scope");
    for a in Action::ALL {
        out.push_str(&format!(" {}", a.as_str()));
    }
    out.push('\n');
    for s in Scope::ALL {
        out.push_str(s.as_str());
        for a in Action::ALL {
            out.push_str(if s.allows(a) { " yes" } else { " -" });
        }
        out.push('\n');
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/permissions.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &out).unwrap();
    }
    let want = std::fs::read_to_string(path).unwrap();
    assert_eq!(out, want, "the permission table changed (UPDATE_EXPECT=1 writes the new one)");
}

#[test]
fn names_fit_paths_and_urls() {
    for ok in ["default", "acme-2", "a_b", &"x".repeat(64)] {
        assert!(check_name("tenant", ok).is_ok(), "{ok}");
    }
    for bad in ["", "Acme", "a/b", "a b", "../x", "ä", &"x".repeat(65)] {
        assert!(check_name("tenant", bad).is_err(), "{bad}");
    }
}

#[test]
fn scope_names_round_trip() {
    for s in Scope::ALL {
        assert_eq!(Scope::parse(s.as_str()), Ok(s));
    }
    assert_eq!(Scope::parse("viewer"), Ok(Scope::Read));
    assert!(Scope::parse("root").is_err());
}
