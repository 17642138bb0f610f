//! A program run in a real pseudo-terminal, as a clerk's terminal would run the register:
//! used by the benchmark and the tests to drive the real binary. It owns opening the pair
//! (close-on-exec, so other children never keep it alive), making it the child's
//! controlling terminal, and a thread that reads what the program draws. It never parses
//! what is drawn.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};

/// A program on the slave side; its output arrives on `output`.
pub struct PtyChild {
    /// The terminal's side: write keys here.
    pub master: File,
    /// The program.
    pub child: Child,
    /// What it writes, in chunks as read; closed once it and every copy of the slave are gone.
    pub output: Receiver<Vec<u8>>,
}

/// Start `cmd` with stdin and stdout on a new `cols` x `rows` pseudo-terminal that is its
/// controlling terminal (stderr as the command says).
pub fn spawn(mut cmd: Command, (cols, rows): (u16, u16)) -> std::io::Result<PtyChild> {
    let (mut master, mut slave) = (-1, -1);
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the ints given; the winsize is valid and
    // no name or termios is asked for. fcntl on those two descriptors only.
    let (master, slave) = unsafe {
        if libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
        (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave))
    };
    cmd.stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?));
    // SAFETY: only async-signal-safe calls between fork and exec: a new session whose
    // controlling terminal is the pseudo-terminal on stdin.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(slave);
    let (tx, output) = channel();
    let mut reader = master.try_clone()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                // EIO once the program and every copy of the slave side are gone.
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(PtyChild {
        master,
        child,
        output,
    })
}
