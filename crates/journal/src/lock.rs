//! The one-writer rule across processes: an exclusive `flock` on the journal file itself,
//! held for as long as the journal is open for writing. Deleting or replacing a file
//! beside the journal cannot let a second writer in (the lock was once on `<journal>.lock`,
//! which deleting let one in). Readers take no lock. The holder's pid is written to
//! `<journal>.lock` after the lock is taken, for the message a refused writer gets; the
//! kernel's lock table (`/proc/locks`) is asked first, so the message names the holder even
//! when that file was deleted.
//!
//! The catch: SQLite locks the same file with POSIX `fcntl` locks, and closing ANY
//! descriptor of a file drops every `fcntl` lock the process holds on it, its other
//! connections' included. So a descriptor of a journal file is closed only when no
//! [`Journal`](super::Journal) of this process has that file open any more: this module
//! keeps, per file (device and inode), how many journals of the process use it and the one
//! descriptor the `flock` is taken on; a `Journal` holds its [`FileUse`] in a field
//! declared after its connection, so the connection is closed first. (SQLite's own unix VFS
//! defers closing its descriptors the same way.)

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::JournalError;

/// A file by device and inode: two spellings of one journal (or a hard link) meet here.
type FileKey = (u64, u64);

/// What this process has of one journal file.
struct Entry {
    /// Journals of this process that have the file open, writer and readers.
    users: usize,
    /// The descriptor the writer's `flock` is taken on, once one was opened; closed only
    /// when `users` is back to zero.
    fd: Option<File>,
    /// Whether a journal of this process holds the writer lock.
    held: bool,
    /// Other descriptors of the file opened here (the file found under a second name
    /// meanwhile): closed with `fd`, never before.
    spare: Vec<File>,
}

static FILES: Mutex<BTreeMap<FileKey, Entry>> = Mutex::new(BTreeMap::new());

fn files() -> MutexGuard<'static, BTreeMap<FileKey, Entry>> {
    FILES.lock().unwrap_or_else(|e| e.into_inner())
}

/// One journal of this process using a file: a reader's, or with the writer lock.
pub(super) struct FileUse {
    key: FileKey,
    writer: bool,
}

impl FileUse {
    /// A reader's use of the existing file at `journal`: no lock, only counted, so that a
    /// writer of this process closing its descriptor does not drop this reader's SQLite
    /// locks. None when the file cannot be looked at (SQLite's open then says why).
    pub(super) fn reader(journal: &Path) -> Option<FileUse> {
        let meta = std::fs::metadata(journal).ok()?;
        let key = (meta.dev(), meta.ino());
        files()
            .entry(key)
            .or_insert(Entry {
                users: 0,
                fd: None,
                held: false,
                spare: Vec::new(),
            })
            .users += 1;
        Some(FileUse { key, writer: false })
    }

    /// The writer lock on the journal at `journal`, creating the file if missing (an empty
    /// file is an empty SQLite database). Refused with [`JournalError::Busy`], naming the
    /// holder's pid, while any other writer, of this process or another, holds it.
    pub(super) fn writer(journal: &Path) -> Result<FileUse, JournalError> {
        let mut files = files();
        let existing = std::fs::metadata(journal).ok().map(|m| (m.dev(), m.ino()));
        // This process may already have a descriptor of the file: use it, never a new one.
        let key = match existing.filter(|k| files.get(k).is_some_and(|e| e.fd.is_some())) {
            Some(key) => key,
            None => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(journal)
                    .map_err(|source| match source.kind() {
                        std::io::ErrorKind::PermissionDenied if existing.is_some() => {
                            JournalError::ReadOnly {
                                path: journal.to_owned(),
                            }
                        }
                        _ => JournalError::Create {
                            path: journal.to_owned(),
                            source,
                        },
                    })?;
                let meta = file.metadata().map_err(|source| JournalError::Lock {
                    path: journal.to_owned(),
                    source,
                })?;
                let key = (meta.dev(), meta.ino());
                let entry = files.entry(key).or_insert(Entry {
                    users: 0,
                    fd: None,
                    held: false,
                    spare: Vec::new(),
                });
                match &entry.fd {
                    None => entry.fd = Some(file),
                    Some(_) => entry.spare.push(file),
                }
                key
            }
        };
        let entry = files.get_mut(&key).expect("the entry was just made");
        let fd = entry.fd.as_ref().expect("the descriptor was just set");
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let taken = !entry.held
            && unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        let failure = (!taken && !entry.held)
            .then(std::io::Error::last_os_error)
            .filter(|e| e.kind() != std::io::ErrorKind::WouldBlock);
        if let Some(source) = failure {
            if entry.users == 0 {
                files.remove(&key);
            }
            return Err(JournalError::Lock {
                path: journal.to_owned(),
                source,
            });
        }
        if !taken {
            let pid = if entry.held {
                Some(std::process::id())
            } else {
                holder_pid(key).or_else(|| pid_file(journal))
            };
            if entry.users == 0 {
                // No journal of this process has the file open: closing is safe.
                files.remove(&key);
            }
            return Err(JournalError::Busy {
                path: journal.to_owned(),
                pid,
            });
        }
        entry.held = true;
        entry.users += 1;
        drop(files);
        // Only informative (the flock is the authority): a failure to write it is no
        // reason to refuse the journal.
        if let Ok(mut f) = File::create(pid_file_path(journal)) {
            let _ = writeln!(f, "{}", std::process::id());
        }
        Ok(FileUse { key, writer: true })
    }
}

impl Drop for FileUse {
    fn drop(&mut self) {
        let mut files = files();
        let Some(entry) = files.get_mut(&self.key) else {
            return;
        };
        if self.writer {
            entry.held = false;
            if let Some(fd) = &entry.fd {
                // SAFETY: as above.
                unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_UN) };
            }
        }
        entry.users -= 1;
        if entry.users == 0 {
            files.remove(&self.key);
        }
    }
}

/// `<journal>.lock`, beside the journal.
fn pid_file_path(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The pid the holder wrote to `<journal>.lock`, if the file is there.
fn pid_file(journal: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file_path(journal))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The pid holding an exclusive `flock` on the file, from the kernel's lock table
/// (`/proc/locks`: `1: FLOCK  ADVISORY  WRITE 1234 fe:00:5373988 0 EOF`, the device as
/// hex major:minor). None where there is no such table or no such lock.
///
/// The table is read a page at a time, by position; while other processes take and drop
/// locks between two reads, a line can be skipped (a busy machine running many tests at
/// once showed it). So a table without the lock is read again, up to three times in all.
fn holder_pid((dev, ino): FileKey) -> Option<u32> {
    let file = format!(
        "{:02x}:{:02x}:{ino}",
        libc::major(dev as libc::dev_t),
        libc::minor(dev as libc::dev_t)
    );
    (0..3).find_map(|_| {
        let table = std::fs::read_to_string("/proc/locks").ok()?;
        table.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [_, "FLOCK", _, "WRITE", pid, f, ..] if *f == file => pid.parse().ok(),
                _ => None,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::day::tests::{barcode, sale};
    use crate::{Journal, JournalError};

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_even_without_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut held = Journal::open(&path).unwrap();
        // What once let a second writer in.
        std::fs::remove_file(dir.path().join("j.db.lock")).unwrap();
        for spelling in [path.clone(), dir.path().join(".").join("j.db")] {
            match Journal::open(&spelling) {
                Err(JournalError::Busy { pid, .. }) => {
                    assert_eq!(pid, Some(std::process::id()))
                }
                other => panic!("a second writer got {other:?}"),
            }
        }
        let e = Journal::open(&path).unwrap_err().to_string();
        assert!(
            e.contains(&format!("is in use by pid {}", std::process::id())),
            "{e}"
        );
        // Readers need no lock; the refusals dropped none of the writer's SQLite locks.
        let reader = Journal::open_read_only(&path).unwrap();
        let slips = vec![barcode(1, 1_000, false)];
        held.commit_sale(&sale("2026-11-28T09:00:00+09:00", None, slips, 1_000), None)
            .unwrap();
        assert_eq!(reader.verify(None).unwrap().sales, 1);
        // Given up with the journal, the lock is free again, readers open or not.
        drop(held);
        let mut again = Journal::open(&path).unwrap();
        let slips = vec![barcode(2, 1_000, false)];
        again
            .commit_sale(&sale("2026-11-28T09:01:00+09:00", None, slips, 1_000), None)
            .unwrap();
        assert_eq!(reader.verify(None).unwrap().sales, 2);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("j.db.lock"))
                .unwrap()
                .trim(),
            std::process::id().to_string(),
            "the holder's pid, for others to read"
        );
    }

    #[test]
    fn a_lock_taken_by_another_descriptor_refuses_a_writer_naming_its_pid() {
        // What another process's writer looks like from here: a flock on another open
        // file description of the journal file, the lock file gone.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        drop(Journal::open(&path).unwrap());
        std::fs::remove_file(dir.path().join("j.db.lock")).unwrap();
        let other = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this test owns.
        assert_eq!(
            unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
            0
        );
        match Journal::open(&path) {
            Err(JournalError::Busy { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("a second writer got {other:?}"),
        }
        assert!(Journal::open_read_only(&path).unwrap().verify(None).is_ok());
        drop(other);
        drop(Journal::open(&path).unwrap());
    }
}
