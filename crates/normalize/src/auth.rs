//! Who and from where, in the authentication lines of sshd, sudo, su and
//! PAM: `user.name`, `source.ip`, `source.port`, `user.target.name`,
//! `event.action` and `event.outcome` (ECS names), so that failed logons
//! group by user and address and an analyst can pivot on them.
//!
//! Each line shape is found by fixed words and read by plain string
//! search: the work is linear in the line, whatever a sender puts in it
//! (user names are the attacker's choice: `Failed password for invalid
//! user from 1.2.3.4 ...` is a real name).

use model::{Event, Value};

/// What one line says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Auth<'a> {
    pub(crate) action: &'static str,
    pub(crate) outcome: Option<&'static str>,
    pub(crate) user: Option<&'a str>,
    pub(crate) target: Option<&'a str>,
    pub(crate) ip: Option<&'a str>,
    pub(crate) port: Option<u16>,
    pub(crate) command: Option<&'a str>,
}

/// Adds the fields of an authentication line of `app` to `event`; fields
/// the event already has are kept.
pub(crate) fn apply(event: &mut Event, app: Option<&str>, msg: &str) {
    let Some(auth) = read(app, msg) else { return };
    let mut put = |name: &str, value: Value| {
        if event.get(name).is_none() {
            event.push(name, value);
        }
    };
    put("event.action", Value::Str(auth.action.into()));
    if let Some(o) = auth.outcome {
        put("event.outcome", Value::Str(o.into()));
    }
    let fields = [("user.name", auth.user), ("user.target.name", auth.target), ("source.ip", auth.ip)];
    for (name, value) in fields {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            put(name, Value::Str(v.into()));
        }
    }
    if let Some(p) = auth.port {
        put("source.port", Value::Int(p.into()));
    }
    if let Some(c) = auth.command {
        put("process.command_line", Value::Str(c.into()));
    }
}

/// Reads a line of `app` (the syslog program name, path stripped).
pub(crate) fn read<'a>(app: Option<&str>, msg: &'a str) -> Option<Auth<'a>> {
    let msg = msg.trim();
    if let Some(pam) = msg.strip_prefix("pam_unix(") {
        return pam_unix(pam);
    }
    match app.map(|a| a.rsplit('/').next().unwrap_or(a)) {
        Some(a) if a.eq_ignore_ascii_case("sshd") => sshd(msg),
        Some(a) if a.eq_ignore_ascii_case("sudo") => sudo(msg),
        Some(a) if a.eq_ignore_ascii_case("su") => su(msg),
        _ => None,
    }
}

fn sshd(msg: &str) -> Option<Auth<'_>> {
    // Prefix, action, outcome. The user follows the prefix; `from ADDR
    // port N` (or `ADDR port N`) follows the user.
    const SHAPES: [(&str, &str, Option<&'static str>); 9] = [
        ("Failed password for invalid user ", "ssh_login", Some("failure")),
        ("Failed password for ", "ssh_login", Some("failure")),
        ("Failed publickey for invalid user ", "ssh_login", Some("failure")),
        ("Failed publickey for ", "ssh_login", Some("failure")),
        ("Accepted password for ", "ssh_login", Some("success")),
        ("Accepted publickey for ", "ssh_login", Some("success")),
        ("Accepted keyboard-interactive/pam for ", "ssh_login", Some("success")),
        ("Invalid user ", "ssh_login", Some("failure")),
        ("error: maximum authentication attempts exceeded for invalid user ", "ssh_login", Some("failure")),
    ];
    let closed = [
        ("Connection closed by authenticating user ", "ssh_disconnect"),
        ("Connection closed by invalid user ", "ssh_disconnect"),
        ("Disconnected from authenticating user ", "ssh_disconnect"),
        ("Disconnected from invalid user ", "ssh_disconnect"),
        ("Disconnected from user ", "ssh_disconnect"),
        ("error: maximum authentication attempts exceeded for ", "ssh_login"),
    ];
    for (prefix, action, outcome) in SHAPES {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let (user, ip, port) = user_from(rest);
            return Some(Auth { action, outcome, user, ip, port, ..Auth::default() });
        }
    }
    for (prefix, action) in closed {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let (user, ip, port) = user_from(rest);
            let outcome = (action == "ssh_login").then_some("failure");
            return Some(Auth { action, outcome, user, ip, port, ..Auth::default() });
        }
    }
    None
}

/// `USER from ADDR port N ...` or `USER ADDR port N ...`. The user is
/// what comes before the last ` from ` / address that is followed by
/// ` port `, so a user name with spaces in it stays whole.
fn user_from(rest: &str) -> (Option<&str>, Option<&str>, Option<u16>) {
    let Some(at) = rest.rfind(" port ") else { return (word(rest), None, None) };
    let (head, tail) = (&rest[..at], &rest[at + " port ".len()..]);
    let port = tail.split(|c: char| !c.is_ascii_digit()).next().and_then(|p| p.parse().ok());
    let (user, addr) = match head.rfind(' ') {
        Some(sp) => (&head[..sp], &head[sp + 1..]),
        None => return (None, Some(head), port),
    };
    let user = user.strip_suffix(" from").unwrap_or(user);
    let ip = addr.parse::<std::net::IpAddr>().is_ok().then_some(addr);
    (Some(user).filter(|u| !u.is_empty()), ip, port)
}

fn word(s: &str) -> Option<&str> {
    s.split_whitespace().next()
}

/// `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls`, and
/// `alice : 3 incorrect password attempts ; TTY=... ; COMMAND=...`.
fn sudo(msg: &str) -> Option<Auth<'_>> {
    let (user, rest) = msg.split_once(" : ")?;
    let user = user.trim();
    let mut auth = Auth { action: "sudo", outcome: Some("success"), user: Some(user), ..Auth::default() };
    for part in rest.split(" ; ") {
        let part = part.trim();
        if let Some(target) = part.strip_prefix("USER=") {
            auth.target = Some(target);
        } else if let Some(command) = part.strip_prefix("COMMAND=") {
            auth.command = Some(command);
        } else if part.contains("incorrect password attempt") || part.contains("not in sudoers") {
            auth.outcome = Some("failure");
        }
    }
    (auth.target.is_some() || auth.command.is_some()).then_some(auth)
}

/// `FAILED SU (to root) alice on pts/0`, `Successful su for root by alice`,
/// `(to root) alice on pts/0`.
fn su(msg: &str) -> Option<Auth<'_>> {
    let (outcome, rest) = match msg.strip_prefix("FAILED SU ") {
        Some(rest) => ("failure", rest),
        None => ("success", msg),
    };
    if let Some(rest) = rest.strip_prefix("(to ") {
        let (target, rest) = rest.split_once(") ")?;
        let user = rest.split(" on ").next();
        return Some(Auth { action: "su", outcome: Some(outcome), user, target: Some(target), ..Auth::default() });
    }
    let rest = msg.strip_prefix("Successful su for ")?;
    let (target, user) = rest.split_once(" by ")?;
    Some(Auth {
        action: "su",
        outcome: Some("success"),
        user: Some(user.trim()),
        target: Some(target),
        ..Auth::default()
    })
}

/// `pam_unix(SERVICE:auth): authentication failure; logname= uid=0 euid=0
/// tty=ssh ruser= rhost=203.0.113.7  user=root` and `pam_unix(SERVICE:session):
/// session opened for user root(uid=0) by alice(uid=1000)`.
fn pam_unix(rest: &str) -> Option<Auth<'_>> {
    fn name(s: &str) -> Option<&str> {
        s.split(['(', ' ']).next().filter(|n| !n.is_empty())
    }
    let (_, msg) = rest.split_once("): ")?;
    if let Some(kv) = msg.strip_prefix("authentication failure;") {
        let mut auth = Auth { action: "authentication", outcome: Some("failure"), ..Auth::default() };
        for pair in kv.split_whitespace() {
            match pair.split_once('=') {
                Some(("user", v)) => auth.user = Some(v),
                Some(("ruser", v)) if auth.user.is_none() && !v.is_empty() => auth.user = Some(v),
                Some(("rhost", v)) if v.parse::<std::net::IpAddr>().is_ok() => auth.ip = Some(v),
                _ => {}
            }
        }
        return Some(auth);
    }
    let (opened, rest) =
        match (msg.strip_prefix("session opened for user "), msg.strip_prefix("session closed for user ")) {
            (Some(r), _) => (true, r),
            (None, Some(r)) => (false, r),
            _ => return None,
        };
    let (target, by) = match rest.split_once(" by ") {
        Some((t, b)) => (name(t), name(b)),
        None => (name(rest), None),
    };
    let action = if opened { "session_opened" } else { "session_closed" };
    // `root(uid=0)`: the name before its uid.
    Some(Auth { action, outcome: Some("success"), user: by.or(target), target, ..Auth::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line, and what it should say: `action outcome user target ip port`
    /// (`-` for none).
    fn check(app: &str, line: &str, want: &str) {
        let got = read(Some(app), line).map(|a| {
            let s = |v: Option<&str>| v.unwrap_or("-").to_string();
            [
                a.action.to_string(),
                s(a.outcome),
                s(a.user),
                s(a.target),
                s(a.ip),
                a.port.map_or("-".into(), |p| p.to_string()),
            ]
            .join(" ")
        });
        assert_eq!(got.as_deref().unwrap_or("none"), want, "{app}: {line}");
    }

    #[test]
    fn sshd_lines() {
        let cases = [
            ("Failed password for root from 203.0.113.7 port 52311 ssh2", "ssh_login failure root - 203.0.113.7 52311"),
            (
                "Failed password for invalid user admin from 2001:db8::1 port 4022 ssh2",
                "ssh_login failure admin - 2001:db8::1 4022",
            ),
            (
                "Accepted publickey for alice from 10.0.0.5 port 50000 ssh2: ED25519 SHA256:abc",
                "ssh_login success alice - 10.0.0.5 50000",
            ),
            ("Invalid user oracle from 198.51.100.9 port 33000", "ssh_login failure oracle - 198.51.100.9 33000"),
            (
                "Connection closed by authenticating user root 203.0.113.7 port 52311 [preauth]",
                "ssh_disconnect - root - 203.0.113.7 52311",
            ),
            // A user name chosen to look like the rest of the line.
            (
                "Failed password for invalid user x from 1.2.3.4 from 203.0.113.7 port 22 ssh2",
                "ssh_login failure x from 1.2.3.4 - 203.0.113.7 22",
            ),
            ("Server listening on 0.0.0.0 port 22.", "none"),
        ];
        for (line, want) in cases {
            check("sshd", line, want);
        }
    }

    #[test]
    fn sudo_su_and_pam_lines() {
        let cases = [
            (
                "sudo",
                "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
                "sudo success alice root - -",
            ),
            (
                "sudo",
                "bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
                "sudo failure bob root - -",
            ),
            ("su", "FAILED SU (to root) alice on pts/0", "su failure alice root - -"),
            ("su", "Successful su for root by alice", "su success alice root - -"),
            (
                "sshd",
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root",
                "authentication failure root - 203.0.113.7 -",
            ),
            (
                "su",
                "pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)",
                "session_opened success alice root - -",
            ),
            ("cron", "pam_unix(cron:session): session closed for user root", "session_closed success root root - -"),
            ("sudo", "a line of no known shape", "none"),
        ];
        for (app, line, want) in cases {
            check(app, line, want);
        }
    }

    #[test]
    fn the_fields_land_on_the_event_without_replacing_any() {
        let mut event = Event::new();
        event.push("user.name", Value::Str("kept".into()));
        apply(&mut event, Some("sshd"), "Failed password for root from 203.0.113.7 port 22 ssh2");
        assert_eq!(event.text("user.name").as_deref(), Some("kept"));
        assert_eq!(event.text("source.ip").as_deref(), Some("203.0.113.7"));
        assert_eq!(event.get("source.port"), Some(&Value::Int(22)));
        assert_eq!(event.text("event.outcome").as_deref(), Some("failure"));
    }
}
