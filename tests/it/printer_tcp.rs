//! A network receipt printer on its raw port (`tcp://HOST:9100`), played by the test on a
//! loopback TCP socket: `devices print-test` sends the job and reads the DLE EOT replies
//! over the connection, as with a LAN printer.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::common::{run, stderr};

#[test]
fn a_network_printer_on_its_raw_port_prints_and_reports_its_status() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let printer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut job = Vec::new();
        let mut buf = [0u8; 4096];
        let mut answered = 0;
        while answered < 4 {
            let n = conn.read(&mut buf).unwrap();
            assert!(
                n > 0,
                "the connection closed before the four status queries"
            );
            job.extend_from_slice(&buf[..n]);
            let tail = &job[job.len().saturating_sub(3)..];
            if tail.len() == 3 && tail[0] == 0x10 && tail[1] == 0x04 {
                answered += 1;
                conn.write_all(&[0x12]).unwrap();
            }
        }
        job
    });
    let out = run(&[
        "devices",
        "print-test",
        "--port",
        &format!("tcp://127.0.0.1:{port}"),
    ]);
    let job = printer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("status: ready; paper ok"), "{stdout}");
    assert_eq!(&job[..2], &[0x1B, 0x40], "the job starts with ESC @");
    assert!(
        job.windows(4).any(|w| w == [0x1D, 0x56, 66, 0]),
        "and is cut"
    );
}

#[test]
fn a_network_printer_that_is_not_there_is_named_in_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out = run(&[
        "devices",
        "print-test",
        "--port",
        &format!("tcp://127.0.0.1:{port}"),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
}
