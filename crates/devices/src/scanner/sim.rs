//! `konbini scanner-sim`: a virtual serial scanner on a pseudo-terminal (the same
//! pseudo-terminal pair also plays a serial printer in tests). It prints the
//! device path, optionally points a stable name at it (as udev would), then "scans" each
//! line of its input: the frame with the configured suffix, paced at the line's baud rate
//! (10 bits a byte, 8N1), with a pause between scans as a clerk's hand makes.

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the virtual scanner appends to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Suffix {
    /// CR LF.
    #[default]
    Crlf,
    /// CR.
    Cr,
    /// LF.
    Lf,
    /// Nothing (a misconfigured scanner: the reader's inter-byte timeout ends the frame).
    None,
    /// STX before, ETX after.
    StxEtx,
}

impl Suffix {
    /// The bytes on the wire for one frame.
    pub fn wire(self, frame: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(frame.len() + 2);
        if self == Suffix::StxEtx {
            out.push(0x02);
        }
        out.extend_from_slice(frame.as_bytes());
        out.extend_from_slice(match self {
            Suffix::Crlf => b"\r\n",
            Suffix::Cr => b"\r",
            Suffix::Lf => b"\n",
            Suffix::None => b"",
            Suffix::StxEtx => b"\x03",
        });
        out
    }
}

/// A pseudo-terminal pair in raw mode: the master is the scanner's end of the cable, the
/// slave is the device the register opens.
pub struct VirtualPort {
    master: File,
    _slave: OwnedFd,
    path: PathBuf,
}

impl VirtualPort {
    /// Open a new pair.
    pub fn open() -> std::io::Result<VirtualPort> {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors into the ints we pass; the termios is
        // initialised by cfmakeraw before use; ptsname's buffer is copied at once.
        unsafe {
            let mut raw: libc::termios = std::mem::zeroed();
            libc::cfmakeraw(&mut raw);
            if libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                &raw,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            let master = File::from_raw_fd(master);
            let slave = OwnedFd::from_raw_fd(slave);
            let mut name = [0 as libc::c_char; 128];
            if libc::ptsname_r(master_fd(&master), name.as_mut_ptr(), name.len()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let path = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_string_lossy()
                .into_owned();
            Ok(VirtualPort {
                master,
                _slave: slave,
                path: PathBuf::from(path),
            })
        }
    }

    /// The device path to open (`/dev/pts/N`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Point `link` at this device, replacing what it pointed at, atomically.
    pub fn link(&self, link: &Path) -> std::io::Result<()> {
        point_link(&self.path, link)
    }

    /// The cable's far end: what a program writes to the device is read here (a printer
    /// simulated by a test reads jobs and answers status queries through it).
    pub fn far_end(&mut self) -> &mut File {
        &mut self.master
    }

    /// Send bytes as the scanner would at `baud` (None: all at once).
    pub fn send(&mut self, bytes: &[u8], baud: Option<u32>) -> std::io::Result<()> {
        match baud {
            None => self.master.write_all(bytes)?,
            Some(baud) => {
                let per_byte = Duration::from_secs_f64(10.0 / f64::from(baud.max(1)));
                for b in bytes {
                    self.master.write_all(&[*b])?;
                    std::thread::sleep(per_byte);
                }
            }
        }
        self.master.flush()
    }
}

fn master_fd(f: &File) -> libc::c_int {
    use std::os::fd::AsRawFd;
    f.as_raw_fd()
}

/// Scan every non-blank line of `input` through `port`, `gap` apart; returns how many.
pub fn scan_lines(
    port: &mut VirtualPort,
    input: &mut dyn BufRead,
    suffix: Suffix,
    baud: Option<u32>,
    gap: Duration,
) -> std::io::Result<u64> {
    let mut n = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(n);
        }
        let frame = line.trim_end_matches(['\r', '\n']);
        if frame.trim().is_empty() {
            continue;
        }
        // `\x1d` in the input stands for GS (FNC1), as scanners send it.
        let frame = frame.replace("\\x1d", "\u{1d}");
        if n > 0 {
            std::thread::sleep(gap);
        }
        port.send(&suffix.wire(&frame), baud)?;
        n += 1;
    }
}

/// Point the symlink `link` at `device`, replacing what it pointed at, atomically (a new
/// link beside it, renamed over), as udev gives a device its stable name.
pub fn point_link(device: &Path, link: &Path) -> std::io::Result<()> {
    let tmp = link.with_extension("konbini-new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(device, &tmp)?;
    std::fs::rename(&tmp, link)
}
