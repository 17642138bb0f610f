//! The register UI, in process: the real app, services, journal, virtual printer and
//! session log, drawn into ratatui's TestBackend and compared with insta snapshots; the
//! refusals in the clerk's language, in red; bad input (pastes, floods, a tiny terminal,
//! a full disk, the network down during a key-in); and record -> replay equality.

use konbini_bench::harness::Harness;
use konbini_domain::{BillBarcode, BillFields, Chain, Deadline, Yen};
use konbini_pos::ui::{Input, Lang, Screen};
use konbini_register::{Station, Store};
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::Color;

use crate::common::{at, export, export_with_records, replay_json, tempdir, verify};

const SIZE: (u16, u16) = (120, 40);

fn station() -> Station {
    Station {
        terminal: "T01".to_owned(),
        store: Store {
            code: "0042".to_owned(),
            chain: Some(Chain::Lawson),
            name: "ローソン 札幌北口店".to_owned(),
        },
    }
}

/// A valid bill barcode for `amount` with `deadline` (YYYY-MM-DD) or none.
fn slip(free: &str, amount: u64, deadline: Option<&str>) -> String {
    BillBarcode::build(&BillFields {
        company_code: "958001",
        free_area: free,
        reissue: 0,
        deadline: match deadline {
            Some(d) => Deadline::On(d.parse().unwrap()),
            None => Deadline::None,
        },
        stamp: amount >= 50_000,
        amount: Yen::new(amount),
    })
    .unwrap()
    .to_string()
}

fn harness(dir: &std::path::Path) -> Harness {
    Harness::open(dir, station(), at("2026-12-01T10:00:00+09:00"), SIZE).unwrap()
}

/// The row of the screen holding `needle`.
fn row_of(h: &mut Harness, needle: &str) -> u16 {
    let screen = h.screen();
    screen
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not on the screen:\n{screen}")) as u16
}

#[test]
fn a_whole_sale_on_screen_from_scan_to_change() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    insta::assert_snapshot!("idle", h.screen());

    h.line(&slip("1001", 3_500, Some("2026-12-10")));
    h.advance(chrono::Duration::seconds(2));
    h.line(&slip("1002", 54_000, None));
    insta::assert_snapshot!("two_slips", h.screen());
    assert!(h.screen().contains("合計 ¥57,500"), "{}", h.screen());

    h.line("60000");
    h.key(KeyCode::Enter);
    let screen = h.screen();
    insta::assert_snapshot!("completed", screen);
    assert!(screen.contains("おつり ¥2,500"), "{screen}");
    // Journaled, printed, recorded.
    let exported = export(&dir.path().join("konbini.db"));
    assert_eq!(exported.lines().count(), 1);
    assert!(exported.contains("\"change_yen\":2500"), "{exported}");
    assert!(dir.path().join("receipts/T01-000001.png").exists());
    assert!(dir.path().join("receipts/T01-000001.txt").exists());
}

#[test]
fn a_refusal_is_in_the_clerks_language_and_in_red() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("2001", 1_000, Some("2026-11-30")));
    let row = row_of(&mut h, "期限切れの払込票です");
    let buffer = h.draw().clone();
    assert_eq!(
        buffer[(0, row)].fg,
        Color::Red,
        "the refusal is drawn in red"
    );
    insta::assert_snapshot!("expired_ja", h.screen());

    h.key(KeyCode::F(9));
    assert_eq!(h.app.lang, Lang::En);
    let screen = h.screen();
    assert!(screen.contains("This slip has expired"), "{screen}");
    assert!(!screen.contains("期限切れ"), "{screen}");

    // A misread and something that is no slip at all.
    h.key(KeyCode::F(9));
    let mut bad = slip("2002", 1_000, None);
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    h.line(&bad);
    assert!(h.screen().contains("もう一度スキャンしてください"));
    h.line("hello");
    assert!(h.screen().contains("払込票のバーコードではありません"));
    assert!(h.app.register().open_sale().is_none());
}

#[test]
fn key_in_dialog_journal_and_day_close_screens() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("3001", 1_980, None));
    h.line("2000");
    h.key(KeyCode::Enter);
    h.line(&slip("3002", 12_800, Some("2027-01-05")));
    h.line("13000");
    h.key(KeyCode::Enter);

    h.key(KeyCode::F(2));
    h.type_text("123456789012");
    h.key(KeyCode::Tab);
    h.type_text("09012345678");
    insta::assert_snapshot!("key_in_dialog", h.screen());
    // No network: the key-in is refused offline, never hangs.
    h.key(KeyCode::Enter);
    assert!(h.screen().contains("決済ネットワークに接続できません"));

    h.key(KeyCode::F(3));
    assert_eq!(h.app.screen, Screen::Journal);
    insta::assert_snapshot!("journal", h.screen());
    let first = dir.path().join("receipts/T01-000001.txt");
    let original = std::fs::read_to_string(&first).unwrap();
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter); // reprint sale 1 (the second row: newest first)
    // A copy beside the original, marked 再発行 with the original's number; the
    // original's files untouched; the screen says so.
    let copy = std::fs::read_to_string(dir.path().join("receipts/T01-000001-R1.txt")).unwrap();
    assert!(copy.contains("【再発行】"), "{copy}");
    assert!(copy.contains("元のレシート No. T01-000001"), "{copy}");
    assert_eq!(std::fs::read_to_string(&first).unwrap(), original);
    assert!(
        h.screen()
            .contains("レシート No.000001 を再発行しました（再発行の印字あり）"),
        "{}",
        h.screen()
    );
    h.key(KeyCode::Enter); // again: a second copy, never over the first
    assert!(dir.path().join("receipts/T01-000001-R2.txt").exists());
    h.key(KeyCode::Esc);

    h.key(KeyCode::F(4));
    assert_eq!(h.app.screen, Screen::DayClose);
    let screen = h.screen();
    let dir_text = dir.path().display().to_string();
    insta::assert_snapshot!("day_close", screen.replace(&dir_text, "[dir]"));
    assert!(screen.contains("¥14,780"), "{screen}");
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("day_close_en", h.screen().replace(&dir_text, "[dir]"));
    h.key(KeyCode::F(9));
    // A reading prints nothing unless asked, and closes nothing.
    assert!(!dir.path().join("receipts/Z-T01-0001.txt").exists());
}

#[test]
fn a_tiny_terminal_asks_to_be_bigger_and_nothing_is_lost() {
    let dir = tempdir();
    let mut h = Harness::open(
        dir.path(),
        station(),
        at("2026-12-01T10:00:00+09:00"),
        (40, 10),
    )
    .unwrap();
    h.line(&slip("4001", 500, None));
    insta::assert_snapshot!("too_small", h.screen());
    assert_eq!(h.app.register().open_sale().unwrap().slips().len(), 1);
    // Resized back: the sale is there.
    h.terminal.backend_mut().resize(120, 40);
    h.input(Input::Resize);
    assert!(h.screen().contains("¥500"));
}

#[test]
fn pasted_garbage_and_floods_are_refused_line_by_line() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    let good = slip("5001", 800, None);
    h.input(Input::Paste(format!(
        "\u{7}\u{1b}[31mred\r\n{good}\nDROP TABLE sales;\n"
    )));
    // The good line became a slip; the garbage lines were refused as no slip at all.
    assert_eq!(h.app.register().open_sale().unwrap().slips().len(), 1);
    assert!(h.screen().contains("払込票のバーコードではありません"));
    // A huge paste: only the first lines are used, and the clerk is told.
    let flood: String = (0..500).map(|i| format!("junk{i}\n")).collect();
    h.input(Input::Paste(flood));
    assert!(h.screen().contains("先頭 100 行"), "{}", h.screen());
    // A held key: the input line stops growing, and says so.
    for _ in 0..1_000 {
        h.key(KeyCode::Char('7'));
    }
    assert_eq!(
        h.app.input.chars().count(),
        konbini_pos::ui::app::INPUT_MAX_CHARS
    );
    assert!(h.screen().contains("入力が長すぎます"));
    h.key(KeyCode::Esc); // clears the line only (docs/cli.md)
    assert!(h.app.input.is_empty());
    assert!(
        h.app.register().open_sale().is_some(),
        "the line cleared, the sale kept"
    );
    h.key(KeyCode::Esc); // with nothing typed: asks before it cancels
    assert!(
        h.app.register().open_sale().is_some(),
        "asked, not cancelled"
    );
    h.key(KeyCode::Char('y'));
    assert!(h.app.register().open_sale().is_none());
    // Enter held after completing: one sale, never two.
    h.line(&good);
    h.line("1000");
    for _ in 0..20 {
        h.key(KeyCode::Enter);
    }
    assert_eq!(export(&dir.path().join("konbini.db")).lines().count(), 1);
    // Quit refused while a sale is open; q quits when none is.
    h.line(&slip("5002", 800, None));
    h.key_with(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(!h.app.quit);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('y'));
    h.key(KeyCode::Char('q'));
    assert!(h.app.quit);
}

#[test]
fn a_recorded_session_replays_to_the_same_sales() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    let s = |n: u32, amount: u64| slip(&format!("6{n:03}"), amount, None);
    h.line(&s(1, 1_200));
    h.line(&s(2, 54_000));
    h.line("50000"); // not enough yet
    h.key(KeyCode::Enter);
    h.line("10000");
    h.key(KeyCode::Enter);
    h.advance(chrono::Duration::seconds(30));
    h.line(&s(1, 1_200)); // paid already: refused
    h.line(&s(3, 700));
    h.key(KeyCode::Esc); // asks
    h.key(KeyCode::Enter); // yes: cancelled
    h.line(&s(3, 700));
    h.line(&s(4, 9_999));
    h.line("20000");
    h.key(KeyCode::Enter);
    h.line(&s(5, 300)); // left open at the end: abandoned
    drop(h);

    let fresh = dir.path().join("replayed.db");
    let summary = replay_json(&dir.path().join("session.jsonl"), &fresh, &[]);
    assert_eq!(summary["sales"]["completed"], 2, "{summary}");
    assert_eq!(summary["sales"]["cancelled"], 1, "{summary}");
    assert_eq!(summary["rejected"]["already_paid"], 1, "{summary}");
    assert_eq!(export(&dir.path().join("konbini.db")), export(&fresh));
}

#[test]
fn a_full_disk_keeps_the_sale_open_and_loses_nothing() {
    let dir = tempdir();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    // A real full disk: a 1 MiB tmpfs (needs root, as CI runs; said plainly otherwise).
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&disk)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "SKIPPED a_full_disk_keeps_the_sale_open_and_loses_nothing: cannot mount a tmpfs here"
        );
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    let mut h = Harness::open(&disk, station(), at("2026-12-01T10:00:00+09:00"), SIZE).unwrap();
    h.line(&slip("7001", 2_000, None));
    h.line("2000");
    h.key(KeyCode::Enter);
    assert!(h.screen().contains("お会計完了 No.000001"));
    // Fill the disk to the last byte.
    let filler = disk.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    h.line(&slip("7002", 3_000, None));
    h.line("3000");
    h.key(KeyCode::Enter);
    let screen = h.screen();
    assert!(screen.contains("記録できませんでした"), "{screen}");
    assert_eq!(
        h.app.register().open_sale().map(|s| s.slips().len()),
        Some(1),
        "the sale is open again"
    );
    // Space is back: the same sale completes.
    std::fs::remove_file(&filler).unwrap();
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("お会計完了 No.000002"),
        "{}",
        h.screen()
    );
    drop(h);
    let exported = export(&disk.join("konbini.db"));
    assert_eq!(exported.lines().count(), 2, "{exported}");
    crate::common::verify(&disk.join("konbini.db")).unwrap();
}

#[test]
fn inputs_typed_while_the_core_waits_are_fed_in_order_and_replay_the_same() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    // The workers are slow: nothing is answered until `settle`.
    h.defer = true;
    h.line(&slip("9201", 1_100, None));
    assert!(h.app.busy(), "waiting for the journal's paid-before answer");
    h.advance(chrono::Duration::milliseconds(300));
    h.line("2000"); // held
    h.key(KeyCode::Enter); // held: complete
    h.key(KeyCode::Enter); // the same press held down: not a second complete
    assert!(h.app.register().open_sale().is_none(), "nothing fed yet");
    h.settle();
    let screen = h.screen();
    assert!(
        screen.contains("お会計完了 No.000001  おつり ¥900"),
        "{screen}"
    );
    // A complete whose commit is answered late, then a scan typed meanwhile.
    h.line(&slip("9202", 500, None));
    h.settle();
    h.line("500");
    h.key(KeyCode::Enter);
    h.line(&slip("9203", 700, None)); // held behind the commit
    assert!(h.app.busy() && h.pending() > 0, "the commit is under way");
    h.settle();
    assert_eq!(h.app.register().open_sale().unwrap().slips().len(), 1);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('y'));
    h.settle();
    drop(h);

    let log = std::fs::read_to_string(dir.path().join("session.jsonl")).unwrap();
    let events: Vec<&str> = log.lines().skip(1).collect();
    assert_eq!(events.len(), 8, "{log}");
    assert!(events[2].contains("\"complete\":true"), "{log}");
    let fresh = dir.path().join("replayed.db");
    let summary = replay_json(&dir.path().join("session.jsonl"), &fresh, &[]);
    assert_eq!(summary["sales"]["completed"], 2, "{summary}");
    assert_eq!(summary["sales"]["cancelled"], 1, "{summary}");
    assert_eq!(export(&dir.path().join("konbini.db")), export(&fresh));
}

#[test]
fn the_status_bar_shows_the_link_and_the_offline_limit_refuses_new_slips() {
    use konbini_journal::OutboxSummary;
    use konbini_pos::sync::SyncStatus;
    use konbini_pos::ui::Answer;
    let dir = tempdir();
    let mut h = harness(dir.path());
    let offline = |pending_yen: u64| {
        Input::Answer(Answer::Link(SyncStatus {
            online: false,
            outbox: OutboxSummary {
                pending: 3,
                pending_yen,
                oldest_pending_at: Some("2026-12-01T09:50:00+09:00".to_owned()),
                conflicts: 1,
                ..OutboxSummary::default()
            },
            last_error: Some("network unreachable".to_owned()),
            config_error: None,
        }))
    };
    h.input(offline(5_000));
    let screen = h.screen();
    let bar = screen.lines().find(|l| l.contains("回線")).unwrap();
    // The network first; its error is English, so only an English-speaking clerk sees it.
    assert!(
        bar.starts_with("回線 オフライン 未送信 3 ¥5,000 (最古 10分) │ ジャーナル"),
        "{bar}"
    );
    h.key(KeyCode::F(9));
    let screen = h.screen();
    let bar = screen.lines().find(|l| l.contains("Net")).unwrap();
    assert!(
        bar.starts_with("Net OFFLINE unsent 3 ¥5,000 (oldest 10 min) (network unreachable)"),
        "{bar}"
    );
    h.key(KeyCode::F(9));
    // Under the limit: a slip is taken offline.
    h.line(&slip("9301", 1_000, None));
    assert_eq!(h.app.register().open_sale().unwrap().slips().len(), 1);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('y'));
    // At the limit (3,000,000 yen unsent): refused until the link is back.
    h.input(offline(3_000_000));
    h.line(&slip("9302", 1_000, None));
    assert!(h.app.register().open_sale().is_none());
    assert!(
        h.screen().contains("オフラインの上限に達しました"),
        "{}",
        h.screen()
    );
    h.input(Input::Answer(Answer::Link(SyncStatus {
        online: true,
        ..SyncStatus::default()
    })));
    h.line(&slip("9302", 1_000, None));
    assert_eq!(h.app.register().open_sale().unwrap().slips().len(), 1);
    assert!(h.screen().contains("回線 オンライン 未送信 0"));
}

#[test]
fn a_sale_rung_up_while_the_last_one_commits_completes_too() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("9401", 600, None));
    h.line("600");
    h.defer = true;
    h.key(KeyCode::Enter); // sale 1 commits... slowly
    h.line(&slip("9402", 800, None)); // held
    h.line("1000"); // held
    h.key(KeyCode::Enter); // held: sale 2's complete, not a repeat of sale 1's
    h.key(KeyCode::Enter); // this one is the repeat
    h.defer = false;
    h.settle();
    let exported = export(&dir.path().join("konbini.db"));
    assert_eq!(exported.lines().count(), 2, "{exported}");
    assert!(
        h.screen().contains("お会計完了 No.000002  おつり ¥200"),
        "{}",
        h.screen()
    );
}

#[test]
fn a_mistyped_barcode_is_never_cash_and_big_change_is_asked_about() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("9501", 1_630, None));
    // Eight digits or more during a sale: read as a barcode, refused, never tendered.
    h.line("12345678");
    let screen = h.screen();
    assert!(
        screen.contains("8桁以上の数字はお預りにせず、バーコードとして読みました"),
        "{screen}"
    );
    assert!(
        screen.contains("払込票のバーコードではありません"),
        "{screen}"
    );
    assert_eq!(h.app.tendered(), Yen::ZERO);
    assert_eq!(h.app.register().open_sale().unwrap().slips().len(), 1);
    h.line("]C1123");
    assert_eq!(h.app.tendered(), Yen::ZERO);
    assert!(h.screen().contains("払込票のバーコードではありません"));
    // The note keys add up; Delete clears.
    h.key(KeyCode::F(7));
    h.key(KeyCode::F(8));
    assert_eq!(h.app.tendered(), Yen::new(6_000));
    assert!(h.screen().contains("お預り ¥6,000"), "{}", h.screen());
    h.key(KeyCode::Delete);
    assert_eq!(h.app.tendered(), Yen::ZERO);
    assert!(h.screen().contains("お預りを取り消しました"));
    // Not enough: said, and the keyed cash stays to be added to.
    h.line("1000");
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("お預りが ¥630 不足しています"),
        "{}",
        h.screen()
    );
    h.key(KeyCode::Delete);
    // ¥10,000 or more of change: asked; No leaves the sale and the tender as they were.
    h.line("20000");
    assert!(h.app.confirm.is_some());
    insta::assert_snapshot!("confirm_tender_ja", h.screen());
    h.key(KeyCode::Esc);
    assert!(h.app.confirm.is_none());
    assert_eq!(h.app.tendered(), Yen::ZERO);
    assert!(
        h.app.register().open_sale().is_some(),
        "Esc answered, not cancelled"
    );
    h.key(KeyCode::F(9));
    h.key(KeyCode::F(10));
    h.key(KeyCode::F(10));
    insta::assert_snapshot!("confirm_tender_en", h.screen());
    h.key(KeyCode::Char('y'));
    assert_eq!(h.app.tendered(), Yen::new(20_000));
    h.key(KeyCode::F(9));
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("お会計完了 No.000001  おつり ¥18,370"),
        "{}",
        h.screen()
    );
    drop(h);

    // The session log holds one tender of the final cash; a replay makes the same sale.
    let log = std::fs::read_to_string(dir.path().join("session.jsonl")).unwrap();
    let tenders: Vec<&str> = log.lines().filter(|l| l.contains("\"tender\"")).collect();
    assert_eq!(tenders.len(), 1, "{log}");
    assert!(tenders[0].contains("\"tender\":20000"), "{log}");
    let fresh = dir.path().join("replayed.db");
    let summary = replay_json(&dir.path().join("session.jsonl"), &fresh, &[]);
    assert_eq!(summary["change_yen"], 18_370, "{summary}");
    assert_eq!(export(&dir.path().join("konbini.db")), export(&fresh));
}

#[test]
fn voids_esc_and_the_day_close_on_screen_in_both_languages_and_a_replay_makes_the_same_journal() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("7001", 1_000, None));
    h.line(&slip("7002", 2_000, None));
    h.line(&slip("7003", 3_000, None));
    // ↓↓ selects slip 2; Delete asks before it voids; N keeps it.
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    // The selected slip is shown reversed.
    let row = row_of(&mut h, "¥2,000");
    let buffer = h.draw().clone();
    assert!(
        buffer[(1, row)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
    h.key(KeyCode::Delete);
    insta::assert_snapshot!("void_question_ja", h.screen());
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("void_question_en", h.screen());
    h.key(KeyCode::F(9));
    h.key(KeyCode::Char('n'));
    assert_eq!(h.app.register().open_sale().unwrap().slips().len(), 3);
    assert!(h.screen().contains("お取引はそのままです"));
    h.key(KeyCode::Delete);
    h.key(KeyCode::Enter);
    let sale = h.app.register().open_sale().unwrap();
    assert_eq!((sale.slips().len(), sale.total()), (2, Yen::new(4_000)));
    assert!(
        h.screen()
            .contains("払込票 2（¥2,000）を取り消しました（訂正）"),
        "{}",
        h.screen()
    );
    h.line("4000");
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("お会計完了 No.000001"),
        "{}",
        h.screen()
    );

    // Esc asks before it cancels, in English too; Esc again is "no".
    h.key(KeyCode::F(9));
    h.line(&slip("7004", 500, None));
    h.line("1000");
    h.key(KeyCode::Esc);
    insta::assert_snapshot!("cancel_question_en", h.screen());
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("cancel_question_ja", h.screen());
    h.key(KeyCode::F(9));
    h.key(KeyCode::Esc);
    assert!(
        h.app.register().open_sale().is_some(),
        "no: the sale is kept"
    );
    assert_eq!(h.app.tendered(), Yen::new(1_000), "and its tender");
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('y'));
    assert!(h.app.register().open_sale().is_none());
    assert!(h.screen().contains("Sale cancelled"));
    h.key(KeyCode::F(9));

    // The day close: the reading, the counted cash, the question, the Z report.
    h.advance(chrono::Duration::hours(11));
    h.key(KeyCode::F(4));
    // X prints the reading (no number: it closes nothing).
    h.key(KeyCode::Char('x'));
    let reading = std::fs::read_dir(dir.path().join("receipts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("X-T01-") && n.ends_with(".txt"))
        .expect("the X report printed");
    let x = std::fs::read_to_string(dir.path().join("receipts").join(reading)).unwrap();
    assert!(x.contains("点検レポート（X）"), "{x}");
    assert!(!x.contains("実在高"), "a reading has no counted cash: {x}");
    h.type_text("3900");
    let screen = h.screen();
    assert!(screen.contains("営業日 2026-12-01"), "{screen}");
    assert!(
        screen.contains("不足 ¥100"),
        "typed, the difference shows: {screen}"
    );
    h.key(KeyCode::Enter);
    let dir_text = dir.path().display().to_string();
    insta::assert_snapshot!("close_question_ja", h.screen().replace(&dir_text, "[dir]"));
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("close_question_en", h.screen().replace(&dir_text, "[dir]"));
    h.key(KeyCode::F(9));
    h.key(KeyCode::Char('y'));
    insta::assert_snapshot!("z_report_ja", h.screen().replace(&dir_text, "[dir]"));
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("z_report_en", h.screen().replace(&dir_text, "[dir]"));
    h.key(KeyCode::F(9));
    let z = std::fs::read_to_string(dir.path().join("receipts/Z-T01-0001.txt")).unwrap();
    for words in [
        "精算レポート（Z） No.0001",
        "営業日 2026/12/01",
        "取引中止",
        "1件 ¥500",
        "訂正（取消した払込票）",
        "1枚 ¥2,000",
        "理論在高",
        "実在高",
        "不足 ¥100",
    ] {
        assert!(z.contains(words), "{words:?} not in the Z report:\n{z}");
    }
    // P prints it again beside it, marked; the first is never overwritten.
    h.key(KeyCode::Char('p'));
    let again = std::fs::read_to_string(dir.path().join("receipts/Z-T01-0001-R1.txt")).unwrap();
    assert!(again.contains("【再発行】"), "{again}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("receipts/Z-T01-0001.txt")).unwrap(),
        z
    );
    h.key(KeyCode::Esc);

    // A second close of the same day: refused, and nothing is written.
    h.key(KeyCode::F(4));
    h.type_text("0");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('y'));
    assert!(
        h.screen().contains("営業日 2026-12-01 は精算済みです"),
        "{}",
        h.screen()
    );
    assert!(!dir.path().join("receipts/Z-T01-0002.txt").exists());
    h.key(KeyCode::Esc);

    // A sale after the close, the same calendar day: the next business day's.
    h.advance(chrono::Duration::minutes(5));
    h.line(&slip("7005", 700, None));
    h.line("700");
    h.key(KeyCode::Enter);
    h.key(KeyCode::F(4));
    let screen = h.screen();
    assert!(screen.contains("営業日 2026-12-02"), "{screen}");
    let sales_line = screen.lines().find(|l| l.contains("取引数")).unwrap();
    assert!(sales_line.contains(" 1 "), "{sales_line}");
    h.key(KeyCode::Esc);
    drop(h);

    let journal = dir.path().join("konbini.db");
    assert!(verify(&journal).unwrap().contains("non-sale records"));
    let fresh = dir.path().join("replayed.db");
    let summary = replay_json(&dir.path().join("session.jsonl"), &fresh, &[]);
    assert_eq!(summary["sales"]["completed"], 2, "{summary}");
    assert_eq!(summary["sales"]["cancelled"], 1, "{summary}");
    assert_eq!(summary["voided_slips"], 1, "{summary}");
    assert_eq!(summary["day_closes"], 1, "{summary}");
    assert_eq!(summary["ignored"]["day_already_closed"], 1, "{summary}");
    let recorded = export_with_records(&journal);
    assert_eq!(recorded, export_with_records(&fresh));
    let kinds: Vec<String> = recorded
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["record"].as_str().unwrap_or("sale").to_owned()
        })
        .collect();
    assert_eq!(kinds, ["sale", "void", "cancel", "close", "sale"]);
}

#[test]
fn a_slip_the_network_would_not_credit_is_an_alert_until_acknowledged() {
    use konbini_journal::{SlipAnswer, SyncState};
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("8001", 1_630, None));
    h.line("2000");
    h.key(KeyCode::Enter);
    h.line(&slip("8002", 900, None));
    h.line("1000");
    h.key(KeyCode::Enter);
    // The network's answers, as the sync task records them.
    h.services
        .journal
        .lock()
        .unwrap()
        .record_batch(&[
            SlipAnswer {
                key: (1, 1),
                state: SyncState::Conflict,
                reason: Some("already_paid".into()),
                answered_at_ms: 1,
            },
            SlipAnswer {
                key: (2, 1),
                state: SyncState::Rejected,
                reason: Some("amount_mismatch".into()),
                answered_at_ms: 1,
            },
        ])
        .unwrap();
    h.input(Input::Tick);
    insta::assert_snapshot!("alert_banner_ja", h.screen());
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("alert_banner_en", h.screen());
    h.key(KeyCode::F(9));
    let screen = h.screen();
    let bar = screen.lines().find(|l| l.contains("回線")).unwrap();
    assert!(bar.contains("要確認 2"), "{bar}");
    // In red, on the main screen and the bar.
    let row = row_of(&mut h, "No.000001-1");
    let buffer = h.draw().clone();
    let line: String = (0..120)
        .map(|x| buffer[(x, row)].symbol().to_owned())
        .collect();
    let x = line.find("No.000001-1").unwrap() as u16;
    assert_eq!(buffer[(x, row)].fg, Color::Red);
    h.key(KeyCode::Char('a'));
    insta::assert_snapshot!("alerts_ja", h.screen());
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("alerts_en", h.screen());
    h.key(KeyCode::F(9));
    // Acknowledged one at a time; gone from the list, the bar and the main screen.
    h.key(KeyCode::Enter);
    assert_eq!(h.app.alert_count, 1);
    h.key(KeyCode::Enter);
    assert_eq!(h.app.alert_count, 0);
    assert!(h.screen().contains("要確認の払込票はありません"));
    h.key(KeyCode::Esc);
    let screen = h.screen();
    let bar = screen.lines().find(|l| l.contains("回線")).unwrap();
    assert!(!bar.contains("要確認"), "{bar}");
    assert!(!screen.contains("No.000001-1"), "{screen}");
    // The Z report still counts them: the cash is in the drawer.
    h.key(KeyCode::F(4));
    h.type_text("2530");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('y'));
    let z = std::fs::read_to_string(dir.path().join("receipts/Z-T01-0001.txt")).unwrap();
    let line = |label: &str| {
        z.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("{label} not in:\n{z}"))
            .to_owned()
    };
    assert!(line("要確認（競合）").ends_with(" 1"), "{z}");
    assert!(line("拒否").ends_with(" 1"), "{z}");
    assert!(z.contains("本部と加盟店に連絡"), "{z}");
}

#[test]
fn every_column_whole_at_120x40_in_both_languages_and_usable_at_60x16() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("9501", 1_630, Some("2026-12-10")));
    h.line(&slip("9502", 54_000, None));
    for (lang, words) in [
        (
            "ja",
            &[
                "種別",
                "収納先",
                "チェーン",
                "番号",
                "期限",
                "金額",
                "印紙",
                "ローソン",
            ][..],
        ),
        (
            "en",
            &[
                "Kind",
                "Payee",
                "Chain",
                "Reference",
                "Deadline",
                "Amount",
                "Stamp",
                "Lawson",
            ][..],
        ),
    ] {
        if lang == "en" {
            h.key(KeyCode::F(9));
        }
        let screen = h.screen();
        for w in words {
            assert!(
                screen.contains(&format!(" {w}")) || screen.contains(&format!("│{w}")),
                "{w:?} cut or missing:\n{screen}"
            );
        }
        assert!(!screen.contains("lawson"), "{screen}");
    }
    h.key(KeyCode::F(9));
    h.terminal.backend_mut().resize(60, 16);
    h.input(Input::Resize);
    insta::assert_snapshot!("small_ja", h.screen());
    let screen = h.screen();
    let first = screen.lines().next().unwrap();
    assert!(
        first.trim_end().ends_with("10:00:00"),
        "the clock whole: {first}"
    );
    assert!(
        screen.contains("回線 -"),
        "the network on the bar: {screen}"
    );
    assert!(screen.contains("¥55,630"), "{screen}");
    h.key(KeyCode::F(9));
    insta::assert_snapshot!("small_en", h.screen());
    assert!(h.screen().contains("Net -"));
    h.key(KeyCode::F(9));
    // The key-in dialog: all four chains whole; the journal: its columns whole.
    h.key(KeyCode::F(2));
    let screen = h.screen();
    for name in [
        "ファミリーマート",
        "ローソン",
        "ミニストップ",
        "セイコーマート",
    ] {
        assert!(screen.contains(name), "{name} cut:\n{screen}");
    }
    h.key(KeyCode::Esc);
    h.line("60000");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    h.key(KeyCode::F(3));
    insta::assert_snapshot!("small_journal_ja", h.screen());
}

#[test]
fn change_of_ten_thousand_yen_is_confirmed_at_completion_when_a_void_raised_it() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("7101", 12_000, None));
    h.line(&slip("7102", 3_000, None));
    // ¥20,000 on ¥15,000: ¥5,000 of change, no question.
    h.line("20000");
    assert!(h.app.confirm.is_none());
    assert_eq!(h.app.tendered(), Yen::new(20_000));
    // Void the ¥12,000 slip: the change becomes ¥17,000, never confirmed.
    h.key(KeyCode::Down);
    h.key(KeyCode::Delete);
    h.key(KeyCode::Char('y'));
    assert_eq!(
        h.app.register().open_sale().unwrap().total(),
        Yen::new(3_000)
    );
    // Enter asks now; No completes nothing.
    h.key(KeyCode::Enter);
    assert!(
        matches!(
            h.app.confirm,
            Some(konbini_pos::ui::app::Confirm::Complete { change, .. }) if change == Yen::new(17_000)
        ),
        "{:?}",
        h.app.confirm
    );
    assert!(
        h.screen().contains("おつりが ¥17,000 になります"),
        "{}",
        h.screen()
    );
    h.key(KeyCode::Char('n'));
    assert!(h.app.register().open_sale().is_some(), "not completed");
    assert!(
        h.screen().contains("おつり ¥17,000 の会計はしませんでした"),
        "{}",
        h.screen()
    );
    // Asked again; yes completes with that change.
    h.key(KeyCode::Enter);
    assert!(h.app.confirm.is_some());
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("お会計完了 No.000001  おつり ¥17,000"),
        "{}",
        h.screen()
    );
    // A tender confirmed when it was keyed is not asked about again at completion.
    h.line(&slip("7103", 1_000, None));
    h.line("11000");
    assert!(h.app.confirm.is_some(), "asked when keyed");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("お会計完了 No.000002  おつり ¥10,000"),
        "{}",
        h.screen()
    );
}

#[test]
fn ten_thousand_yen_keyed_before_the_total_is_known_waits_for_it() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.defer = true;
    h.line(&slip("9501", 1_100, None));
    assert!(h.app.busy(), "waiting for the journal's paid-before answer");
    h.line("20000");
    h.key(KeyCode::Enter);
    assert!(h.screen().contains("払込票の確認中です"), "{}", h.screen());
    h.settle();
    assert!(h.app.register().open_sale().is_some(), "not completed");
    // Once the total shows, Enter asks about the ¥18,900 of change.
    h.defer = false;
    h.key(KeyCode::Enter);
    assert!(h.app.confirm.is_some(), "{}", h.screen());
    h.key(KeyCode::Enter);
    assert!(
        h.screen().contains("お会計完了 No.000001  おつり ¥18,900"),
        "{}",
        h.screen()
    );
}

#[test]
fn a_cancelled_sale_records_the_cash_handed_back() {
    let dir = tempdir();
    let mut h = harness(dir.path());
    h.line(&slip("7201", 1_500, None));
    h.line("2000");
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('y'));
    assert!(h.app.register().open_sale().is_none());
    drop(h);
    let records = export_with_records(&dir.path().join("konbini.db"));
    let cancel: serde_json::Value = records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["record"] == "cancel")
        .unwrap_or_else(|| panic!("no cancel record: {records}"));
    assert_eq!(cancel["tendered_yen"], 2000, "{cancel}");
}
