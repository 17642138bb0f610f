//! Where printer bytes go: a serial ESC/POS printer (any tty, at its baud rate, through
//! linux-embedded-hal's `Serial`, i.e. the embedded-hal-nb serial traits a firmware's UART
//! would implement too), a USB printer-class device file (`/dev/usb/lp*`), or a network
//! printer's raw port (`tcp://HOST:9100`), and the DLE EOT status query over any of them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use konbini_firmware::escpos::{Command, PrinterStatus, StatusKind};

/// What stops the printer, as a clerk would be told: cover open, paper end, cutter error,
/// unrecoverable error; `offline` only when nothing more specific explains it (a printer
/// with its cover open is also offline). Empty: ready.
pub fn status_problems(s: &PrinterStatus) -> Vec<&'static str> {
    let mut p: Vec<&'static str> = [
        (s.cover_open, "cover open"),
        (s.paper_end, "paper end"),
        (s.cutter_error, "cutter error"),
        (s.unrecoverable, "unrecoverable error"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if p.is_empty() && s.offline {
        p.push("offline");
    }
    p
}

/// How long to wait for one status byte.
pub const STATUS_TIMEOUT: Duration = Duration::from_millis(800);

/// An open printer.
pub struct PrinterPort {
    path: PathBuf,
    file: Link,
}

/// The byte stream to the printer.
enum Link {
    /// A serial port, driven through the embedded-hal-nb serial traits.
    Serial(linux_embedded_hal::Serial),
    /// A device file.
    File(File),
    /// A network printer's raw port (JetDirect, usually 9100).
    Tcp(TcpStream),
}

impl Link {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Link::Serial(s) => {
                for &b in bytes {
                    nb::block!(embedded_hal_nb::serial::Write::write(s, b))
                        .map_err(serial_error)?;
                }
                Ok(())
            }
            Link::File(f) => f.write_all(bytes),
            Link::Tcp(s) => s.write_all(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Link::Serial(s) => {
                nb::block!(embedded_hal_nb::serial::Write::flush(s)).map_err(serial_error)
            }
            Link::File(f) => f.flush(),
            Link::Tcp(s) => s.flush(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Link::Serial(s) => match embedded_hal_nb::serial::Read::read(s) {
                Ok(b) => {
                    buf[0] = b;
                    Ok(1)
                }
                Err(nb::Error::WouldBlock) => Ok(0),
                Err(nb::Error::Other(e)) => Err(serial_error(e)),
            },
            Link::File(f) => f.read(buf),
            Link::Tcp(s) => s.read(buf),
        }
    }

    fn as_raw_fd(&self) -> RawFd {
        match self {
            Link::Serial(s) => s.0.as_raw_fd(),
            Link::File(f) => f.as_raw_fd(),
            Link::Tcp(s) => s.as_raw_fd(),
        }
    }
}

fn serial_error(e: linux_embedded_hal::SerialError) -> std::io::Error {
    std::io::Error::new(*e.inner(), e)
}

/// How long to wait for a network printer to accept the connection.
/// Longest a write to a network printer may block.
const TCP_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What the printer answered to DLE EOT 1-4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusReport {
    /// All four replies, decoded.
    Status(PrinterStatus),
    /// No reply in time (USB printers without a read channel, or no printer at all).
    NoReply,
    /// A reply that is not a status byte (ASB on, or another protocol).
    Garbled(u8),
}

impl PrinterPort {
    /// Open `path`. `tcp://HOST:PORT` connects to a network printer's raw port; a tty is
    /// put in raw mode at `baud` (8N1); a device file is used as is.
    pub fn open(path: &Path, baud: u32) -> std::io::Result<PrinterPort> {
        if let Some(addr) = path.to_str().and_then(|p| p.strip_prefix("tcp://")) {
            use std::net::ToSocketAddrs;
            let mut last = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{addr:?} names no address (expected tcp://HOST:PORT)"),
            );
            for sa in addr.to_socket_addrs()? {
                match TcpStream::connect_timeout(&sa, TCP_CONNECT_TIMEOUT) {
                    Ok(stream) => {
                        stream.set_nodelay(true)?;
                        // A printer that stops reading (paper out, jammed) must not hang
                        // its sender for ever.
                        stream.set_write_timeout(Some(TCP_WRITE_TIMEOUT))?;
                        return Ok(PrinterPort {
                            path: path.to_owned(),
                            file: Link::Tcp(stream),
                        });
                    }
                    Err(e) => last = e,
                }
            }
            return Err(last);
        }
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        // SAFETY: isatty on a descriptor we own.
        if unsafe { libc::isatty(file.as_raw_fd()) } != 1 {
            return Ok(PrinterPort {
                path: path.to_owned(),
                file: Link::File(file),
            });
        }
        drop(file);
        if ![9600, 19200, 38400, 57600, 115200].contains(&baud) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("baud rate {baud} is not one of 9600, 19200, 38400, 57600, 115200"),
            ));
        }
        // Raw 8N1 at `baud`, no flow control (what ESC/POS printers ship with).
        let serial = linux_embedded_hal::Serial::open(path.display().to_string(), baud)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(PrinterPort {
            path: path.to_owned(),
            file: Link::Serial(serial),
        })
    }

    /// The device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Send a job.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.file.flush()
    }

    /// Ask DLE EOT 1, 2, 3 and 4 and decode the replies.
    pub fn status(&mut self) -> std::io::Result<StatusReport> {
        self.status_of(&[
            StatusKind::Printer,
            StatusKind::Offline,
            StatusKind::Error,
            StatusKind::Paper,
        ])
    }

    /// Ask DLE EOT 4 alone: the roll paper sensor. Paper end here means no paper now,
    /// where DLE EOT 2 also says "printing was stopped by paper end" until the next job.
    pub fn paper_sensor(&mut self) -> std::io::Result<StatusReport> {
        self.status_of(&[StatusKind::Paper])
    }

    fn status_of(&mut self, kinds: &[StatusKind]) -> std::io::Result<StatusReport> {
        let mut status = PrinterStatus::default();
        for &kind in kinds {
            let mut query = Vec::new();
            Command::Status(kind).encode(&mut |b: &[u8]| query.extend_from_slice(b));
            self.send(&query)?;
            let Some(byte) = self.read_byte(STATUS_TIMEOUT)? else {
                return Ok(StatusReport::NoReply);
            };
            if status.apply(kind, byte).is_err() {
                return Ok(StatusReport::Garbled(byte));
            }
        }
        Ok(StatusReport::Status(status))
    }

    fn read_byte(&mut self, timeout: Duration) -> std::io::Result<Option<u8>> {
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one pollfd we own.
        let ready = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
        if ready < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if ready == 0 || pfd.revents & libc::POLLIN == 0 {
            return Ok(None);
        }
        let mut b = [0u8; 1];
        match self.file.read(&mut b)? {
            0 => Ok(None),
            _ => Ok(Some(b[0])),
        }
    }
}
