//! The responder: loads response playbooks from their directory and runs
//! them (docs/respond.md).

use std::path::{Path, PathBuf};

use playbook::Playbook;

/// A playbook file that did not load: the file and the error (with its
/// line and column when it has them).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadFailure {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
    }
}

/// Whether a file is a playbook's test file (`NAME.test.yml`).
pub fn is_test_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".test.yml") || n.ends_with(".test.yaml"))
}

/// The playbook files under `paths` (files, or directories walked), in
/// name order; test files are not playbooks.
pub fn playbook_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            for entry in std::fs::read_dir(&p)? {
                todo.push(entry?.path());
            }
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") && !is_test_file(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Playbooks that loaded, each with its file.
pub type Loaded = Vec<(String, Playbook)>;

/// Loads every playbook under `paths`: the ones that load, and what was
/// wrong with the others (two playbooks of one tenant with one id: the
/// second is refused).
pub fn load_playbooks(paths: &[PathBuf]) -> std::io::Result<(Loaded, Vec<LoadFailure>)> {
    let (mut loaded, mut failed): (Loaded, Vec<LoadFailure>) = (Vec::new(), Vec::new());
    for path in playbook_files(paths)? {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                failed.push(LoadFailure { file, line: 0, col: 0, message: format!("reading it: {e}") });
                continue;
            }
        };
        match playbook::load(&text) {
            Ok(p) => {
                if let Some((other, _)) = loaded.iter().find(|(_, o)| o.tenant == p.tenant && o.id == p.id) {
                    let message = format!("playbook {:?} of tenant {:?} is also in {other}", p.id, p.tenant);
                    failed.push(LoadFailure { file, line: 1, col: 1, message });
                } else {
                    loaded.push((file, p));
                }
            }
            Err(e) => failed.push(LoadFailure { file, line: e.line, col: e.col, message: e.message }),
        }
    }
    Ok((loaded, failed))
}
