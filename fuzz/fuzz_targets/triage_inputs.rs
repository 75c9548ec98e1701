//! What analysts and the alert journal hand to triage: asset inventories
//! (CSV and JSON uploads), SLA calendars (JSON) and alert lines. Each is
//! read or refused with a reason, never a panic; a calendar that reads
//! answers elapsed time and deadlines.
#![no_main]

use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(inv) = soc::assets::Inventory::from_csv(&text) {
        let e = [soc::Entity::new(soc::EntityKind::Host, "dc-01"), soc::Entity::new(soc::EntityKind::Ip, "10.1.2.3")];
        let _ = inv.most_critical(&e.into_iter().flatten().collect::<Vec<_>>());
    }
    let _ = soc::assets::Inventory::from_json(&text);
    if let Ok(spec) = serde_json::from_str::<soc::sla::CalendarSpec>(&text)
        && let Ok(cal) = spec.calendar()
    {
        let from = Timestamp::from_second(1_795_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let to = from + SignedDuration::from_hours(24 * 9);
        let pauses = [(from + SignedDuration::from_hours(30), Some(from + SignedDuration::from_hours(50)))];
        let _ = cal.elapsed(from, to, &pauses);
        let _ = cal.deadline(from, SignedDuration::from_hours(20), &pauses);
        let _ = soc::sla::clock(&cal, SignedDuration::from_hours(4), from, None, &pauses, to);
    }
    if let Ok(d) = soc::Detection::from_alert_line(data) {
        let _ = (d.dedup_key(), d.techniques());
    }
});
