//! Verification: the hash chain and the invariants, sale by sale, naming the first bad sale.
//! Catches a changed sale or slip (its hash no longer matches), a deleted sale (a gap, or a
//! head that no longer matches), an inserted sale (a broken link) and reordered sales (seq is
//! part of the hashed content).

use super::record::{GENESIS_HASH, SaleRecord, SlipPay};
use super::{Journal, JournalError};
use konbini_domain::{BillBarcode, Yen};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Sales checked.
    pub sales: u64,
    /// Slips checked.
    pub slips: u64,
    /// The newest sale's hash (None when empty).
    pub head: Option<String>,
}

impl Journal {
    /// Check SQLite's own integrity, then every sale in order, all in one read snapshot (a
    /// writer may go on meanwhile). The first problem is the error. With `expect_head`, the
    /// chain must also end at that hash: a head kept elsewhere (the payment network keeps
    /// each terminal's) catches sales removed or rewritten together with the local head.
    pub fn verify(&self, expect_head: Option<&str>) -> Result<VerifyReport, JournalError> {
        let snapshot = self.conn.unchecked_transaction().map_err(self.err())?;
        let integrity: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(self.err())?;
        if integrity != "ok" {
            return Err(JournalError::NotAJournal {
                path: self.path.clone(),
                detail: format!("SQLite integrity check failed: {integrity}"),
            });
        }
        let mut expected_seq = 1u64;
        let mut prev = GENESIS_HASH.to_owned();
        let mut slips = 0u64;
        self.for_each_sale(|sale| {
            let bad = |seq: u64, problem: String| JournalError::Tampered {
                path: self.path.clone(),
                seq,
                problem,
            };
            if sale.seq != expected_seq {
                return Err(bad(
                    expected_seq,
                    format!("is missing (the next sale is {})", sale.seq),
                ));
            }
            if sale.prev_hash != prev {
                return Err(bad(
                    sale.seq,
                    "does not follow the sale before it (a sale was inserted, deleted or moved)"
                        .to_owned(),
                ));
            }
            if let Some(problem) = self.invariant_problem(&sale)? {
                return Err(bad(sale.seq, problem));
            }
            if sale.content_hash() != sale.hash {
                return Err(bad(
                    sale.seq,
                    "its content does not match its hash (it was changed)".to_owned(),
                ));
            }
            slips += sale.slips.len() as u64;
            prev = sale.hash;
            expected_seq += 1;
            Ok(())
        })?;
        let sales = expected_seq - 1;
        let (head_seq, head_hash) = self.head()?;
        if head_seq != sales || (sales > 0 && head_hash.as_deref() != Some(prev.as_str())) {
            return Err(JournalError::Tampered {
                path: self.path.clone(),
                seq: head_seq.max(sales),
                problem: format!(
                    "the journal's head is sale {head_seq} but the chain ends at sale {sales} \
                     (a sale was deleted or added at the end)"
                ),
            });
        }
        let orphans: i64 = self
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM slips WHERE sale_seq NOT IN (SELECT seq FROM sales))
                      + (SELECT count(*) FROM outbox o WHERE NOT EXISTS
                           (SELECT 1 FROM slips s WHERE s.sale_seq = o.sale_seq AND s.idx = o.idx))
                      + (SELECT count(*) FROM print_queue WHERE sale_seq NOT IN (SELECT seq FROM sales))",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        if orphans > 0 {
            return Err(JournalError::Tampered {
                path: self.path.clone(),
                seq: sales + 1,
                problem: format!("{orphans} slip, outbox or print rows belong to no sale"),
            });
        }
        if let Some(expected) = expect_head
            && expected != prev
        {
            return Err(JournalError::Tampered {
                path: self.path.clone(),
                seq: sales,
                problem: format!(
                    "the chain ends at hash {prev}, not the expected {expected} \
                     (sales were removed or rewritten)"
                ),
            });
        }
        drop(snapshot);
        Ok(VerifyReport {
            sales,
            slips,
            head: (sales > 0).then_some(prev),
        })
    }

    /// The invariants a sale must keep whatever its hash says.
    fn invariant_problem(&self, sale: &SaleRecord) -> Result<Option<String>, JournalError> {
        if sale.slips.is_empty() {
            return Ok(Some("has no slips".to_owned()));
        }
        for (slip, idx) in sale.slips.iter().zip(1u32..) {
            if slip.idx != idx {
                return Ok(Some(format!("slip {idx} is missing")));
            }
            if let SlipPay::Barcode(digits) = &slip.pay {
                match BillBarcode::parse(digits) {
                    Ok(code)
                        if code.amount() == slip.amount && code.needs_stamp() == slip.stamp => {}
                    Ok(_) => {
                        return Ok(Some(format!(
                            "slip {idx}'s amount or stamp differs from its barcode"
                        )));
                    }
                    Err(e) => return Ok(Some(format!("slip {idx}'s barcode is invalid: {e}"))),
                }
            }
        }
        let total = sale
            .slips
            .iter()
            .try_fold(Yen::ZERO, |sum, s| sum.checked_add(s.amount));
        if total != Some(sale.total) {
            return Ok(Some("its total is not the sum of its slips".to_owned()));
        }
        if sale.tendered.checked_sub(sale.total) != Some(sale.change) {
            return Ok(Some("its change is not tendered minus total".to_owned()));
        }
        let (outbox, printed): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM outbox o JOIN slips s
                           ON s.sale_seq = o.sale_seq AND s.idx = o.idx
                         WHERE s.sale_seq = ?1),
                        (SELECT count(*) FROM print_queue WHERE sale_seq = ?1)",
            )
            .and_then(|mut st| st.query_row([sale.seq as i64], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(self.err())?;
        if outbox != sale.slips.len() as i64 {
            return Ok(Some("a slip has no outbox row".to_owned()));
        }
        if printed != 1 {
            return Ok(Some("it has no print job".to_owned()));
        }
        Ok(None)
    }
}
