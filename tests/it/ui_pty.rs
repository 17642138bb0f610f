//! The real `konbini` binary in a real pseudo-terminal, read through a vt100 screen parser:
//! what a clerk at a real terminal sees and types. Keys are the bytes a terminal sends.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::common::{export, export_with_records, konbini, run, stderr, tempdir};

pub const F2: &str = "\x1bOQ";
pub const F3: &str = "\x1bOR";
pub const F4: &str = "\x1bOS";
pub const F5: &str = "\x1b[15~";
pub const F6: &str = "\x1b[17~";
pub const DOWN: &str = "\x1b[B";
pub const ESC: &str = "\x1b";

/// A program running in a pseudo-terminal of `cols` x `rows`.
pub struct Pty {
    master: File,
    bytes: Receiver<Vec<u8>>,
    parser: vt100::Parser,
    pub child: Child,
}

impl Pty {
    pub fn spawn(args: &[&str], cwd: &Path, (cols, rows): (u16, u16)) -> Pty {
        let mut cmd = konbini();
        cmd.args(args)
            .current_dir(cwd)
            .env("TERM", "xterm-256color")
            .stderr(Stdio::from(
                File::create(cwd.join("stderr.txt")).expect("stderr file"),
            ));
        let konbini_bench::pty::PtyChild {
            master,
            child,
            output: bytes,
        } = konbini_bench::pty::spawn(cmd, (cols, rows)).expect("konbini in a pty");
        Pty {
            master,
            bytes,
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(rows).expect("rows"),
                std::num::NonZeroU16::new(cols).expect("cols"),
                0,
            ),
            child,
        }
    }

    /// Type these bytes, as the terminal would send them.
    pub fn send(&mut self, keys: &str) {
        self.master
            .write_all(keys.as_bytes())
            .expect("write to the pty");
        self.master.flush().unwrap();
    }

    /// The screen now (after reading what has arrived).
    pub fn screen(&mut self) -> String {
        while let Ok(b) = self.bytes.try_recv() {
            self.parser.process(&b);
        }
        self.parser.screen().contents()
    }

    /// Wait until the screen shows `needle`; the screen.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(b) = self.bytes.recv_timeout(Duration::from_millis(50)) {
                self.parser.process(&b);
            }
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            if Instant::now() > end {
                panic!("{needle:?} did not appear within {timeout:?}; the screen:\n{screen}");
            }
        }
    }

    /// Wait until the screen is as `done` wants; the screen.
    pub fn wait_until(&mut self, done: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(b) = self.bytes.recv_timeout(Duration::from_millis(50)) {
                self.parser.process(&b);
            }
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            if Instant::now() > end {
                panic!("the screen did not get there within {timeout:?}:\n{screen}");
            }
        }
    }

    /// Wait for the program to exit; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + timeout;
        loop {
            while let Ok(b) = self.bytes.try_recv() {
                self.parser.process(&b);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("konbini did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.master.as_raw_fd();
    }
}

/// The journal export without the sync states (the live register's sales were sent; a
/// replay without a network keeps them pending).
fn sales_without_sync(journal: &Path) -> Vec<serde_json::Value> {
    export(journal)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for slip in v["slips"].as_array_mut().unwrap() {
                slip.as_object_mut().unwrap().remove("sync");
            }
            v
        })
        .collect()
}

#[test]
fn the_default_command_sells_a_demo_slip_and_shows_the_change() {
    let dir = tempdir();
    // No subcommand, no flags: the register on embedded defaults.
    let mut pty = Pty::spawn(&[], dir.path(), (120, 40));
    pty.wait_for("オンライン", Duration::from_secs(30));
    // The first demo voucher is ¥1,980.
    pty.send(F5);
    let screen = pty.wait_for("追加しました ¥1,980", Duration::from_secs(20));
    // The voucher the trainer scanned, at hand: its page on the embedded network.
    let page = screen
        .lines()
        .find_map(|l| l.split("デモ払込票のページ: ").nth(1))
        .unwrap_or_else(|| panic!("no voucher page on the screen:\n{screen}"))
        .trim()
        .to_owned();
    assert!(page.starts_with("http://127.0.0.1:"), "{page}");
    assert!(page.contains("/vouchers/"), "{page}");
    pty.send("5000\r");
    pty.wait_for("お預り ¥5,000", Duration::from_secs(10));
    pty.send("\r");
    let screen = pty.wait_for("お会計完了 No.000001", Duration::from_secs(10));
    assert!(screen.contains("おつり ¥3,020"), "{screen}");
    // The network was told: the journal screen shows the sale sent.
    pty.send(F3);
    pty.wait_for("送信済", Duration::from_secs(20));
    pty.send("\x1b");
    pty.wait_for("F2 番号入力", Duration::from_secs(5));
    // F6 inside the key-in dialog fills it with the next demo's numbers, and its page.
    pty.send(F2);
    pty.wait_for("番号入力（ペーパーレス決済）", Duration::from_secs(5));
    pty.send(F6);
    let screen = pty.wait_until(
        |screen| {
            screen
                .lines()
                .any(|l| l.contains("お支払い番号") && l.chars().any(|c| c.is_ascii_digit()))
        },
        Duration::from_secs(20),
    );
    assert!(!screen.contains(&page), "the next voucher's page: {screen}");
    assert!(screen.contains("デモ払込票のページ: http://"), "{screen}");
    pty.send("\x1b");
    pty.wait_for("F2 番号入力", Duration::from_secs(5));
    pty.send("q");
    let status = pty.wait_exit(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit {status}: {}",
        std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default()
    );

    assert!(dir.path().join("konbini.db").exists());
    assert!(dir.path().join("receipts/T01-000001.png").exists());
    let sessions: Vec<_> = std::fs::read_dir(dir.path().join("sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    // The recorded session replays to the same sale.
    let fresh = dir.path().join("replayed.db");
    let out = run(&[
        "replay",
        sessions[0].to_str().unwrap(),
        "--journal",
        fresh.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let replayed = sales_without_sync(&fresh);
    assert_eq!(replayed.len(), 1);
    assert_eq!(sales_without_sync(&dir.path().join("konbini.db")), replayed);
}

#[test]
fn key_in_with_the_network_down_is_refused_offline_and_the_screen_stays_live() {
    let dir = tempdir();
    // An upstream nobody listens on.
    let mut pty = Pty::spawn(
        &[
            "register",
            "--upstream",
            "http://127.0.0.1:9",
            "--terminal-secret",
            "s",
        ],
        dir.path(),
        (120, 40),
    );
    pty.wait_for("オフライン", Duration::from_secs(30));
    pty.send(F2);
    pty.wait_for("番号入力（ペーパーレス決済）", Duration::from_secs(5));
    pty.send("123456789012\t09012345678\r");
    pty.wait_for("決済ネットワークに接続できません", Duration::from_secs(20));
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
}

/// A valid slip with no deadline, as a scanner sends it (AIM prefix, CR LF).
fn scanned(free: &str, amount: u64) -> String {
    let code = konbini_domain::BillBarcode::build(&konbini_domain::BillFields {
        company_code: "958001",
        free_area: free,
        reissue: 0,
        deadline: konbini_domain::Deadline::None,
        stamp: false,
        amount: konbini_domain::Yen::new(amount),
    })
    .unwrap();
    format!("]C1{code}\r\n")
}

/// Flags for a register with no network at all (a closed port: offline, never waiting).
const OFFLINE: [&str; 4] = ["--upstream", "http://127.0.0.1:9", "--terminal-secret", "x"];

#[test]
fn the_scanner_unplugged_mid_sale_is_shown_and_the_sale_kept() {
    let dir = tempdir();
    let link = dir.path().join("scanner");
    let mut plug = crate::scanner::plug_in(&link);
    let mut args = vec!["register", "--scanner", link.to_str().unwrap()];
    args.extend(OFFLINE);
    let mut pty = Pty::spawn(&args, dir.path(), (120, 40));
    pty.wait_for("スキャナ 接続", Duration::from_secs(20));
    crate::scanner::send(&mut plug, scanned("8001", 1_500).as_bytes());
    pty.wait_for("合計 ¥1,500", Duration::from_secs(10));
    drop(plug); // unplugged
    let screen = pty.wait_for("スキャナ 切断", Duration::from_secs(10));
    assert!(
        screen.contains("合計 ¥1,500"),
        "the sale is still there:\n{screen}"
    );
    // Plugged back in under the same name: scans go on into the same sale.
    let mut plug = crate::scanner::plug_in(&link);
    pty.wait_for("スキャナ 接続", Duration::from_secs(20));
    crate::scanner::send(&mut plug, scanned("8002", 500).as_bytes());
    pty.wait_for("合計 ¥2,000", Duration::from_secs(10));
    pty.send("2000\r");
    pty.wait_for("お預り ¥2,000", Duration::from_secs(10));
    pty.send("\r");
    pty.wait_for("お会計完了 No.000001", Duration::from_secs(10));
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    let exported = export(&dir.path().join("konbini.db"));
    assert!(exported.contains("\"total_yen\":2000"), "{exported}");
}

#[test]
fn paper_out_at_complete_keeps_the_sale_and_prints_when_paper_is_back() {
    let dir = tempdir();
    let out_dir = dir.path().join("printed");
    let paper_out = dir.path().join("paper-out");
    std::fs::write(&paper_out, b"").unwrap();
    let mut sim = crate::printer::PrinterSim::start(
        &out_dir,
        &["--paper-out-file", paper_out.to_str().unwrap()],
    );
    let mut args = vec!["register", "--printer", sim.device.as_str()];
    args.extend(OFFLINE);
    let mut pty = Pty::spawn(&args, dir.path(), (120, 40));
    pty.wait_for("F2 番号入力", Duration::from_secs(20));
    pty.send(&scanned("9001", 2_400).replace("\r\n", "\r"));
    pty.wait_for("合計 ¥2,400", Duration::from_secs(10));
    pty.send("3000\r");
    pty.wait_for("お預り ¥3,000", Duration::from_secs(10));
    pty.send("\r");
    let screen = pty.wait_for("印刷できません", Duration::from_secs(15));
    assert!(
        screen.contains("用紙切れ"),
        "the reason is shown:\n{screen}"
    );
    assert!(screen.contains("おつり ¥600"), "{screen}");
    // The sale is journaled whatever the paper.
    assert!(export(&dir.path().join("konbini.db")).contains("\"change_yen\":600"));
    // Paper back: the held receipt prints by itself.
    std::fs::remove_file(&paper_out).unwrap();
    pty.wait_for("領収書 No.000001 を印刷しました", Duration::from_secs(20));
    // The drawer was kicked at complete (paper or not); then the receipt printed.
    let kick = sim.next_line();
    assert_eq!(kick, "drawer kick: pin 2, 100 ms on, 200 ms off");
    let line = sim.next_line();
    assert!(line.starts_with("job-0001: "), "{line}");
    let job = std::fs::read_to_string(out_dir.join("job-0001.txt")).unwrap();
    assert!(job.contains("T01-000001"), "{job}");
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    sim.stop();
}

#[test]
fn an_old_print_backlog_is_left_to_print_queue_and_new_sales_print() {
    let dir = tempdir();
    let journal = dir.path().join("konbini.db");
    // Three sales of an earlier day replayed without a printer: three receipts queued.
    crate::common::replay_json(
        &crate::common::shipped_log("edge-cases.jsonl"),
        &journal,
        &[],
    );
    let mut args = vec!["register"];
    args.extend(OFFLINE);
    let mut pty = Pty::spawn(&args, dir.path(), (120, 40));
    pty.wait_for("正常 3件", Duration::from_secs(20));
    pty.send(&scanned("9101", 700).replace("\r\n", "\r"));
    pty.wait_for("合計 ¥700", Duration::from_secs(10));
    pty.send("1000\r\r");
    pty.wait_for("お会計完了 No.000004", Duration::from_secs(10));
    let receipt = dir.path().join("receipts/T01-000004.png");
    let end = Instant::now() + Duration::from_secs(10);
    while !receipt.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(receipt.exists(), "today's sale printed");
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    let printed = crate::common::file_names(&dir.path().join("receipts"));
    assert_eq!(
        printed,
        ["T01-000004.png", "T01-000004.txt"],
        "the old backlog is not poured out"
    );
}

#[test]
fn without_a_terminal_the_register_says_so_and_creates_nothing() {
    let dir = tempdir();
    let out = konbini()
        .arg("register")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the register needs a terminal"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        crate::common::file_names(dir.path()).is_empty(),
        "no journal, no session log"
    );
}

pub const F8: &str = "\x1b[19~";
pub const DELETE: &str = "\x1b[3~";

#[test]
fn a_mistyped_barcode_is_refused_not_taken_as_cash() {
    let dir = tempdir();
    let mut args = vec!["register"];
    args.extend(OFFLINE);
    let mut pty = Pty::spawn(&args, dir.path(), (120, 40));
    pty.wait_for("F2 番号入力", Duration::from_secs(20));
    pty.send(&scanned("9601", 1_630).replace("\r\n", "\r"));
    pty.wait_for("合計 ¥1,630", Duration::from_secs(10));
    // A damaged barcode typed by hand: refused as a bad slip, with the reason.
    pty.send("12345678\r");
    let screen = pty.wait_for("バーコードとして読みました", Duration::from_secs(10));
    assert!(
        screen.contains("払込票のバーコードではありません"),
        "{screen}"
    );
    assert!(!screen.contains("お預り ¥12,345,678"), "{screen}");
    // A note key, cleared, then a tender whose change is asked about and refused.
    pty.send(F8);
    pty.wait_for("お預り ¥5,000", Duration::from_secs(10));
    pty.send(DELETE);
    pty.wait_for("お預りを取り消しました", Duration::from_secs(10));
    pty.send("20000\r");
    pty.wait_for("おつりが ¥18,370 になります", Duration::from_secs(10));
    pty.send("n");
    pty.wait_for("お預り ¥20,000 は加えませんでした", Duration::from_secs(10));
    pty.send("2000\r\r");
    let screen = pty.wait_for("お会計完了 No.000001", Duration::from_secs(10));
    assert!(screen.contains("おつり ¥370"), "{screen}");
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    let exported = export(&dir.path().join("konbini.db"));
    assert!(exported.contains("\"tendered_yen\":2000"), "{exported}");
}

#[test]
fn a_slip_is_voided_and_esc_asks_before_it_cancels() {
    let dir = tempdir();
    let mut args = vec!["register"];
    args.extend(OFFLINE);
    let mut pty = Pty::spawn(&args, dir.path(), (120, 40));
    pty.wait_for("F2 番号入力", Duration::from_secs(20));
    pty.send(&scanned("9801", 1_000).replace("\r\n", "\r"));
    pty.wait_for("追加しました ¥1,000", Duration::from_secs(10));
    pty.send(&scanned("9802", 2_000).replace("\r\n", "\r"));
    pty.wait_for("合計 ¥3,000", Duration::from_secs(10));
    // ↓↓ selects the second slip; Delete asks; Y voids it.
    pty.send(DOWN);
    pty.send(DOWN);
    pty.send(DELETE);
    pty.wait_for(
        "払込票 2（¥2,000）をこのお取引から取り消します（訂正）",
        Duration::from_secs(10),
    );
    pty.send("y");
    let screen = pty.wait_for("を取り消しました（訂正）", Duration::from_secs(10));
    assert!(screen.contains("合計 ¥1,000"), "{screen}");
    // Esc asks before it cancels; N keeps the sale, Y cancels it.
    pty.send(ESC);
    pty.wait_for(
        "このお取引（払込票 1枚 ¥1,000）を中止します",
        Duration::from_secs(10),
    );
    pty.send("n");
    let screen = pty.wait_for("お取引はそのままです", Duration::from_secs(10));
    assert!(screen.contains("合計 ¥1,000"), "{screen}");
    pty.send(ESC);
    pty.wait_for("を中止します", Duration::from_secs(10));
    pty.send("y");
    pty.wait_for("お取引を中止しました", Duration::from_secs(10));
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    // Both are in the journal as non-sale records; no sale was made.
    let journal = dir.path().join("konbini.db");
    assert_eq!(export(&journal), "");
    let records = export_with_records(&journal);
    let kinds: Vec<String> = records
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["record"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(kinds, ["void", "cancel"], "{records}");
    // The session replays to the same records.
    let session = only_session(dir.path());
    let fresh = dir.path().join("replayed.db");
    let out = run(&[
        "replay",
        session.to_str().unwrap(),
        "--journal",
        fresh.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(export_with_records(&fresh), records);
}

/// The one session log the register wrote in `dir`.
fn only_session(dir: &Path) -> std::path::PathBuf {
    let sessions: Vec<_> = std::fs::read_dir(dir.join("sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    sessions.into_iter().next().unwrap()
}

#[test]
fn a_slip_the_network_rejects_is_an_alert_until_acknowledged() {
    let dir = tempdir();
    let net = crate::network::Net::start(&dir.path().join("net.db"), &[]);
    let (terminal, secret) = crate::network::TERMINALS[0];
    let mut pty = Pty::spawn(
        &[
            "register",
            "--upstream",
            &net.url,
            "--terminal-id",
            terminal,
            "--terminal-secret",
            secret,
        ],
        dir.path(),
        (120, 40),
    );
    pty.wait_for("オンライン", Duration::from_secs(30));
    // A bill of this network's company code naming no payment: the network rejects it
    // (`unknown_payment`) once the cash is taken.
    pty.send(&scanned("9901", 1_630).replace("\r\n", "\r"));
    pty.wait_for("合計 ¥1,630", Duration::from_secs(10));
    pty.send("2000\r\r");
    pty.wait_for("お会計完了 No.000001", Duration::from_secs(10));
    let screen = pty.wait_for("要確認 1", Duration::from_secs(30));
    for words in [
        "No.000001-1",
        "¥1,630",
        "拒否",
        "unknown_payment",
        "現金はお預かり済みです",
    ] {
        assert!(
            screen.contains(words),
            "{words:?} not on the screen:\n{screen}"
        );
    }
    // The list, then acknowledged: gone from the screen and the bar.
    pty.send("a");
    pty.wait_for(
        "要確認の払込票（現金はお預かり済み） (1)",
        Duration::from_secs(10),
    );
    pty.send("\r");
    pty.wait_for("要確認の払込票はありません", Duration::from_secs(10));
    pty.send(ESC);
    let screen = pty.wait_for("F2 番号入力", Duration::from_secs(10));
    assert!(!screen.contains("No.000001-1"), "{screen}");
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    let exported = export(&dir.path().join("konbini.db"));
    assert!(exported.contains("\"sync\":\"rejected\""), "{exported}");
}

#[test]
fn a_day_closed_then_a_sale_belongs_to_the_next_business_day() {
    let dir = tempdir();
    let mut args = vec!["register"];
    args.extend(OFFLINE);
    // The Japan date before the register starts; the day it reads may be the next one if
    // midnight in Japan passes meanwhile: the test reads the day off the screen.
    let before = konbini_domain::time::business_date(&chrono::Utc::now());
    let mut pty = Pty::spawn(&args, dir.path(), (120, 40));
    pty.wait_for("F2 番号入力", Duration::from_secs(20));
    pty.send(&scanned("9951", 1_630).replace("\r\n", "\r"));
    pty.wait_for("合計 ¥1,630", Duration::from_secs(10));
    pty.send("2000\r\r");
    pty.wait_for("お会計完了 No.000001", Duration::from_secs(10));
    // The reading: the default float ¥30,000 and the day's cash.
    pty.send(F4);
    let screen = pty.wait_for("理論在高", Duration::from_secs(10));
    let today = screen
        .split("営業日 ")
        .nth(1)
        .and_then(|rest| rest.get(..10))
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or_else(|| panic!("no business day on screen: {screen}"));
    let after = konbini_domain::time::business_date(&chrono::Utc::now());
    assert!(
        today == before || today == after,
        "the business day {today} is the Japan date of the sale ({before} or {after}): {screen}"
    );
    let tomorrow = today.succ_opt().unwrap();
    assert!(screen.contains("¥31,630"), "{screen}");
    pty.send("31530\r");
    pty.wait_for("過不足 不足 ¥100", Duration::from_secs(10));
    pty.send("y");
    pty.wait_for(
        "を精算しました（Zレポート No.0001）",
        Duration::from_secs(10),
    );
    // Printed: the notice names the file once it is written.
    pty.wait_for("receipts/Z-T01-0001.txt", Duration::from_secs(10));
    let z = dir.path().join("receipts/Z-T01-0001.txt");
    let z_text = std::fs::read_to_string(&z).unwrap();
    assert!(z_text.contains("不足 ¥100"), "{z_text}");
    // Closing the same day again is refused.
    pty.send(ESC);
    pty.wait_for("F2 番号入力", Duration::from_secs(10));
    pty.send(F4);
    pty.wait_for(
        &format!("営業日 {}", tomorrow.format("%Y-%m-%d")),
        Duration::from_secs(10),
    );
    pty.send("0\r");
    pty.wait_for("精算後は取り消せません", Duration::from_secs(10));
    pty.send("y");
    pty.wait_for("は精算済みです", Duration::from_secs(10));
    pty.send(ESC);
    pty.wait_for("F2 番号入力", Duration::from_secs(10));
    // A sale now is the next business day's.
    pty.send(&scanned("9952", 700).replace("\r\n", "\r"));
    pty.wait_for("合計 ¥700", Duration::from_secs(10));
    pty.send("700\r\r");
    pty.wait_for("お会計完了 No.000002", Duration::from_secs(10));
    pty.send(F4);
    let screen = pty.wait_for(
        &format!("営業日 {}", tomorrow.format("%Y-%m-%d")),
        Duration::from_secs(10),
    );
    let sales = screen.lines().find(|l| l.contains("取引数")).unwrap();
    assert!(sales.contains(" 1 "), "{sales}");
    assert!(screen.contains("¥30,700"), "{screen}");
    pty.send(ESC);
    pty.wait_for("F2 番号入力", Duration::from_secs(10));
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    // The close is in the journal, chained and verified; only Z No.0001 was printed.
    let journal = dir.path().join("konbini.db");
    let ok = crate::common::verify(&journal).unwrap();
    assert!(ok.contains("non-sale records"), "{ok}");
    assert!(!dir.path().join("receipts/Z-T01-0002.txt").exists());
    assert_eq!(std::fs::read_to_string(&z).unwrap(), z_text);
}

#[test]
fn the_stamp_duty_setting_is_said_alike_on_screen_and_on_the_receipt() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("konbini.toml"),
        "[store]\nstamp_duty = \"declaration\"\ntax_office = \"札幌北税務署\"\n",
    )
    .unwrap();
    let mut args = vec!["register"];
    args.extend(OFFLINE);
    let mut pty = Pty::spawn(&args, dir.path(), (120, 40));
    pty.wait_for("F2 番号入力", Duration::from_secs(20));
    // ¥54,000: its barcode's stamp flag is set.
    let frame = konbini_domain::BillBarcode::build(&konbini_domain::BillFields {
        company_code: "958001",
        free_area: "9961",
        reissue: 0,
        deadline: konbini_domain::Deadline::None,
        stamp: true,
        amount: konbini_domain::Yen::new(54_000),
    })
    .unwrap();
    pty.send(&format!("{frame}\r"));
    let screen = pty.wait_for(
        "印紙税は申告納付（札幌北税務署承認済）",
        Duration::from_secs(10),
    );
    assert!(
        !screen.contains("割印"),
        "no stamp to affix and seal: {screen}"
    );
    pty.send("60000\r");
    pty.wait_for("お預り ¥60,000", Duration::from_secs(10));
    pty.send("\r");
    pty.wait_for("お会計完了 No.000001", Duration::from_secs(10));
    pty.send("q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    let receipt = std::fs::read_to_string(dir.path().join("receipts/T01-000001.txt")).unwrap();
    assert!(
        receipt.contains("収入印紙 印紙税申告納付につき札幌北税務署承認済"),
        "{receipt}"
    );
}
