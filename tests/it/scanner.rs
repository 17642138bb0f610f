//! The serial scanner reader over real pseudo-terminals: the test holds the master end (the
//! "scanner"), the reader opens the slave by a symlink, as it would `/dev/konbini/scanner`.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use std::time::Duration;

use konbini_devices::scanner::reader::{self, ReaderConfig, ReaderStats, ScannerEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::common::tempdir;

const CODE: &str = "]C191912345012345678901234567890101033101230003";
const CODE2: &str = "]C191959919833262024010101043480024071000395003";

/// A pseudo-terminal pair in raw mode: the master is the scanner's end of the cable.
/// Dropping it is an unplug: the device goes and, as udev does on removal, so does its
/// stable name (a stale name could meet a reused pty number of another test).
pub struct Plug {
    master: File,
    _slave: OwnedFd,
    link: PathBuf,
}

impl Drop for Plug {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
    }
}

pub fn plug_in(link: &Path) -> Plug {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors; the termios is fully initialised first.
    let slave_path = unsafe {
        let mut raw: libc::termios = std::mem::zeroed();
        libc::cfmakeraw(&mut raw);
        assert_eq!(
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                &raw,
                std::ptr::null()
            ),
            0,
            "openpty"
        );
        // Not inherited by programs the tests start (a register under test must see the
        // unplug: an inherited master would keep the line up).
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
        let name = libc::ptsname(master);
        PathBuf::from(std::ffi::CStr::from_ptr(name).to_str().unwrap())
    };
    // Point the stable name at this device, atomically, as udev would.
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&slave_path, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
    // SAFETY: both descriptors were just created by openpty and are owned here.
    unsafe {
        Plug {
            master: File::from_raw_fd(master),
            _slave: OwnedFd::from_raw_fd(slave),
            link: link.to_owned(),
        }
    }
}

struct Harness {
    events: mpsc::Receiver<ScannerEvent>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<ReaderStats>,
}

/// A reader whose inter-byte timeout is long enough that a stalled test thread on a busy
/// machine never splits a frame.
fn start(link: &Path) -> Harness {
    start_with(link, Duration::from_secs(2))
}

fn start_with(link: &Path, inter_byte_timeout: Duration) -> Harness {
    let mut config = ReaderConfig::new(link);
    config.reconnect = konbini_domain::retry::RetryPolicy::exponential(
        Duration::from_millis(10),
        Duration::from_millis(50),
    );
    config.inter_byte_timeout = inter_byte_timeout;
    let (tx, events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(reader::run(config, tx, cancel.clone()));
    Harness {
        events,
        cancel,
        task,
    }
}

impl Harness {
    /// The next event (a hang guard, not a timing assertion).
    async fn next(&mut self) -> ScannerEvent {
        tokio::time::timeout(Duration::from_secs(20), self.events.recv())
            .await
            .expect("an event within 20 s")
            .expect("reader alive")
    }

    async fn next_frame(&mut self) -> String {
        loop {
            if let ScannerEvent::Frame(f) = self.next().await {
                return f.text;
            }
        }
    }

    async fn connected(&mut self) {
        loop {
            if self.next().await == ScannerEvent::Connected {
                return;
            }
        }
    }

    async fn stop(self) -> ReaderStats {
        self.cancel.cancel();
        self.task.await.unwrap()
    }
}

pub fn send(plug: &mut Plug, bytes: &[u8]) {
    plug.master.write_all(bytes).unwrap();
    plug.master.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_split_at_every_byte_arrive_whole() {
    let dir = tempdir();
    let link = dir.path().join("scanner");
    let mut plug = plug_in(&link);
    let mut h = start(&link);
    h.connected().await;
    let wire = format!("{CODE}\r\n{CODE2}\r");
    for b in wire.as_bytes() {
        send(&mut plug, &[*b]);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(h.next_frame().await, CODE);
    assert_eq!(h.next_frame().await, CODE2);
    let stats = h.stop().await;
    assert_eq!(stats.codec.frames, 2);
    drop(plug);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_a_100_kb_line_and_a_lost_suffix_are_survived_and_counted() {
    let dir = tempdir();
    let link = dir.path().join("scanner");
    let mut plug = plug_in(&link);
    // Short, so that a lost suffix is dropped soon; the wait below is far longer, so the
    // reader sees the timeout before the next frame even when it is slow to be scheduled.
    let mut h = start_with(&link, Duration::from_millis(100));
    h.connected().await;
    // A wrong baud rate looks like this: bytes that are not text.
    send(&mut plug, b"\xff\xfe\x80garbage\x00\r");
    assert!(h.next_frame().await.contains('\u{fffd}'));
    // 100 KB without an end, then an end: discarded, counted, memory bounded.
    send(&mut plug, &vec![b'9'; 100 * 1024]);
    send(&mut plug, b"\r\n");
    // A frame whose suffix never comes: dropped after the inter-byte timeout...
    send(&mut plug, b"]C19191234");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // ...so the next frame is not glued to it.
    send(&mut plug, format!("{CODE}\r\n").as_bytes());
    assert_eq!(h.next_frame().await, CODE);
    let stats = h.stop().await;
    assert_eq!(stats.codec.oversize, 1);
    assert_eq!(stats.codec.partial, 1);
    assert_eq!(stats.codec.invalid_utf8, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rereads_within_the_window_are_one_scan() {
    let dir = tempdir();
    let link = dir.path().join("scanner");
    let mut plug = plug_in(&link);
    let mut h = start(&link);
    h.connected().await;
    send(
        &mut plug,
        format!("{CODE}\r{CODE}\r{CODE}\r{CODE2}\r").as_bytes(),
    );
    assert_eq!(h.next_frame().await, CODE);
    assert_eq!(h.next_frame().await, CODE2);
    assert_eq!(h.stop().await.rereads, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplugged_mid_frame_and_plugged_back_under_the_same_name() {
    let dir = tempdir();
    let link = dir.path().join("scanner");
    let mut plug = plug_in(&link);
    let mut h = start(&link);
    h.connected().await;
    send(&mut plug, format!("{CODE}\r\n").as_bytes());
    assert_eq!(h.next_frame().await, CODE);
    // Half a frame, then the cable is pulled.
    send(&mut plug, &CODE2.as_bytes()[..20]);
    drop(plug);
    loop {
        match h.next().await {
            ScannerEvent::Disconnected { .. } => break,
            ScannerEvent::Frame(f) => panic!("a partial frame came through: {f:?}"),
            ScannerEvent::Connected => {}
        }
    }
    // Some time unplugged: the reader keeps retrying without flooding the app.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Plugged back: a new device node (the kernel may reuse the number), the same name.
    let mut plug = plug_in(&link);
    h.connected().await;
    send(&mut plug, format!("{CODE2}\r\n").as_bytes());
    assert_eq!(
        h.next_frame().await,
        CODE2,
        "no frame sent after the replug is lost"
    );
    let stats = h.stop().await;
    assert_eq!(stats.connects, 2);
    assert_eq!(stats.codec.frames, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_is_not_there_yet_is_waited_for() {
    let dir = tempdir();
    let link = dir.path().join("scanner");
    let mut h = start(&link);
    match h.next().await {
        ScannerEvent::Disconnected { error } => assert!(!error.is_empty()),
        other => panic!("{other:?}"),
    }
    let mut plug = plug_in(&link);
    h.connected().await;
    send(&mut plug, format!("{CODE}\n").as_bytes());
    assert_eq!(h.next_frame().await, CODE);
    h.stop().await;
}

/// `konbini scanner-sim` feeding `konbini devices scan-test`, both the real binary, through
/// a pseudo-terminal under a stable name; the scanner is unplugged (the simulator exits)
/// and plugged back (a second simulator under the same name) mid-test.
#[test]
fn scan_test_reads_the_simulator_through_an_unplug() {
    use konbini_domain::{BillBarcode, BillFields, Deadline, Yen};
    use std::process::{Command, Stdio};

    let dir = tempdir();
    let link = dir.path().join("scanner");
    let good = BillBarcode::build(&BillFields {
        company_code: "912345",
        free_area: "42",
        reissue: 0,
        deadline: Deadline::None,
        stamp: false,
        amount: Yen::new(1200),
    })
    .unwrap();
    let first = dir.path().join("first.txt");
    std::fs::write(&first, format!("]C1{good}\n\n]E04912345678904\n")).unwrap();
    let second = dir.path().join("second.txt");
    std::fs::write(
        &second,
        format!("]C1\\x1d{good}\n{}\n", &good.as_str()[..43]),
    )
    .unwrap();
    let sim = |input: &Path, hold: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_konbini"));
        cmd.args([
            "scanner-sim",
            "--input",
            input.to_str().unwrap(),
            "--link",
            link.to_str().unwrap(),
            "--gap-ms",
            "50",
            "--baud",
            "38400",
        ]);
        if hold {
            cmd.arg("--hold");
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    assert!(sim(&first, false).wait().unwrap().success());
    // The first scanner has come and gone; the test starts now and must wait for it.
    let mut test = Command::new(env!("CARGO_BIN_EXE_konbini"))
        .args([
            "devices",
            "scan-test",
            "--port",
            link.to_str().unwrap(),
            "--count",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its stderr is read as it comes: the scanner is plugged back only once the test has
    // said it is waiting, however long it takes to start.
    let (said, heard) = std::sync::mpsc::channel();
    let stderr = BufReader::new(test.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains("not connected") {
                let _ = said.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    heard
        .recv_timeout(Duration::from_secs(30))
        .expect("scan-test says it is waiting for the scanner");
    // Plugged back, and it stays plugged until the test has read it.
    let mut second_sim = sim(&second, true);
    let out = test.wait_with_output().unwrap();
    second_sim.kill().unwrap();
    second_sim.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(out.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["frame"], format!("]C1\u{1d}{good}"));
    assert_eq!(lines[0]["symbology"], "]C1");
    assert_eq!(lines[0]["outcome"], "accepted");
    assert_eq!(lines[1]["symbology"], serde_json::Value::Null);
    assert_eq!(lines[1]["outcome"], "malformed");
    assert!(lines[0]["at"].as_str().unwrap().ends_with("+09:00"));
    assert!(err.contains("not connected"), "{err}");
    assert!(err.contains("connected"), "{err}");
}
