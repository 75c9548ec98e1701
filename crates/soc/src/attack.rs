//! ATT&CK tactics in kill-chain order, read from Sigma tags, and the rank
//! of an incident's steps: the step that names an incident is its most
//! severe, and among equally severe ones its most advanced (an upload
//! after a lateral movement after a logon), not merely its first.

use model::Level;

/// Enterprise tactics, from first to last in an intrusion. Sigma tags
/// write them with `_` or `-` (`attack.credential_access`,
/// `attack.privilege-escalation`); ATT&CK v18 renamed defense evasion to
/// stealth and defense impairment, which stand where it stood.
const TACTICS: [&[&str]; 14] = [
    &["reconnaissance"],
    &["resource-development"],
    &["initial-access"],
    &["execution"],
    &["persistence"],
    &["privilege-escalation"],
    &["defense-evasion", "stealth", "defense-impairment"],
    &["credential-access"],
    &["discovery"],
    &["lateral-movement"],
    &["collection"],
    &["command-and-control"],
    &["exfiltration"],
    &["impact"],
];

/// How far into an intrusion the tags put a detection: 1 (reconnaissance)
/// to 14 (impact), the latest tactic named; 0 when none is.
pub fn stage(tags: &[String]) -> i64 {
    tags.iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .filter_map(|t| {
            let t = t.replace('_', "-").to_ascii_lowercase();
            TACTICS.iter().position(|names| names.contains(&t.as_str()))
        })
        .map(|i| i as i64 + 1)
        .max()
        .unwrap_or(0)
}

/// The rank of a step of an incident: severity first, then stage.
pub fn step_rank(severity: Level, tags: &[String]) -> i64 {
    severity as i64 * 100 + stage(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_latest_tactic_named_is_the_stage() {
        assert_eq!(stage(&tags(&["attack.credential_access", "attack.t1110"])), 8);
        assert_eq!(stage(&tags(&["attack.execution", "attack.lateral-movement", "attack.t1021.002"])), 10);
        assert_eq!(stage(&tags(&["attack.stealth"])), 7);
        assert_eq!(stage(&tags(&["attack.t1048", "cve.2021-44228"])), 0);
    }

    #[test]
    fn severity_outranks_stage() {
        let upload = step_rank(Level::High, &tags(&["attack.exfiltration"]));
        let psexec_on_a_critical_server = step_rank(Level::Critical, &tags(&["attack.lateral_movement"]));
        let brute_force = step_rank(Level::High, &tags(&["attack.credential_access"]));
        assert!(psexec_on_a_critical_server > upload && upload > brute_force);
    }
}
