//! Every command of the README's fenced blocks runs as written, from a
//! directory laid out as the README assumes: `./hinomi-data` filled by the
//! README's first command (`serve --demo`), `./sigma` a SigmaHQ checkout,
//! `./rules/hinomi` the repository's rule pack, `./logs` some logs, and
//! the built `hinomi` first on `PATH`. Commands that start a server and
//! `./scripts/test` (the suite this test is part of) are not run; the
//! demo server that fills the data directory gets loopback ports of its
//! own so that it runs beside other tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{sigma_dir, test_data};

/// The commands of the fenced blocks of `text`: continuation lines
/// joined, trailing comments cut.
fn fenced_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut inside, mut pending) = (false, String::new());
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
            continue;
        }
        if !inside {
            continue;
        }
        let line = match line.find(" # ") {
            Some(at) if !line[..at].contains('\'') || line[..at].matches('\'').count() % 2 == 0 => &line[..at],
            _ => line,
        };
        match line.trim_end().strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                let command = std::mem::take(&mut pending).split_whitespace().collect::<Vec<_>>().join(" ");
                if !command.is_empty() {
                    out.push(command);
                }
            }
        }
    }
    out
}

/// Commands this test does not run: servers, and the test suite itself.
fn not_run(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.first() == Some(&"./scripts/test") || words.contains(&"serve")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {secs}s waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Runs `command` as a shell would in `dir`, with `hinomi` on `PATH`.
fn sh(dir: &Path, command: &str) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_hinomi")).parent().expect("the binary's directory").to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", path)
        .env("HINOMI_LOG", "warn")
        .output()
        .expect("sh")
}

/// The demo's data directory, as `serve --demo` leaves it once its
/// attack chain is triaged and searchable.
fn fill_demo(dir: &Path) {
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        "[http]\nlisten = [\"127.0.0.1:0\"]\n[[syslog]]\nprotocol = \"udp\"\nlisten = \"127.0.0.1:0\"\n[store]\ncommit_interval_ms = 200\n",
    )
    .unwrap();
    let server = Command::new(env!("CARGO_BIN_EXE_hinomi"))
        .args(["serve", "--demo", "--data", "./hinomi-data", "--config", "serve.toml"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut server = Killed(server);
    wait_for("the demo's upload, triaged and stored", 120, || {
        let incidents = sh(dir, "hinomi incident list --data ./hinomi-data --tenant demo --format jsonl");
        let stored = sh(
            dir,
            "hinomi search --data ./hinomi-data --tenant demo 'cs-host:files.transfer-example.net' --from -1d --format jsonl",
        );
        String::from_utf8_lossy(&incidents.stdout).contains("Large Upload")
            && String::from_utf8_lossy(&stored.stdout).contains("files.transfer-example.net")
    });
    // Stopped as an operator stops it: SIGTERM, and wait.
    let _ = Command::new("kill").arg("-TERM").arg(server.0.id().to_string()).status();
    let _ = server.0.wait();
}

#[test]
fn every_readme_command_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = fenced_commands(&readme);
    assert!(commands.len() >= 12, "{commands:#?}");
    let dir: PathBuf = std::env::temp_dir().join(format!("hinomi-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::os::unix::fs::symlink(sigma_dir(), dir.join("sigma")).unwrap();
    std::os::unix::fs::symlink(root.join("rules"), dir.join("rules")).unwrap();
    std::fs::copy(test_data().join("triage/scenario.jsonl"), dir.join("logs/scenario.jsonl")).unwrap();
    fill_demo(&dir);
    let mut ran = 0;
    for command in commands.iter().filter(|c| !not_run(c)) {
        let started = Instant::now();
        let out = sh(&dir, command);
        eprintln!("ran in {:.1?}: {command}", started.elapsed());
        assert!(
            out.status.success(),
            "{command}\nexit: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        // What some of them must show on the demo's data.
        if command.starts_with("hinomi search") {
            assert!(stdout.to_lowercase().contains("srv-db-01"), "{command}: {stdout}");
        }
        if command.starts_with("hinomi incident list") {
            assert!(stdout.contains("Large Upload"), "{command}: {stdout}");
        }
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} commands ran");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readme_commands_are_read_as_a_shell_reads_them() {
    let text = "x\n```sh\nhinomi a --b c   # a comment\nhinomi d \\\n    --e f\n\ncargo run -- serve --demo\n```\nno\n";
    let got = fenced_commands(text);
    assert_eq!(got, ["hinomi a --b c", "hinomi d --e f", "cargo run -- serve --demo"]);
    assert!(not_run(&got[2]) && !not_run(&got[0]));
}
