//! The checkpoint: how far the log is reflected in the journals, written
//! atomically (temporary file, sync, rename) after the journals are synced.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::JournalPos;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Log position of the first frame not yet in the journals.
    pub wal: u64,
    pub journals: BTreeMap<String, JournalPos>,
}

impl Checkpoint {
    /// Reads `path`; a missing file is the empty checkpoint of a new
    /// data directory.
    pub fn load(path: &Path) -> io::Result<Checkpoint> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::other(format!("{}: damaged checkpoint: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(self).map_err(io::Error::other)?)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}
