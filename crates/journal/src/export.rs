//! Export: one JSON object per completed sale, in journal order (`docs/cli.md`).

use serde::Serialize;

use super::record::{RecordKind, RegisterRecord, SaleRecord, SlipPay, SyncState};
use super::{Journal, JournalError};
use konbini_domain::Chain;

#[derive(Serialize)]
struct ExportSale<'a> {
    seq: u64,
    at: &'a str,
    terminal: &'a str,
    store: ExportStore<'a>,
    total_yen: u64,
    tendered_yen: u64,
    change_yen: u64,
    hash: &'a str,
    slips: Vec<ExportSlip<'a>>,
}

#[derive(Serialize)]
struct ExportStore<'a> {
    code: &'a str,
    chain: Option<Chain>,
    name: &'a str,
}

#[derive(Serialize)]
struct ExportSlip<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    at: &'a str,
    amount_yen: u64,
    stamp: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    barcode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<Chain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merchant: Option<&'a str>,
    sync: SyncState,
}

/// A non-sale record as exported: what it is, where it stands, and its content's fields.
#[derive(Serialize)]
struct ExportRecord<'a> {
    record: RecordKind,
    seq: u64,
    at: &'a str,
    after_sale: u64,
    #[serde(flatten)]
    body: serde_json::Value,
    hash: &'a str,
}

impl Journal {
    /// Write every sale as one JSON line. Slip ids (random per journal) only with `with_ids`,
    /// so exports of the same log replayed into two journals compare equal.
    pub fn export(
        &self,
        out: &mut dyn std::io::Write,
        with_ids: bool,
    ) -> Result<u64, JournalError> {
        self.export_with(out, with_ids, false)
    }

    /// [`Journal::export`], and with `with_records` the non-sale records too (voids,
    /// cancels, day closes), each as one JSON line with `"record"` naming its kind, placed
    /// after the sale it follows: the journal's whole story in order. Returns the lines.
    pub fn export_with(
        &self,
        out: &mut dyn std::io::Write,
        with_ids: bool,
        with_records: bool,
    ) -> Result<u64, JournalError> {
        let mut n = 0;
        let snapshot = self.conn.unchecked_transaction().map_err(self.err())?;
        // The records are read first, in order (a few a day beside the sales: cancels,
        // voids, one close), then placed among the sales as they stream past.
        let mut pending = std::collections::VecDeque::new();
        if with_records {
            self.for_each_record(|r| {
                pending.push_back(r);
                Ok(())
            })?;
        }
        let mut write_records = |upto: u64, out: &mut dyn std::io::Write, n: &mut u64| {
            while pending
                .front()
                .is_some_and(|r: &RegisterRecord| r.sale_seq < upto)
            {
                let r = pending.pop_front().expect("looked at");
                write_record(out, &r)?;
                *n += 1;
            }
            Ok::<(), JournalError>(())
        };
        self.for_each_sale(|sale| {
            write_records(sale.seq, out, &mut n)?;
            let line = serde_json::to_string(&export_sale(&sale, with_ids))
                .expect("export rows serialize");
            writeln!(out, "{line}").map_err(|source| JournalError::Output { source })?;
            n += 1;
            Ok(())
        })?;
        write_records(u64::MAX, out, &mut n)?;
        drop(snapshot);
        Ok(n)
    }
}

fn write_record(out: &mut dyn std::io::Write, r: &RegisterRecord) -> Result<(), JournalError> {
    let body = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
    let body = match body {
        serde_json::Value::Object(map) => serde_json::Value::Object(map),
        // Unreadable content (verify names it): exported as it is stored.
        _ => serde_json::json!({ "content": r.body }),
    };
    let line = serde_json::to_string(&ExportRecord {
        record: r.kind,
        seq: r.seq,
        at: &r.at,
        after_sale: r.sale_seq,
        body,
        hash: &r.hash,
    })
    .expect("export rows serialize");
    writeln!(out, "{line}").map_err(|source| JournalError::Output { source })
}

fn export_sale(sale: &SaleRecord, with_ids: bool) -> ExportSale<'_> {
    ExportSale {
        seq: sale.seq,
        at: &sale.at,
        terminal: &sale.terminal,
        store: ExportStore {
            code: &sale.store.code,
            chain: sale.store.chain,
            name: &sale.store.name,
        },
        total_yen: sale.total.get(),
        tendered_yen: sale.tendered.get(),
        change_yen: sale.change.get(),
        hash: &sale.hash,
        slips: sale
            .slips
            .iter()
            .map(|s| {
                let mut e = ExportSlip {
                    id: with_ids.then_some(s.id.as_str()),
                    at: &s.at,
                    amount_yen: s.amount.get(),
                    stamp: s.stamp,
                    barcode: None,
                    chain: None,
                    payment_code: None,
                    confirmation_number: None,
                    payment: None,
                    merchant: None,
                    sync: s.sync,
                };
                match &s.pay {
                    SlipPay::Barcode(d) => e.barcode = Some(d),
                    SlipPay::KeyIn {
                        chain,
                        payment_code,
                        confirmation_number,
                        payment,
                        merchant,
                    } => {
                        e.chain = Some(*chain);
                        e.payment_code = Some(payment_code);
                        e.confirmation_number = Some(confirmation_number);
                        e.payment = Some(payment);
                        e.merchant = Some(merchant);
                    }
                }
                e
            })
            .collect(),
    }
}
