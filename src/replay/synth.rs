//! Synthetic scan logs: a deterministic store day for demos, tests and benchmarks. The
//! same seed gives the same log, byte for byte.
//!
//! With mistakes on, the clerk makes the usual ones: a slip scanned twice, an expired
//! slip, a misread check digit, a customer short of cash, a sale cancelled, a tender with
//! no sale open, a slip paid earlier brought back, an amount over the konbini limit, a
//! paperless payment keyed in (offline without a network), and a garbled line.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};

use konbini_domain::time::{business_date, jst};
use konbini_domain::{BillBarcode, BillFields, Deadline, Yen};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Completed sales to aim for.
    pub sales: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// The store's day.
    pub date: NaiveDate,
    /// Whether the clerk makes mistakes.
    pub mistakes: bool,
    /// At most this many slips in a sale (1 for a benchmark of one slip per sale).
    pub max_slips: u32,
}

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Billers a konbini sees all day: (company code, typical amounts, stamp at or above).
const BILLERS: [(&str, u64, u64); 8] = [
    ("912345", 4_000, 54_000),    // electricity
    ("923456", 3_000, 54_000),    // gas
    ("934567", 2_500, 54_000),    // water
    ("945678", 8_000, 54_000),    // mobile phone
    ("956789", 6_000, 50_000),    // mail order
    ("959919", 30_000, u64::MAX), // local taxes: public funds never carry a stamp
    ("967890", 15_000, 54_000),   // insurance
    ("978901", 1_200, 54_000),    // online games and tickets
];

/// Write a log for `opts` into a String (a few hundred sales is a few hundred KB).
pub fn store_day(opts: &SynthOptions) -> String {
    let mut out = Vec::new();
    write_log(opts, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("the log is UTF-8")
}

/// Write a log for `opts` into `out`.
pub fn write_log(opts: &SynthOptions, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut rng = Rng(opts.seed);
    let open = jst()
        .from_local_datetime(&opts.date.and_hms_opt(6, 30, 0).expect("valid time"))
        .single()
        .expect("JST has no gaps");
    let mut at = open;
    let mut paid: Vec<String> = Vec::new();
    let mut serial = 0u64;
    writeln!(
        out,
        r#"{{"konbini_scan_log": 1, "terminal": "T01", "store": {{"code": "0042", "chain": "lawson", "name": "ローソン 札幌北口店"}}}}"#
    )?;
    let mut completed = 0;
    while completed < opts.sales {
        at += Duration::milliseconds(20_000 + rng.below(160_000) as i64);
        let mistakes = opts.mistakes;
        if mistakes && rng.chance(2) {
            event(out, &mut at, &mut rng, r#""tender":1000"#)?;
        }
        let slips = 1 + rng.below(u64::from(opts.max_slips.max(1))) as u32;
        let slips = if opts.max_slips > 1 && rng.chance(70) {
            1
        } else {
            slips
        };
        let mut in_sale: Vec<String> = Vec::new();
        let mut total = 0u64;
        for _ in 0..slips {
            serial += 1;
            let days = 3 + rng.below(40) as i64;
            let today = business_date(&at);
            let deadline = if rng.chance(10) {
                Deadline::None
            } else {
                Deadline::On(today + Duration::days(days))
            };
            let (code, amount) = new_slip(&mut rng, today, serial, deadline);
            let frame = frame(&mut rng, &code);
            if mistakes && rng.chance(3) {
                // A misread: one digit off, so the check digit fails; the clerk rescans.
                let mut bad = code.as_str().as_bytes().to_vec();
                let i = 2 + rng.below(40) as usize;
                bad[i] = b'0' + (bad[i] - b'0' + 1) % 10;
                let bad = String::from_utf8(bad).expect("digits");
                event(out, &mut at, &mut rng, &format!(r#""scan":"]C1{bad}""#))?;
            }
            event(
                out,
                &mut at,
                &mut rng,
                &format!(r#""scan":{}"#, json(&frame)),
            )?;
            if mistakes && rng.chance(4) {
                event(
                    out,
                    &mut at,
                    &mut rng,
                    &format!(r#""scan":{}"#, json(&frame)),
                )?;
            }
            in_sale.push(code.as_str().to_owned());
            total += amount.get();
        }
        if mistakes && rng.chance(2) {
            let days = 1 + rng.below(20) as i64;
            let today = business_date(&at);
            let (expired, _) = new_slip(
                &mut rng,
                today,
                900_000 + serial,
                Deadline::On(today - Duration::days(days)),
            );
            event(out, &mut at, &mut rng, &format!(r#""scan":"]C1{expired}""#))?;
        }
        if mistakes && rng.chance(1) && !paid.is_empty() {
            let again = paid[rng.below(paid.len() as u64) as usize].clone();
            event(out, &mut at, &mut rng, &format!(r#""scan":"]C1{again}""#))?;
        }
        if mistakes && rng.chance(1) {
            let over = BillBarcode::build(&BillFields {
                company_code: "956789",
                free_area: &format!("{serial:021}"),
                reissue: 0,
                deadline: Deadline::None,
                stamp: true,
                amount: Yen::new(300_001 + rng.below(100_000)),
            })
            .expect("valid fields");
            event(out, &mut at, &mut rng, &format!(r#""scan":"{over}""#))?;
        }
        if mistakes && rng.chance(2) {
            event(
                out,
                &mut at,
                &mut rng,
                r#""key_in":{"chain":"lawson","payment_code":"123456","confirmation_number":"09012345678"}"#,
            )?;
        }
        if mistakes && rng.chance(1) {
            out.write_all(b"{\"at\":\"2026-11-28T1\n")?;
        }
        if mistakes && rng.chance(3) {
            event(out, &mut at, &mut rng, r#""cancel":true"#)?;
            continue;
        }
        let cash = round_up(total, if total < 10_000 { 1_000 } else { 10_000 });
        if mistakes && rng.chance(4) && total > 1_000 {
            // Short: the customer finds more money.
            let short = total / 2;
            event(out, &mut at, &mut rng, &format!(r#""tender":{short}"#))?;
            event(out, &mut at, &mut rng, r#""complete":true"#)?;
            event(
                out,
                &mut at,
                &mut rng,
                &format!(r#""tender":{}"#, cash - short),
            )?;
        } else {
            event(out, &mut at, &mut rng, &format!(r#""tender":{cash}"#))?;
        }
        event(out, &mut at, &mut rng, r#""complete":true"#)?;
        paid.extend(in_sale);
        // Customers bring back recent slips; keeping only those keeps memory flat.
        if paid.len() > 2048 {
            paid.drain(..1024);
        }
        completed += 1;
    }
    Ok(())
}

fn new_slip(rng: &mut Rng, date: NaiveDate, serial: u64, deadline: Deadline) -> (BillBarcode, Yen) {
    let (company, typical, stamp_from) = BILLERS[rng.below(BILLERS.len() as u64) as usize];
    let amount = (typical / 4 + rng.below(typical * 2)).clamp(120, 300_000);
    let amount = if rng.chance(2) {
        50_000 + rng.below(150_000)
    } else {
        amount
    };
    let free = format!(
        "{}{:012}",
        date.format("%y%m%d"),
        serial * 7919 + rng.below(1000)
    );
    let code = BillBarcode::build(&BillFields {
        company_code: company,
        free_area: &free,
        reissue: u8::from(rng.chance(5)),
        deadline,
        stamp: amount >= stamp_from,
        amount: Yen::new(amount),
    })
    .expect("valid fields");
    (code, Yen::new(amount))
}

/// What the scanner sends: mostly `]C1` and the digits, sometimes FNC1 as GS, sometimes no
/// AIM prefix at all (a scanner configured without identifiers).
fn frame(rng: &mut Rng, code: &BillBarcode) -> String {
    match rng.below(10) {
        0 => code.as_str().to_owned(),
        1 => format!("]C1\u{1d}{}", code.as_str()),
        _ => format!("]C1{}", code.as_str()),
    }
}

fn event(
    out: &mut dyn std::io::Write,
    at: &mut DateTime<FixedOffset>,
    rng: &mut Rng,
    body: &str,
) -> std::io::Result<()> {
    *at += Duration::milliseconds(800 + rng.below(6_000) as i64);
    writeln!(
        out,
        r#"{{"at":"{}",{body}}}"#,
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    )
}

fn json(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn round_up(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}
