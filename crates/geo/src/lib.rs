//! Where an event's addresses are: IP geolocation from a MaxMind-format
//! database (GeoLite2 or GeoIP2 Country and City; DB-IP's and IPinfo's free
//! `.mmdb` files use the same layout).
//!
//! [`Geo::enrich`] gives each address field of an event (`source.ip`,
//! `destination.ip`, `client.ip`, `server.ip`) the ECS geo fields of its
//! side: `<side>.geo.country_iso_code`, `country_name`, `continent_code`,
//! `city_name`, `location.lat` and `location.lon`, as far as the database
//! knows them. A side whose country a shipper already set is left as it is,
//! and so are private, loopback, link-local and multicast addresses, which
//! no database places.
//!
//! Pure: the caller reads the database file and passes its bytes; no clock.
//! Names are the database's English ones. It is not an ASN or reputation
//! lookup.

use std::net::IpAddr;

use model::{Event, Value};
use serde::Deserialize;

/// The address fields looked up, with the side their geo fields go to.
pub const SIDES: [(&str, &str); 4] =
    [("source.ip", "source"), ("destination.ip", "destination"), ("client.ip", "client"), ("server.ip", "server")];

/// An opened database.
pub struct Geo {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Geo({})", self.describe())
    }
}

/// What a database says of one address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub country_iso_code: Option<String>,
    pub country_name: Option<String>,
    pub continent_code: Option<String>,
    pub city_name: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

// The parts of a GeoIP2/GeoLite2 record Hinomi reads; every part is
// optional, so Country and City databases (and DB-IP's) both decode.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Named<'a>>,
    #[serde(borrow, default)]
    continent: Option<Coded<'a>>,
    #[serde(borrow, default)]
    city: Option<Named<'a>>,
    #[serde(default)]
    location: Option<Location>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Coded<'a> {
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

impl Geo {
    /// Opens a database from its bytes; a file that is not one is an
    /// error that says why.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Geo, String> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| format!("not a MaxMind database: {e}"))?;
        Ok(Geo { reader })
    }

    /// The database's type and build date, for the start-up line.
    pub fn describe(&self) -> String {
        let m = self.reader.metadata();
        let built = i64::try_from(m.build_epoch)
            .ok()
            .and_then(|s| model::Timestamp::from_second(s).ok())
            .map_or_else(|| "at an unknown date".to_string(), |t| format!("on {}", t.strftime("%Y-%m-%d")));
        format!("{} (IPv{}, built {built})", m.database_type, m.ip_version)
    }

    /// Where `ip` is, if the database places it. A record the database
    /// cannot decode counts as not placed.
    pub fn lookup(&self, ip: IpAddr) -> Option<Place> {
        let ip = ip.to_canonical();
        if !routable(ip) {
            return None;
        }
        let found = self.reader.lookup(ip).ok()?;
        let r: Record<'_> = found.decode().ok()??;
        let own = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        let place = Place {
            country_iso_code: own(r.country.as_ref().and_then(|c| c.iso_code)),
            country_name: own(r.country.as_ref().and_then(|c| c.names.as_ref()?.en)),
            continent_code: own(r.continent.as_ref().and_then(|c| c.code)),
            city_name: own(r.city.as_ref().and_then(|c| c.names.as_ref()?.en)),
            lat: r.location.as_ref().and_then(|l| l.latitude).filter(|x| x.is_finite()),
            lon: r.location.as_ref().and_then(|l| l.longitude).filter(|x| x.is_finite()),
        };
        (place != Place::default()).then_some(place)
    }

    /// Adds the geo fields of every side the database places, and
    /// returns them (name and value, in the order added) so that the caller
    /// can keep them with the event.
    pub fn enrich(&self, event: &mut Event) -> Vec<(String, Value)> {
        let mut added = Vec::new();
        for (field, side) in SIDES {
            let Some(text) = event.text(field) else { continue };
            let Ok(ip) = text.trim().trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
                continue;
            };
            if event.get(&format!("{side}.geo.country_iso_code")).is_some() {
                continue;
            }
            let Some(place) = self.lookup(ip) else { continue };
            let texts = [
                ("country_iso_code", place.country_iso_code),
                ("country_name", place.country_name),
                ("continent_code", place.continent_code),
                ("city_name", place.city_name),
            ];
            for (name, value) in texts {
                if let Some(v) = value {
                    added.push((format!("{side}.geo.{name}"), Value::Str(v.into())));
                }
            }
            for (name, value) in [("location.lat", place.lat), ("location.lon", place.lon)] {
                if let Some(v) = value {
                    added.push((format!("{side}.geo.{name}"), Value::Float(v)));
                }
            }
        }
        for (name, value) in &added {
            event.push(name.as_str(), value.clone());
        }
        added
    }
}

/// Whether an address can be anywhere on the internet (private, loopback,
/// link-local, multicast and unspecified ones cannot).
fn routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified())
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests;
