//! Lookups and enrichment against `tests/data/test-city.mmdb`, written by an
//! independent writer (`scripts/geo-test-db.py`): one `check` per event,
//! the geo fields it should gain.

use super::*;

fn geo() -> Geo {
    Geo::from_bytes(include_bytes!("../tests/data/test-city.mmdb").to_vec()).unwrap()
}

/// Enriches an event made of `fields` and compares what was added.
#[track_caller]
fn check(fields: &[(&str, &str)], want: &[(&str, Value)]) {
    let mut event = Event::new();
    for (k, v) in fields {
        event.push(*k, Value::Str((*v).into()));
    }
    let before = event.fields().len();
    let added = geo().enrich(&mut event);
    let got: Vec<(&str, Value)> = added.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    assert_eq!(got, want);
    // What it returns is exactly what it added to the event.
    assert_eq!(event.fields().len(), before + added.len());
    for (k, v) in &added {
        assert_eq!(event.get(k), Some(v));
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

#[test]
fn a_city_record_gives_every_field() {
    check(
        &[("source.ip", "198.51.100.7")],
        &[
            ("source.geo.country_iso_code", s("JP")),
            ("source.geo.country_name", s("Japan")),
            ("source.geo.continent_code", s("AS")),
            ("source.geo.city_name", s("Tokyo")),
            ("source.geo.location.lat", Value::Float(35.6895)),
            ("source.geo.location.lon", Value::Float(139.6917)),
        ],
    );
}

#[test]
fn a_country_record_gives_what_it_has_and_both_sides_are_placed() {
    check(
        &[("source.ip", "203.0.113.5"), ("destination.ip", "203.0.113.200")],
        &[
            ("source.geo.country_iso_code", s("US")),
            ("source.geo.country_name", s("United States")),
            ("source.geo.continent_code", s("NA")),
            ("destination.geo.country_iso_code", s("BR")),
            ("destination.geo.country_name", s("Brazil")),
            ("destination.geo.continent_code", s("SA")),
            ("destination.geo.city_name", s("São Paulo")),
            ("destination.geo.location.lat", Value::Float(-23.5505)),
            ("destination.geo.location.lon", Value::Float(-46.6333)),
        ],
    );
}

#[test]
fn ipv6_and_mapped_ipv4_addresses_are_placed() {
    check(
        &[("client.ip", "2001:db8::1")],
        &[
            ("client.geo.country_iso_code", s("DE")),
            ("client.geo.country_name", s("Germany")),
            ("client.geo.continent_code", s("EU")),
            ("client.geo.city_name", s("Berlin")),
            ("client.geo.location.lat", Value::Float(52.52)),
            ("client.geo.location.lon", Value::Float(13.405)),
        ],
    );
    let place = geo().lookup("::ffff:198.51.100.9".parse().unwrap()).unwrap();
    assert_eq!(place.country_iso_code.as_deref(), Some("JP"));
    assert_eq!(
        geo().lookup("[2001:db8::2]".trim_matches(['[', ']']).parse().unwrap()).unwrap().city_name.as_deref(),
        Some("Berlin")
    );
}

#[test]
fn what_no_database_places_is_left_alone() {
    // Private, loopback, link-local, unique-local; not in the database; an
    // empty record; not an address; a country the shipper already set.
    for ip in ["10.1.2.3", "192.168.0.1", "127.0.0.1", "169.254.1.1", "fd00::1", "fe80::1", "8.8.8.8", "192.0.2.1"] {
        check(&[("source.ip", ip)], &[]);
    }
    check(&[("source.ip", "not an address"), ("server.ip", "")], &[]);
    check(&[("source.ip", "198.51.100.7"), ("source.geo.country_iso_code", "FR")], &[]);
    // Fields other than the four address fields are not looked up.
    check(&[("IpAddress", "198.51.100.7"), ("observer.ip", "198.51.100.7")], &[]);
}

#[test]
fn a_file_that_is_no_database_is_a_clear_error() {
    let err = Geo::from_bytes(b"GeoIP2 City, honest".to_vec()).err().unwrap();
    assert!(err.starts_with("not a MaxMind database: "), "{err}");
    assert!(Geo::from_bytes(Vec::new()).is_err());
    let about = geo().describe();
    assert!(about.starts_with("Hinomi-Test-City (IPv6, built on 20"), "{about}");
}
