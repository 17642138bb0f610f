//! The one-writer rule across processes: an exclusive `flock` on `<journal>.lock`, held for
//! as long as the journal is open for writing. A separate file, because closing any
//! descriptor of the database file itself would drop SQLite's own POSIX locks.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::JournalError;

pub(super) struct WriterLock {
    _file: File,
}

impl WriterLock {
    pub(super) fn acquire(journal: &Path) -> Result<WriterLock, JournalError> {
        // Two spellings of one journal must meet at one lock.
        let canonical = match (journal.parent(), journal.file_name()) {
            (Some(dir), Some(file)) => std::fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
            .map(|d| d.join(file))
            .unwrap_or_else(|_| journal.to_owned()),
            _ => journal.to_owned(),
        };
        let mut name = canonical.into_os_string();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    JournalError::LockFile {
                        path: journal.to_owned(),
                        lock: lock_path.clone(),
                        source,
                    }
                }
                _ => JournalError::Lock {
                    path: journal.to_owned(),
                    source,
                },
            })?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(JournalError::Busy {
                path: journal.to_owned(),
            });
        }
        Ok(WriterLock { _file: file })
    }
}
