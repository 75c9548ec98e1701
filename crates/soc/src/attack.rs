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

/// The tactic of the latest stage the tags name: its index in kill-chain
/// order (0 = reconnaissance .. 13 = impact), for grouping a story.
pub fn tactic(tags: &[String]) -> Option<usize> {
    usize::try_from(stage(tags)).ok()?.checked_sub(1)
}

/// The techniques the tags name (`attack.t1110.001` → `T1110.001`), with
/// their names where this table has them (the techniques SigmaHQ and
/// Hinomi's rules tag most; a sub-technique without a name of its own
/// gets its parent's).
pub fn techniques(tags: &[String]) -> Vec<(String, Option<&'static str>)> {
    let mut out: Vec<(String, Option<&'static str>)> = Vec::new();
    for tag in tags {
        let Some(id) = tag.strip_prefix("attack.") else { continue };
        let id = id.to_ascii_uppercase();
        let Some(digits) = id.strip_prefix('T') else { continue };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            continue;
        }
        let parent = id.split('.').next().unwrap_or(&id);
        let name = TECHNIQUES
            .iter()
            .find(|(t, _)| *t == id)
            .or_else(|| TECHNIQUES.iter().find(|(t, _)| *t == parent))
            .map(|(_, n)| *n);
        if !out.iter().any(|(t, _)| *t == id) {
            out.push((id, name));
        }
    }
    out
}

/// ATT&CK technique names (Enterprise), by id.
const TECHNIQUES: &[(&str, &str)] = &[
    ("T1003", "OS Credential Dumping"),
    ("T1003.001", "LSASS Memory"),
    ("T1005", "Data from Local System"),
    ("T1012", "Query Registry"),
    ("T1016", "System Network Configuration Discovery"),
    ("T1018", "Remote System Discovery"),
    ("T1021", "Remote Services"),
    ("T1021.001", "Remote Desktop Protocol"),
    ("T1021.002", "SMB/Windows Admin Shares"),
    ("T1027", "Obfuscated Files or Information"),
    ("T1033", "System Owner/User Discovery"),
    ("T1036", "Masquerading"),
    ("T1041", "Exfiltration Over C2 Channel"),
    ("T1046", "Network Service Discovery"),
    ("T1047", "Windows Management Instrumentation"),
    ("T1048", "Exfiltration Over Alternative Protocol"),
    ("T1053", "Scheduled Task/Job"),
    ("T1053.005", "Scheduled Task"),
    ("T1055", "Process Injection"),
    ("T1059", "Command and Scripting Interpreter"),
    ("T1059.001", "PowerShell"),
    ("T1059.003", "Windows Command Shell"),
    ("T1068", "Exploitation for Privilege Escalation"),
    ("T1069", "Permission Groups Discovery"),
    ("T1070", "Indicator Removal"),
    ("T1071", "Application Layer Protocol"),
    ("T1078", "Valid Accounts"),
    ("T1078.002", "Domain Accounts"),
    ("T1082", "System Information Discovery"),
    ("T1083", "File and Directory Discovery"),
    ("T1087", "Account Discovery"),
    ("T1090", "Proxy"),
    ("T1098", "Account Manipulation"),
    ("T1098.001", "Additional Cloud Credentials"),
    ("T1102", "Web Service"),
    ("T1105", "Ingress Tool Transfer"),
    ("T1106", "Native API"),
    ("T1110", "Brute Force"),
    ("T1110.001", "Password Guessing"),
    ("T1110.003", "Password Spraying"),
    ("T1112", "Modify Registry"),
    ("T1127", "Trusted Developer Utilities Proxy Execution"),
    ("T1133", "External Remote Services"),
    ("T1134", "Access Token Manipulation"),
    ("T1136", "Create Account"),
    ("T1136.001", "Local Account"),
    ("T1136.002", "Domain Account"),
    ("T1137", "Office Application Startup"),
    ("T1140", "Deobfuscate/Decode Files or Information"),
    ("T1189", "Drive-by Compromise"),
    ("T1190", "Exploit Public-Facing Application"),
    ("T1195", "Supply Chain Compromise"),
    ("T1197", "BITS Jobs"),
    ("T1202", "Indirect Command Execution"),
    ("T1203", "Exploitation for Client Execution"),
    ("T1204", "User Execution"),
    ("T1204.002", "Malicious File"),
    ("T1210", "Exploitation of Remote Services"),
    ("T1213", "Data from Information Repositories"),
    ("T1216", "System Script Proxy Execution"),
    ("T1218", "System Binary Proxy Execution"),
    ("T1219", "Remote Access Software"),
    ("T1482", "Domain Trust Discovery"),
    ("T1485", "Data Destruction"),
    ("T1486", "Data Encrypted for Impact"),
    ("T1489", "Service Stop"),
    ("T1490", "Inhibit System Recovery"),
    ("T1496", "Resource Hijacking"),
    ("T1498", "Network Denial of Service"),
    ("T1505", "Server Software Component"),
    ("T1518", "Software Discovery"),
    ("T1528", "Steal Application Access Token"),
    ("T1537", "Transfer Data to Cloud Account"),
    ("T1543", "Create or Modify System Process"),
    ("T1546", "Event Triggered Execution"),
    ("T1547", "Boot or Logon Autostart Execution"),
    ("T1548", "Abuse Elevation Control Mechanism"),
    ("T1550", "Use Alternate Authentication Material"),
    ("T1552", "Unsecured Credentials"),
    ("T1553", "Subvert Trust Controls"),
    ("T1555", "Credentials from Password Stores"),
    ("T1556", "Modify Authentication Process"),
    ("T1557", "Adversary-in-the-Middle"),
    ("T1558", "Steal or Forge Kerberos Tickets"),
    ("T1560", "Archive Collected Data"),
    ("T1562", "Impair Defenses"),
    ("T1562.002", "Disable Windows Event Logging"),
    ("T1564", "Hide Artifacts"),
    ("T1565", "Data Manipulation"),
    ("T1566", "Phishing"),
    ("T1566.001", "Spearphishing Attachment"),
    ("T1567", "Exfiltration Over Web Service"),
    ("T1569", "System Services"),
    ("T1569.002", "Service Execution"),
    ("T1570", "Lateral Tool Transfer"),
    ("T1572", "Protocol Tunneling"),
    ("T1574", "Hijack Execution Flow"),
    ("T1587", "Develop Capabilities"),
    ("T1588", "Obtain Capabilities"),
    ("T1649", "Steal or Forge Authentication Certificates"),
];

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
    fn techniques_are_named_and_sub_techniques_fall_back_to_their_parent() {
        let t = techniques(&tags(&[
            "attack.credential_access",
            "attack.t1110.001",
            "attack.T1021.002",
            "attack.t1021.999",
            "attack.t9999",
            "attack.g0016",
            "attack.t1110.001",
        ]));
        let want = [
            ("T1110.001", Some("Password Guessing")),
            ("T1021.002", Some("SMB/Windows Admin Shares")),
            ("T1021.999", Some("Remote Services")),
            ("T9999", None),
        ];
        assert_eq!(t, want.map(|(id, n)| (id.to_string(), n)));
        assert!(TECHNIQUES.windows(2).all(|w| w[0].0 < w[1].0), "the table is sorted and has no repeats");
        assert_eq!(tactic(&tags(&["attack.lateral_movement"])), Some(9));
        assert_eq!(tactic(&tags(&["attack.t1110"])), None);
    }

    #[test]
    fn severity_outranks_stage() {
        let upload = step_rank(Level::High, &tags(&["attack.exfiltration"]));
        let psexec_on_a_critical_server = step_rank(Level::Critical, &tags(&["attack.lateral_movement"]));
        let brute_force = step_rank(Level::High, &tags(&["attack.credential_access"]));
        assert!(psexec_on_a_critical_server > upload && upload > brute_force);
    }
}
