//! The journal's house rules and verification: PRAGMAs read back, schema checks, the
//! writer lock, and `journal verify` catching each kind of tampering.

use std::path::{Path, PathBuf};

use konbini_journal::{Journal, SlipPay};
use rusqlite::Connection;

use crate::common::*;

/// A journal with the shipped store day (300 sales) in it.
fn store_day_journal(dir: &Path) -> PathBuf {
    let journal = dir.join("day.db");
    replay_json(&shipped_log("store-day.jsonl"), &journal, &[]);
    journal
}

fn tamper(journal: &Path, sql: &str) {
    let conn = Connection::open(journal).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    conn.execute_batch(sql).unwrap();
}

/// Remove sale `seq` and every row that belongs to it.
fn delete_sale(journal: &Path, seq: u64) {
    tamper(
        journal,
        &format!(
            "DELETE FROM print_queue WHERE sale_seq = {seq};
             DELETE FROM outbox WHERE sale_seq = {seq};
             DELETE FROM slips WHERE sale_seq = {seq};
             DELETE FROM sales WHERE seq = {seq};"
        ),
    );
}

fn verify_fails_at(journal: &Path, seq: u64, words: &str) {
    let err = verify(journal).expect_err("tampering must be caught");
    assert!(
        err.contains(&format!("sale {seq}:")) && err.contains(words),
        "expected sale {seq} / {words:?}, got: {err}"
    );
    assert!(err.contains(journal.to_str().unwrap()), "{err}");
}

#[test]
fn pragmas_are_read_back_at_open() {
    let dir = tempdir();
    let j = Journal::open(&dir.path().join("j.db")).unwrap();
    assert_eq!(j.pragma("journal_mode").unwrap(), "wal");
    assert_eq!(j.pragma("synchronous").unwrap(), "2", "FULL");
    assert_eq!(j.pragma("foreign_keys").unwrap(), "1");
    assert_eq!(
        j.pragma("user_version").unwrap(),
        "5",
        "migrated from empty to the latest"
    );
    assert_eq!(j.journal_id().len(), 32);
}

#[test]
fn the_journal_id_is_made_once() {
    let dir = tempdir();
    let path = dir.path().join("j.db");
    let id = Journal::open(&path).unwrap().journal_id().to_owned();
    assert_eq!(Journal::open(&path).unwrap().journal_id(), id);
    let other = Journal::open(&dir.path().join("k.db")).unwrap();
    assert_ne!(other.journal_id(), id, "two journals never share an id");
}

#[test]
fn slip_ids_derive_from_the_journal_id_and_are_unique() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    let id = Journal::open_read_only(&journal)
        .unwrap()
        .journal_id()
        .to_owned();
    let out = run(&[
        "journal",
        "export",
        "--journal",
        journal.to_str().unwrap(),
        "--with-ids",
    ]);
    let mut ids = std::collections::HashSet::new();
    for line in stdout(&out).lines() {
        let sale: serde_json::Value = serde_json::from_str(line).unwrap();
        for (i, slip) in sale["slips"].as_array().unwrap().iter().enumerate() {
            let expected = format!("{id}-{}-{}", sale["seq"], i + 1);
            assert_eq!(slip["id"], expected.as_str());
            assert!(ids.insert(expected));
        }
    }
    assert!(ids.len() > 300);
}

#[test]
fn export_has_the_fields_of_the_contract() {
    let dir = tempdir();
    let journal = dir.path().join("e.db");
    replay_json(&shipped_log("edge-cases.jsonl"), &journal, &[]);
    let text = export(&journal);
    let sales: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sales.len(), 3);
    let s = &sales[1];
    assert_eq!(s["seq"], 2);
    assert_eq!(s["at"], "2026-11-28T09:00:09+09:00");
    assert_eq!(
        (
            s["total_yen"].as_u64(),
            s["tendered_yen"].as_u64(),
            s["change_yen"].as_u64()
        ),
        (Some(300_120), Some(300_120), Some(0))
    );
    let slip = &s["slips"][1];
    assert_eq!(slip["amount_yen"], 300_000);
    assert_eq!(slip["stamp"], true);
    assert_eq!(slip["barcode"].as_str().unwrap().len(), 44);
    assert_eq!(slip["sync"], "pending");
    assert!(slip.get("id").is_none(), "ids only with --with-ids");
}

#[test]
fn verify_passes_an_intact_journal() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    let ok = verify(&journal).unwrap();
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(ok.contains("300 sales"), "{ok}");
}

#[test]
fn verify_catches_a_changed_sale() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    tamper(
        &journal,
        "UPDATE sales SET tendered_yen = tendered_yen + 1000, change_yen = change_yen + 1000 WHERE seq = 5",
    );
    verify_fails_at(&journal, 5, "changed");
}

#[test]
fn verify_catches_a_changed_slip() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    tamper(
        &journal,
        "UPDATE slips SET at = '2026-11-28T07:00:00+09:00' WHERE sale_seq = 7 AND idx = 1",
    );
    verify_fails_at(&journal, 7, "changed");
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    tamper(
        &journal,
        "UPDATE slips SET amount_yen = amount_yen - 100 WHERE sale_seq = 8 AND idx = 1",
    );
    verify_fails_at(&journal, 8, "differs from its barcode");
}

#[test]
fn verify_catches_a_deleted_sale() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    delete_sale(&journal, 10);
    verify_fails_at(&journal, 10, "missing");
}

#[test]
fn verify_catches_the_last_sale_deleted() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    delete_sale(&journal, 300);
    verify_fails_at(&journal, 300, "head");
}

#[test]
fn verify_catches_an_inserted_sale() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    // A forger who knows the hashing: a whole, self-consistent sale 10 chained to sale 9,
    // with the old sales from 10 on moved up by one.
    let nine = Journal::open_read_only(&journal)
        .unwrap()
        .sale(9)
        .unwrap()
        .unwrap();
    let mut forged = nine.clone();
    forged.seq = 10;
    forged.prev_hash = nine.hash.clone();
    forged.slips.truncate(1);
    let code = konbini_domain::BillBarcode::build(&konbini_domain::BillFields {
        company_code: "999999",
        free_area: "1",
        reissue: 0,
        deadline: konbini_domain::Deadline::None,
        stamp: false,
        amount: forged.total,
    })
    .unwrap();
    forged.slips[0].pay = SlipPay::Barcode(code.to_string());
    forged.slips[0].amount = forged.total;
    forged.slips[0].stamp = false;
    forged.hash = forged.content_hash();
    tamper(
        &journal,
        &format!(
            "UPDATE sales SET seq = seq + 1000 WHERE seq >= 10;
             UPDATE sales SET seq = seq - 999 WHERE seq >= 1010;
             UPDATE slips SET sale_seq = sale_seq + 1000 WHERE sale_seq >= 10;
             UPDATE slips SET sale_seq = sale_seq - 999 WHERE sale_seq >= 1010;
             UPDATE outbox SET sale_seq = sale_seq + 1000 WHERE sale_seq >= 10;
             UPDATE outbox SET sale_seq = sale_seq - 999 WHERE sale_seq >= 1010;
             UPDATE print_queue SET sale_seq = sale_seq + 1000 WHERE sale_seq >= 10;
             UPDATE print_queue SET sale_seq = sale_seq - 999 WHERE sale_seq >= 1010;
             INSERT INTO sales SELECT 10, at, terminal, store_code, store_chain, store_name,
                 total_yen, tendered_yen, change_yen, '{prev}', '{hash}' FROM sales WHERE seq = 9;
             INSERT INTO slips (sale_seq, idx, at, barcode, amount_yen, stamp)
                 VALUES (10, 1, '{at}', '{code}', {total}, 0);
             INSERT INTO outbox (sale_seq, idx) VALUES (10, 1);
             INSERT INTO print_queue (sale_seq) VALUES (10);
             UPDATE meta SET value = '301' WHERE key = 'head_seq';",
            prev = forged.prev_hash,
            hash = forged.hash,
            at = forged.slips[0].at,
            total = forged.total.get(),
        ),
    );
    // Sale 10 is perfect; the sale after it no longer follows.
    verify_fails_at(&journal, 11, "does not follow");
}

#[test]
fn pay_keys_are_derived_and_cannot_be_edited() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    let conn = Connection::open(&journal).unwrap();
    let err = conn
        .execute("UPDATE slips SET pay_key = 'x' WHERE sale_seq = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("generated column"), "{err}");
}

#[test]
fn an_expected_head_catches_a_truncated_journal_with_a_rewritten_head() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    let head = Journal::open_read_only(&journal)
        .unwrap()
        .head()
        .unwrap()
        .1
        .unwrap();
    delete_sale(&journal, 300);
    tamper(
        &journal,
        "UPDATE meta SET value = '299' WHERE key = 'head_seq';
         UPDATE meta SET value = (SELECT hash FROM sales WHERE seq = 299) WHERE key = 'head_hash';",
    );
    // The file alone cannot tell (README: what verify catches) ...
    assert!(verify(&journal).is_ok());
    // ... a head kept elsewhere can.
    let out = run(&[
        "journal",
        "verify",
        "--journal",
        journal.to_str().unwrap(),
        "--expect-head",
        &head,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("sales were removed or rewritten"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_keyed_in_payment_is_journaled_exported_and_printed() {
    use konbini_devices::receipt::{COLUMNS_80MM, Receipt};
    use konbini_domain::{PaperlessRef, Yen};
    use konbini_register::{NewSale, PaymentInfo, Slip, SlipKind, Station};

    let dir = tempdir();
    let path = dir.path().join("k.db");
    let mut j = Journal::open(&path).unwrap();
    let slip = Slip {
        at: at("2026-11-28T10:00:00+09:00"),
        kind: SlipKind::KeyIn {
            reference: PaperlessRef::parse("lawson", "123456", "09012345678").unwrap(),
            payment: PaymentInfo {
                payment: "pi_123".into(),
                amount: Yen::new(55_000),
                merchant: "Example Shop".into(),
                description: "order 42".into(),
                customer_name: "山田太郎".into(),
                expires_at: None,
            },
        },
    };
    assert!(!j.is_paid(&slip.pay_key()).unwrap());
    let sale = NewSale {
        at: at("2026-11-28T10:00:05+09:00"),
        station: Station::default(),
        slips: vec![slip.clone()],
        total: Yen::new(55_000),
        tendered: Yen::new(60_000),
        change: Yen::new(5_000),
    };
    let committed = j.commit_sale(&sale, None).unwrap();
    assert_eq!(committed.seq, 1);
    // The core's pay key and the journal's derived one are the same text.
    assert!(j.is_paid(&slip.pay_key()).unwrap());
    assert!(j.verify(None).is_ok());
    let record = j.sale(1).unwrap().unwrap();
    assert_eq!(record.hash, committed.hash);
    let text = Receipt::for_sale(&record).to_text(COLUMNS_80MM);
    for expected in [
        "収納代行 ローソン",
        "Example Shop",
        "受付番号 123456",
        "確認番号 *******5678",
        "収入印紙",
        "¥55,000",
        "¥5,000",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in\n{text}");
    }
    drop(j);
    let exported: serde_json::Value = serde_json::from_str(export(&path).trim()).unwrap();
    let s = &exported["slips"][0];
    assert_eq!(
        (
            s["chain"].as_str(),
            s["payment_code"].as_str(),
            s["confirmation_number"].as_str()
        ),
        (Some("lawson"), Some("123456"), Some("09012345678"))
    );
    assert_eq!(s["stamp"], true);
    assert!(s.get("barcode").is_none());
}

#[test]
fn verify_catches_reordered_sales() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    tamper(
        &journal,
        "UPDATE sales SET seq = -1 WHERE seq = 20;
         UPDATE sales SET seq = 20 WHERE seq = 21;
         UPDATE sales SET seq = 21 WHERE seq = -1;",
    );
    verify_fails_at(&journal, 20, "");
}

#[test]
fn verify_of_a_missing_journal_names_it() {
    let err = verify(Path::new("/no/such/journal.db")).unwrap_err();
    assert!(
        err.contains("journal /no/such/journal.db does not exist"),
        "{err}"
    );
}

#[test]
fn verify_of_a_file_that_is_not_a_journal() {
    let dir = tempdir();
    let path = dir.path().join("notes.db");
    std::fs::write(
        &path,
        "this is not SQLite, just some text that is long enough to look like a header......",
    )
    .unwrap();
    let err = verify(&path).unwrap_err();
    assert!(
        err.contains("notes.db") && err.contains("not a konbini journal"),
        "{err}"
    );
}

#[test]
fn a_journal_from_a_newer_schema_is_refused() {
    let dir = tempdir();
    let journal = dir.path().join("new.db");
    drop(Journal::open(&journal).unwrap());
    tamper(&journal, "PRAGMA user_version = 99");
    let out = run(&[
        "replay",
        shipped_log("edge-cases.jsonl").to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("schema version 99, newer than this konbini-pos knows"),
        "{err}"
    );
    assert!(err.contains("new.db"), "{err}");
    let conn = Connection::open(&journal).unwrap();
    let sales: i64 = conn
        .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sales, 0, "nothing was written");
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let held = Journal::open(&journal).unwrap();
    let out = run(&[
        "replay",
        shipped_log("edge-cases.jsonl").to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("is in use by pid {}", std::process::id())),
        "{}",
        stderr(&out)
    );
    // Readers are welcome meanwhile.
    assert!(verify(&journal).is_ok());
    drop(held);
    replay_json(&shipped_log("edge-cases.jsonl"), &journal, &[]);
}

#[test]
fn replay_refuses_to_append_to_a_tampered_journal() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    tamper(
        &journal,
        "UPDATE sales SET total_yen = total_yen - 1, change_yen = change_yen + 1 WHERE seq = 12",
    );
    let out = run(&[
        "replay",
        shipped_log("edge-cases.jsonl").to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--json",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("day.db") && err.contains("sale 12"), "{err}");
    assert!(stdout(&out).is_empty());
    let conn = Connection::open(&journal).unwrap();
    let sales: i64 = conn
        .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sales, 300, "nothing was appended");
}

/// Issue 21: deleting `<journal>.lock` during a replay let a second writer in.
#[test]
fn a_second_writer_is_refused_even_after_the_lock_file_was_deleted() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let held = Journal::open(&journal).unwrap();
    std::fs::remove_file(dir.path().join("j.db.lock")).unwrap();
    let out = run(&[
        "replay",
        shipped_log("edge-cases.jsonl").to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "journal {} is in use by pid {}",
            journal.display(),
            std::process::id()
        )),
        "{err}"
    );
    // Readers need no lock.
    assert!(verify(&journal).is_ok());
    let sales: i64 = Connection::open(&journal)
        .unwrap()
        .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sales, 0, "the refused writer wrote nothing");
    drop(held);
}

/// Issue 21: outbox rows made `sent` by hand passed verify, and the resumed sync sent none
/// of them. Verify names the first, and a replay refuses the journal.
#[test]
fn outbox_rows_marked_sent_by_hand_fail_verify_naming_the_first() {
    let dir = tempdir();
    let journal = store_day_journal(dir.path());
    tamper(
        &journal,
        "UPDATE outbox SET state = 'sent' WHERE state = 'pending'",
    );
    let err = verify(&journal).expect_err("unproven states must be caught");
    assert!(
        err.contains("outbox row sale 1 slip 1: state 'sent' but no verdict records it"),
        "{err}"
    );
    assert!(err.contains("day.db"), "{err}");
    let out = run(&[
        "replay",
        shipped_log("edge-cases.jsonl").to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("outbox row sale 1 slip 1"),
        "{}",
        stderr(&out)
    );
}

/// Issue 21: a one-byte change of an outbox state in the file passed verify (or was called
/// "not a konbini journal"), then stopped replay. Verify names the row either way: a
/// state that is no state, and a state stored as a blob.
#[test]
fn a_one_byte_change_of_an_outbox_state_is_named_as_that_rows() {
    for (what, change) in [
        (
            "letter",
            Box::new(|b: &mut Vec<u8>, at: usize| b[at + 6] = b'G')
                as Box<dyn Fn(&mut Vec<u8>, usize)>,
        ),
        (
            "type",
            Box::new(|b: &mut Vec<u8>, at: usize| {
                // The record header's serial type of the 7-byte text (13 + 2 * 7) just
                // before its body becomes a 7-byte blob's (12 + 2 * 7).
                let t = (at.saturating_sub(16)..at)
                    .rev()
                    .find(|&i| b[i] == 27)
                    .unwrap();
                b[t] = 26;
            }),
        ),
    ] {
        let dir = tempdir();
        let journal = store_day_journal(dir.path());
        let mut bytes = std::fs::read(&journal).unwrap();
        let at = bytes
            .windows(7)
            .rposition(|w| w == b"pending")
            .expect("an outbox state in the file");
        change(&mut bytes, at);
        std::fs::write(&journal, &bytes).unwrap();
        let (seq, idx): (i64, i64) = Connection::open(&journal)
            .unwrap()
            .query_row(
                "SELECT sale_seq, idx FROM outbox
                 WHERE typeof(state) != 'text' OR state != 'pending'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or_else(|e| panic!("{what}: the change hit no outbox row: {e}"));
        let err = verify(&journal).expect_err("the change must be caught");
        let expected = match what {
            "letter" => "its state 'pendinG' is not an outbox state",
            _ => "its state a blob of 7 bytes is not an outbox state",
        };
        assert!(
            err.contains(&format!("outbox row sale {seq} slip {idx}: {expected}")),
            "{what}: {err}"
        );
        assert!(!err.contains("not a konbini journal"), "{what}: {err}");
    }
}
