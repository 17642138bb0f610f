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
    /// What its files are named: the receipt number (`<terminal>-<seq, 6 digits>`), a
    /// reprint's `<number>-R<n>`, a Z report's `Z-<terminal>-<number, 4 digits>`.
    pub number: String,
    /// Its lines, top to bottom.
    pub lines: Vec<Line>,
}

/// The receipt number of a sale.
pub fn receipt_number(sale: &SaleRecord) -> String {
    format!("{}-{:06}", sale.terminal, sale.seq)
}

/// The language receipts are printed in: a setting of its own (`konbini.toml`'s
/// `receipt_language`), apart from the clerk's screen. Japanese unless set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptLang {
    /// 日本語.
    #[default]
    Ja,
    /// English.
    En,
}

impl ReceiptLang {
    fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            ReceiptLang::Ja => ja,
            ReceiptLang::En => en,
        }
    }
}

/// How the store pays the stamp duty (印紙税) on receipts of ¥50,000 and more: a store
/// setting (`konbini.toml`'s `[store] stamp_duty`), said the same way on the receipt and
/// on the clerk's screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StampDuty {
    /// The clerk affixes a ¥200 revenue stamp (収入印紙) to the receipt and seals it.
    #[default]
    Affix,
    /// Paid by declaration (申告納付), as approved by this tax office: the receipt says so
    /// and no stamp is affixed.
    Declaration {
        /// The approving tax office, as printed (`札幌北税務署`).
        tax_office: String,
    },
}

/// The stamp duty on one receipt of ¥50,000 to ¥1,000,000 (印紙税法 別表第一 第17号).
pub const STAMP_DUTY_YEN: u64 = 200;

/// What every receipt of a store follows: its language and how stamp duty is paid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiptStyle {
    /// The receipt's language.
    pub lang: ReceiptLang,
    /// The stamp duty setting.
    pub stamp: StampDuty,
}

impl ReceiptStyle {
    /// The line a slip needing a revenue stamp gets on the receipt.
    pub fn stamp_line(&self) -> String {
        match (&self.stamp, self.lang) {
            (StampDuty::Affix, ReceiptLang::Ja) => {
                format!("  ※収入印紙 ¥{STAMP_DUTY_YEN} 貼付・割印")
            }
            (StampDuty::Affix, ReceiptLang::En) => {
                format!("  * Revenue stamp ¥{STAMP_DUTY_YEN} affixed and sealed")
            }
            (StampDuty::Declaration { tax_office }, ReceiptLang::Ja) => {
                format!("  収入印紙 印紙税申告納付につき{tax_office}承認済")
            }
            (StampDuty::Declaration { tax_office }, ReceiptLang::En) => {
                format!("  Stamp duty paid by declaration, approved by {tax_office}")
            }
        }
    }
}

/// A receipt printed again: marked 再発行 (REPRINT) with the original's number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reprint {
    /// Which reprint of the receipt this is (1 for the first), naming its files.
    pub count: u32,
    /// When it was printed, RFC 3339.
    pub at: String,
}

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
const WEEKDAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl Receipt {
    /// The receipt of a committed sale, in Japanese, stamps affixed.
    pub fn for_sale(sale: &SaleRecord) -> Receipt {
        Receipt::for_sale_styled(sale, &ReceiptStyle::default(), None)
    }

    /// The receipt of a committed sale in `style`; a `reprint` is marked as one.
    pub fn for_sale_styled(
        sale: &SaleRecord,
        style: &ReceiptStyle,
        reprint: Option<&Reprint>,
    ) -> Receipt {
        let lang = style.lang;
        let original = receipt_number(sale);
        let t = |ja, en| lang.pick(ja, en).to_owned();
        let mut lines = vec![
            Line::Title(sale.store.name.clone()),
            Line::Center(match lang {
                ReceiptLang::Ja => format!("店舗 {}  レジ {}", sale.store.code, sale.terminal),
                ReceiptLang::En => {
                    format!("Store {}  Register {}", sale.store.code, sale.terminal)
                }
            }),
            Line::Blank,
        ];
        if let Some(r) = reprint {
            lines.push(Line::Notice(t("【再発行】", "[REPRINT]")));
            lines.push(Line::Text(match lang {
                ReceiptLang::Ja => format!("再発行 {}", local_time(&r.at, lang)),
                ReceiptLang::En => format!("Reprinted {}", local_time(&r.at, lang)),
            }));
        }
        lines.extend([
            Line::Text(local_time(&sale.at, lang)),
            Line::Text(match (lang, reprint) {
                (ReceiptLang::Ja, None) => format!("レシート No. {original}"),
                (ReceiptLang::Ja, Some(_)) => format!("元のレシート No. {original}"),
                (ReceiptLang::En, None) => format!("Receipt No. {original}"),
                (ReceiptLang::En, Some(_)) => format!("Original receipt No. {original}"),
            }),
            Line::Rule,
            Line::Center(t("取扱明細兼領収書", "Statement and receipt")),
            Line::Rule,
        ]);
        let collection = t("収納代行", "Payment collection");
        for slip in &sale.slips {
            match &slip.pay {
                SlipPay::Barcode(digits) => {
                    lines.push(Line::Text(format!("{}. {collection}", slip.idx)));
                    // Parsing cannot fail for a journaled barcode; show the digits otherwise.
                    match BillBarcode::parse(digits) {
                        Ok(code) => {
                            lines.push(Line::Text(format!(
                                "  {} {}",
                                t("収納企業", "Biller"),
                                code.company_code()
                            )));
                            lines.push(Line::Text(format!(
                                "  {} {}",
                                t("お客様番号", "Customer no."),
                                code.free_area()
                            )));
                            if let Deadline::On(date) = code.deadline() {
                                lines.push(Line::Text(format!(
                                    "  {} {}",
                                    t("支払期限", "Due"),
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
                    let chain = match lang {
                        ReceiptLang::Ja => chain.name_ja(),
                        ReceiptLang::En => chain.name_en(),
                    };
                    lines.push(Line::Text(format!("{}. {collection} {chain}", slip.idx)));
                    lines.push(Line::Text(format!("  {merchant}")));
                    lines.push(Line::Text(format!(
                        "  {} {payment_code}",
                        t("受付番号", "Payment code")
                    )));
                    lines.push(Line::Text(format!(
                        "  {} {}",
                        t("確認番号", "Confirmation no."),
                        mask(confirmation_number)
                    )));
                }
            }
            lines.push(Line::Pair(String::new(), slip.amount.to_string()));
            if slip.stamp {
                lines.push(Line::Notice(style.stamp_line()));
            }
        }
        lines.extend([
            Line::Rule,
            Line::BigPair(t("合計", "TOTAL"), sale.total.to_string()),
            Line::Pair(t("お預り", "Cash"), sale.tendered.to_string()),
            Line::Pair(t("お釣り", "Change"), sale.change.to_string()),
            Line::Rule,
            Line::Text(match lang {
                ReceiptLang::Ja => format!("{}点 収納代行", sale.slips.len()),
                ReceiptLang::En => format!("{} payment(s) collected", sale.slips.len()),
            }),
            Line::Center(t("上記正に領収いたしました", "Received with thanks")),
        ]);
        let number = match reprint {
            Some(r) => format!("{original}-R{}", r.count),
            None => original,
        };
        Receipt { number, lines }
    }

    /// The X report (a reading: no number) or the Z report (the day close, under its
    /// number) of `report` at `station`, in `lang`.
    pub fn for_report(
        station: &konbini_register::Station,
        report: &konbini_journal::DayReport,
        lang: ReceiptLang,
    ) -> Receipt {
        let t = |ja, en| lang.pick(ja, en).to_owned();
        let s = &report.sales;
        let at_digits: String = report
            .at
            .chars()
            .filter(char::is_ascii_digit)
            .take(14)
            .collect();
        let number = match report.z {
            Some(z) => format!("Z-{}-{z:04}", station.terminal),
            None => format!("X-{}-{at_digits}", station.terminal),
        };
        let count = |n: u64, ja_unit: &str, en_unit: &str| match lang {
            ReceiptLang::Ja => format!("{n}{ja_unit}"),
            ReceiptLang::En => format!("{n} {en_unit}"),
        };
        let mut lines = vec![
            Line::Title(station.store.name.clone()),
            Line::Center(match lang {
                ReceiptLang::Ja => {
                    format!("店舗 {}  レジ {}", station.store.code, station.terminal)
                }
                ReceiptLang::En => {
                    format!(
                        "Store {}  Register {}",
                        station.store.code, station.terminal
                    )
                }
            }),
            Line::Blank,
            Line::Center(match (report.z, lang) {
                (Some(z), ReceiptLang::Ja) => format!("精算レポート（Z） No.{z:04}"),
                (Some(z), ReceiptLang::En) => format!("Day close (Z) No.{z:04}"),
                (None, ReceiptLang::Ja) => "点検レポート（X）".to_owned(),
                (None, ReceiptLang::En) => "Reading (X)".to_owned(),
            }),
            Line::Text(format!(
                "{} {}",
                t("営業日", "Business day"),
                report.business_date.format("%Y/%m/%d")
            )),
            Line::Text(format!(
                "{} {}",
                t("発行", "Printed"),
                local_time(&report.at, lang)
            )),
            Line::Rule,
            Line::Pair(t("取引数", "Sales"), s.sales.to_string()),
            Line::Pair(t("払込票", "Slips"), count(s.slips, "枚", "slips")),
            Line::Pair(
                t("印紙対象", "Stamp slips"),
                count(s.stamp_slips, "枚", "slips"),
            ),
            Line::BigPair(t("収納合計", "Collected"), s.total.to_string()),
            Line::Pair(t("お預り", "Cash in"), s.tendered.to_string()),
            Line::Pair(t("お釣り", "Change"), s.change.to_string()),
            Line::Rule,
        ];
        for m in &s.by_method {
            let method = match (m.method, lang) {
                (konbini_journal::PayMethod::Barcode, ReceiptLang::Ja) => "バーコード",
                (konbini_journal::PayMethod::KeyIn, ReceiptLang::Ja) => "番号入力",
                (konbini_journal::PayMethod::Barcode, ReceiptLang::En) => "Barcode",
                (konbini_journal::PayMethod::KeyIn, ReceiptLang::En) => "Key-in",
            };
            let chain = match (m.chain, lang) {
                (Some(c), ReceiptLang::Ja) => c.name_ja(),
                (Some(c), ReceiptLang::En) => c.name_en(),
                (None, _) => "",
            };
            lines.push(Line::Text(format!("{method} {chain}")));
            lines.push(Line::Pair(
                format!("  {}", count(m.slips, "枚", "slips")),
                m.amount.to_string(),
            ));
        }
        if let (Some(first), Some(last)) = (s.first_seq, s.last_seq) {
            lines.push(Line::Rule);
            lines.push(Line::Text(format!(
                "{} {first:06} - {last:06}",
                t("取引番号", "Sales No.")
            )));
        }
        lines.extend([
            Line::Rule,
            Line::Pair(
                t("取引中止", "Cancelled sales"),
                format!(
                    "{} {}",
                    count(report.cancelled.sales, "件", "sales"),
                    report.cancelled.yen
                ),
            ),
            Line::Pair(
                t("訂正（取消した払込票）", "Voided slips"),
                format!(
                    "{} {}",
                    count(report.voided.slips, "枚", "slips"),
                    report.voided.yen
                ),
            ),
            Line::Rule,
            Line::Pair(t("釣銭準備金", "Drawer float"), report.float.to_string()),
            Line::Pair(t("理論在高", "Expected cash"), report.expected.to_string()),
        ]);
        if let (Some(counted), Some(diff)) = (report.counted, report.difference) {
            lines.push(Line::Pair(t("実在高", "Counted cash"), counted.to_string()));
            lines.push(Line::BigPair(
                t("過不足", "Over/short"),
                signed_yen(diff, lang),
            ));
        }
        lines.extend([
            Line::Rule,
            Line::Pair(t("送信済", "Sent"), s.sync.sent.to_string()),
            Line::Pair(t("未送信", "Unsent"), s.sync.pending.to_string()),
            Line::Pair(
                t("要確認（競合）", "Conflicts"),
                s.sync.conflict.to_string(),
            ),
            Line::Pair(t("拒否", "Rejected"), s.sync.rejected.to_string()),
        ]);
        if s.sync.conflict + s.sync.rejected > 0 {
            lines.push(Line::Notice(t(
                "※要確認・拒否の払込票は現金が入金済みです。本部と加盟店に連絡してください",
                "* Conflict and rejected slips are cash taken: report them to head office",
            )));
        }
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

/// A difference of cash in yen: `過剰 ¥100` / `不足 ¥100` (`Over ¥100` / `Short ¥100`).
pub fn signed_yen(diff: i64, lang: ReceiptLang) -> String {
    let yen = konbini_domain::Yen::new(diff.unsigned_abs());
    match (diff.signum(), lang) {
        (1, ReceiptLang::Ja) => format!("過剰 {yen}"),
        (-1, ReceiptLang::Ja) => format!("不足 {yen}"),
        (1, ReceiptLang::En) => format!("Over {yen}"),
        (-1, ReceiptLang::En) => format!("Short {yen}"),
        _ => yen.to_string(),
    }
}

/// A journal time (RFC 3339) as printed: `2026年11月28日(土) 10:15` or
/// `2026-11-28 (Sat) 10:15`, in Japan time.
fn local_time(at: &str, lang: ReceiptLang) -> String {
    match (lang, DateTime::parse_from_rfc3339(at)) {
        (ReceiptLang::Ja, _) => japanese_time(at),
        (ReceiptLang::En, Ok(t)) => {
            let t = konbini_domain::time::in_japan(&t);
            format!(
                "{} ({}) {:02}:{:02}",
                t.format("%Y-%m-%d"),
                WEEKDAYS_EN[t.weekday().num_days_from_monday() as usize],
                t.hour(),
                t.minute()
            )
        }
        (ReceiptLang::En, Err(_)) => at.to_owned(),
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
