//! The receipt layout: what a customer's receipt (取扱明細兼領収書) says, as a list of lines
//! independent of any printer. Plain text rendering lives here; the printer turns the same
//! lines into ESC/POS. It reads committed sales only: a receipt always has a journal row.

use chrono::{DateTime, Datelike, Timelike};
use unicode_width::UnicodeWidthStr;

use konbini_domain::{BillBarcode, Deadline};
use konbini_journal::{SaleRecord, SlipPay};

/// Columns of Font A on 80 mm paper (576 dots / 12 dots).
pub const COLUMNS_80MM: usize = 48;
/// Columns of Font A on 58 mm paper (384 dots / 12 dots).
pub const COLUMNS_58MM: usize = 32;

/// One line of a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Large, centred: the store's name.
    Title(String),
    /// Centred.
    Center(String),
    /// Left-aligned.
    Text(String),
    /// A label on the left and an amount (or other value) flush right.
    Pair(String, String),
    /// Large: the totals a customer looks for.
    BigPair(String, String),
    /// A horizontal rule.
    Rule,
    /// Emphasised: the revenue-stamp notice.
    Notice(String),
    /// An empty line.
    Blank,
}

impl Line {
    /// The line as plain text `columns` wide, without its newline.
    pub fn to_text(&self, columns: usize) -> String {
        match self {
            Line::Title(t) | Line::Center(t) => center(t, columns),
            Line::Text(t) | Line::Notice(t) => t.clone(),
            Line::Pair(l, r) | Line::BigPair(l, r) => pair(l, r, columns),
            Line::Rule => "-".repeat(columns),
            Line::Blank => String::new(),
        }
    }
}

/// A receipt, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The receipt number: `<terminal>-<seq, 6 digits>`.
    pub number: String,
    /// Its lines, top to bottom.
    pub lines: Vec<Line>,
}

/// The receipt number of a sale.
pub fn receipt_number(sale: &SaleRecord) -> String {
    format!("{}-{:06}", sale.terminal, sale.seq)
}

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

impl Receipt {
    /// The receipt of a committed sale.
    pub fn for_sale(sale: &SaleRecord) -> Receipt {
        let number = receipt_number(sale);
        let mut lines = vec![
            Line::Title(sale.store.name.clone()),
            Line::Center(format!("店舗 {}  レジ {}", sale.store.code, sale.terminal)),
            Line::Blank,
            Line::Text(japanese_time(&sale.at)),
            Line::Text(format!("レシート No. {number}")),
            Line::Rule,
            Line::Center("取扱明細兼領収書".to_owned()),
            Line::Rule,
        ];
        for slip in &sale.slips {
            match &slip.pay {
                SlipPay::Barcode(digits) => {
                    lines.push(Line::Text(format!("{}. 収納代行", slip.idx)));
                    // Parsing cannot fail for a journaled barcode; show the digits otherwise.
                    match BillBarcode::parse(digits) {
                        Ok(code) => {
                            lines.push(Line::Text(format!("  収納企業 {}", code.company_code())));
                            lines.push(Line::Text(format!("  お客様番号 {}", code.free_area())));
                            if let Deadline::On(date) = code.deadline() {
                                lines.push(Line::Text(format!(
                                    "  支払期限 {}",
                                    date.format("%Y/%m/%d")
                                )));
                            }
                        }
                        Err(_) => lines.push(Line::Text(format!("  {digits}"))),
                    }
                }
                SlipPay::KeyIn {
                    chain,
                    payment_code,
                    confirmation_number,
                    merchant,
                    ..
                } => {
                    lines.push(Line::Text(format!(
                        "{}. 収納代行 {}",
                        slip.idx,
                        chain.name_ja()
                    )));
                    lines.push(Line::Text(format!("  {merchant}")));
                    lines.push(Line::Text(format!("  受付番号 {payment_code}")));
                    lines.push(Line::Text(format!(
                        "  確認番号 {}",
                        mask(confirmation_number)
                    )));
                }
            }
            lines.push(Line::Pair(String::new(), slip.amount.to_string()));
            if slip.stamp {
                lines.push(Line::Notice(
                    "  収入印紙 印紙税申告納付につき税務署承認済".to_owned(),
                ));
            }
        }
        lines.extend([
            Line::Rule,
            Line::BigPair("合計".to_owned(), sale.total.to_string()),
            Line::Pair("お預り".to_owned(), sale.tendered.to_string()),
            Line::Pair("お釣り".to_owned(), sale.change.to_string()),
            Line::Rule,
            Line::Text(format!("{}点 収納代行", sale.slips.len())),
            Line::Center("上記正に領収いたしました".to_owned()),
        ]);
        Receipt { number, lines }
    }

    /// The day close report (Z report) of `date` at `station`, printed at `at`.
    pub fn for_day(
        station: &konbini_register::Station,
        date: chrono::NaiveDate,
        at: &DateTime<chrono::FixedOffset>,
        t: &konbini_journal::DayTotals,
    ) -> Receipt {
        let number = format!("Z-{}-{}", station.terminal, date.format("%Y%m%d"));
        let mut lines = vec![
            Line::Title(station.store.name.clone()),
            Line::Center(format!(
                "店舗 {}  レジ {}",
                station.store.code, station.terminal
            )),
            Line::Blank,
            Line::Center("精算レポート（Z）".to_owned()),
            Line::Text(format!("営業日 {}", date.format("%Y/%m/%d"))),
            Line::Text(format!("発行 {}", japanese_time(&at.to_rfc3339()))),
            Line::Rule,
            Line::Pair("取引数".to_owned(), t.sales.to_string()),
            Line::Pair("払込票".to_owned(), format!("{}枚", t.slips)),
            Line::Pair("印紙対象".to_owned(), format!("{}枚", t.stamp_slips)),
            Line::BigPair("収納合計".to_owned(), t.total.to_string()),
            Line::Pair("お預り".to_owned(), t.tendered.to_string()),
            Line::Pair("お釣り".to_owned(), t.change.to_string()),
            Line::Rule,
        ];
        for m in &t.by_method {
            let method = match m.method {
                konbini_journal::PayMethod::Barcode => "バーコード",
                konbini_journal::PayMethod::KeyIn => "番号入力",
            };
            let chain = m.chain.map(|c| c.name_ja()).unwrap_or("");
            lines.push(Line::Text(format!("{method} {chain}")));
            lines.push(Line::Pair(format!("  {}枚", m.slips), m.amount.to_string()));
        }
        if let (Some(first), Some(last)) = (t.first_seq, t.last_seq) {
            lines.push(Line::Rule);
            lines.push(Line::Text(format!("取引番号 {first:06} - {last:06}")));
        }
        lines.extend([
            Line::Rule,
            Line::Pair("送信済".to_owned(), t.sync.sent.to_string()),
            Line::Pair("未送信".to_owned(), t.sync.pending.to_string()),
            Line::Pair("要確認".to_owned(), t.sync.conflict.to_string()),
            Line::Pair("拒否".to_owned(), t.sync.rejected.to_string()),
        ]);
        Receipt { number, lines }
    }

    /// The receipt as plain text `columns` wide (CJK characters take two columns).
    pub fn to_text(&self, columns: usize) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(&line.to_text(columns));
            out.push('\n');
        }
        out
    }
}

/// `2026年11月28日(土) 10:15` from a journal time (RFC 3339, Japan time).
fn japanese_time(at: &str) -> String {
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) => {
            let t = konbini_domain::time::in_japan(&t);
            format!(
                "{}年{}月{}日({}) {:02}:{:02}",
                t.year(),
                t.month(),
                t.day(),
                WEEKDAYS_JA[t.weekday().num_days_from_monday() as usize],
                t.hour(),
                t.minute()
            )
        }
        Err(_) => at.to_owned(),
    }
}

/// A confirmation number is often the customer's phone number: show its last 4 digits.
fn mask(number: &str) -> String {
    let hidden = number.chars().count().saturating_sub(4);
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i < hidden { '*' } else { c })
        .collect()
}

fn center(text: &str, columns: usize) -> String {
    let pad = columns.saturating_sub(text.width()) / 2;
    format!("{}{}", " ".repeat(pad), text)
}

fn pair(left: &str, right: &str, columns: usize) -> String {
    let gap = columns.saturating_sub(left.width() + right.width()).max(1);
    format!("{left}{}{right}", " ".repeat(gap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_fill_the_width_counting_cjk_as_two() {
        let line = pair("お釣り", "¥800", 20);
        assert_eq!(line.width(), 20);
        assert!(line.starts_with("お釣り"));
        assert!(line.ends_with("¥800"));
    }

    #[test]
    fn masks_all_but_four_digits() {
        assert_eq!(mask("09012345678"), "*******5678");
        assert_eq!(mask("12"), "12");
    }

    #[test]
    fn japanese_date_with_weekday() {
        assert_eq!(
            japanese_time("2026-11-28T10:15:03+09:00"),
            "2026年11月28日(土) 10:15"
        );
        assert_eq!(
            japanese_time("2026-11-28T01:15:03Z"),
            "2026年11月28日(土) 10:15"
        );
    }
}
