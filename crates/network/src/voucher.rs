//! The hosted voucher page: what the customer opens on a phone and shows at the store.
//! Server-rendered HTML in Japanese (English with `?lang=en`), with who pays whom, the
//! amount, the deadline, each chain's instructions and codes, and the bill barcode drawn as
//! a real GS1-128 symbol (Code 128 set C with FNC1, the firmware's own encoder) in SVG. A
//! voucher that can no longer be paid (cancelled, expired, or paid) says so and shows no
//! codes and no barcode. Also the refund page where a customer gives a bank account. No
//! scripts, no external assets; every string from a merchant or a customer is escaped.
//!
//! The barcode is drawn for a camera: one SVG unit per module, laid out at a whole number
//! of CSS pixels per module (1 on a phone, 2 from 48rem wide), never scaled to fit, with
//! `shape-rendering: crispEdges`, so that each module is a whole number of device pixels on
//! a 390-pixel phone at device scale 2 and on a desktop at scale 1 (a decoder reads it off
//! a screenshot of either), and its quiet zones are kept. A screen too narrow for it
//! scrolls the barcode sideways rather than shrink it.

use chrono::{DateTime, Utc};

use super::objects::{PaymentIntent, PiStatus, Refund, RefundStatus};
use konbini_domain::Chain;
use konbini_domain::time::in_japan;

/// The bar height, in modules (about a fifth of the 44-digit symbol's width).
const BAR_MODULES: u32 = 60;
/// The quiet zone each side, in modules (GS1-128 asks for at least 10).
const QUIET_MODULES: u32 = 10;

/// The bill barcode's bars as an SVG, one unit per module: one `<rect>` per bar on a white
/// ground that includes the quiet zones. Its size in CSS pixels comes from the page's
/// style (`--modules` and `--bar` times the module's CSS width), so it is never scaled by a
/// fraction. `None` if `digits` is not an even number of digits.
pub fn barcode_svg(digits: &str) -> Option<String> {
    let mut values = [0u8; 32];
    let n = konbini_firmware::code128::gs1_numeric(digits.as_bytes(), &mut values).ok()?;
    let mut x = QUIET_MODULES;
    let mut bars = String::new();
    konbini_firmware::code128::widths(&values[..n], |w, is_bar| {
        let width = u32::from(w);
        if is_bar {
            bars.push_str(&format!(
                r#"<rect x="{x}" y="0" width="{width}" height="{BAR_MODULES}"/>"#
            ));
        }
        x += width;
    });
    let total = x + QUIET_MODULES;
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="barcode" viewBox="0 0 {total} {BAR_MODULES}" width="{total}" height="{BAR_MODULES}" style="--modules:{total};--bar:{BAR_MODULES}" shape-rendering="crispEdges" preserveAspectRatio="none" role="img" aria-label="GS1-128 {digits}"><rect x="0" y="0" width="{total}" height="{BAR_MODULES}" fill="#fff"/><g fill="#000">{bars}</g></svg>"##,
    ))
}

/// The bill barcode's digits as printed under a slip's bars: the application identifier in
/// brackets, then the fields (company code, free area, reissue, deadline, stamp, amount,
/// check digit). Plain digits when they are not 44.
fn human_readable(digits: &str) -> String {
    if digits.len() != 44 || !digits.is_ascii() {
        return digits.to_owned();
    }
    format!(
        "({}) {} {} {} {} {} {} {}",
        &digits[0..2],
        &digits[2..8],
        &digits[8..29],
        &digits[29..30],
        &digits[30..36],
        &digits[36..37],
        &digits[37..43],
        &digits[43..44]
    )
}

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn yen(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("¥{out}")
}

fn deadline(unix: i64, en: bool) -> String {
    let at = in_japan(&DateTime::<Utc>::from_timestamp(unix, 0).unwrap_or_default());
    if en {
        at.format("%Y-%m-%d %H:%M (JST)").to_string()
    } else {
        at.format("%Y年%m月%d日 %H:%M").to_string()
    }
}

fn chain_name(c: Chain, en: bool) -> &'static str {
    if !en {
        return c.name_ja();
    }
    match c {
        Chain::FamilyMart => "FamilyMart",
        Chain::Lawson => "Lawson",
        Chain::Ministop => "Ministop",
        Chain::Seicomart => "Seicomart",
    }
}

fn instructions(c: Chain, en: bool) -> &'static str {
    match (c, en) {
        (Chain::FamilyMart, false) => {
            "店内のマルチコピー機で「代金支払い」→「番号入力」を選び、お支払い番号と確認番号を入力して申込券を印刷し、30分以内にレジでお支払いください。"
        }
        (Chain::FamilyMart, true) => {
            "At the multi-copy machine choose \"Bill payment\" then \"Enter numbers\", enter the payment code and confirmation number, print the slip and pay at the register within 30 minutes."
        }
        (Chain::Lawson | Chain::Ministop, false) => {
            "Loppiで「各種番号をお持ちの方」を選び、お支払い番号と確認番号を入力して申込券を印刷し、30分以内にレジでお支払いください。"
        }
        (Chain::Lawson | Chain::Ministop, true) => {
            "At the Loppi kiosk choose \"I have a number\", enter the payment code and confirmation number, print the slip and pay at the register within 30 minutes."
        }
        (Chain::Seicomart, false) => {
            "レジで「インターネット支払い」とお伝えいただき、画面にお支払い番号と確認番号を入力してお支払いください。"
        }
        (Chain::Seicomart, true) => {
            "Tell the clerk \"internet payment\", enter the payment code and confirmation number on the register's screen, and pay."
        }
    }
}

/// The pages' style. `--m` is the barcode's module in CSS pixels: 1 (2 device pixels on a
/// phone at scale 2), and 2 from 48rem wide (2 device pixels on a desktop at scale 1), where
/// the page widens to 44rem so the 616-pixel symbol fits with its quiet zones. The slip's
/// section has no side padding (the symbol carries its own white quiet zones), and below
/// 24rem it takes the page's whole width, so the 308-pixel symbol fits a 320-pixel phone.
const STYLE: &str = "body{font-family:system-ui,'Hiragino Sans','Noto Sans JP',sans-serif;margin:0;background:#f4f4f2;color:#222;--m:1px}main{max-width:32rem;margin:0 auto;padding:1rem}section{background:#fff;border-radius:.5rem;padding:1rem;margin:.75rem 0}h1{font-size:1.2rem}.amount{font-size:2rem;font-weight:700}.code{font-family:monospace;font-size:1.3rem;letter-spacing:.1em}table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:.25rem 0}.lang{float:right}.slip{overflow-x:auto;text-align:center;padding:1rem 0}.slip h2,.slip p{padding:0 1rem}.barcode{display:block;margin:0 auto;width:calc(var(--modules) * var(--m));height:calc(var(--bar) * var(--m));max-width:none;flex:none}.hri{font-family:monospace;font-size:.85rem;overflow-wrap:anywhere}.note{color:#666;font-size:.9rem}.void{border:2px solid #b00020}@media (max-width:24rem){.slip{margin:.75rem -1rem;border-radius:0}}@media (min-width:48rem){body{--m:2px}main{max-width:44rem}}";

fn page(title: &str, lang: &str, other_lang_link: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head><body><main>{other_lang_link}{body}</main></body></html>",
        title = esc(title)
    )
}

/// Whether a voucher can be paid, and if not why: what the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Payable,
    Paid,
    Cancelled,
    Expired,
}

fn standing(pi: &PaymentIntent, expires_at: i64, now: i64) -> Standing {
    match pi.status {
        PiStatus::Succeeded => Standing::Paid,
        PiStatus::Canceled => Standing::Cancelled,
        // Past the deadline the customer must not pay, though a store that took the cash in
        // time may still confirm it within the grace.
        PiStatus::RequiresAction if now <= expires_at => Standing::Payable,
        _ => Standing::Expired,
    }
}

/// The voucher page for a payment at `now`, in Japanese or English. The customer's name
/// and the merchant's name are shown with the page's language's words around them.
pub fn voucher_page(pi: &PaymentIntent, merchant: &str, token: &str, en: bool, now: i64) -> String {
    let lang = if en { "en" } else { "ja" };
    let switch = if en {
        format!("<a class=\"lang\" href=\"/vouchers/{token}\" lang=\"ja\">日本語</a>")
    } else {
        format!("<a class=\"lang\" href=\"/vouchers/{token}?lang=en\" lang=\"en\">English</a>")
    };
    let t = |ja: &'static str, e: &'static str| if en { e } else { ja };
    let Some(v) = &pi.voucher else {
        return page(
            t("コンビニお支払い票", "Konbini payment voucher"),
            lang,
            &switch,
            &format!(
                "<section><p>{}</p></section>",
                t("この払込票は見つかりません。", "No such voucher.")
            ),
        );
    };
    let standing = standing(pi, v.expires_at, now);
    let state = match standing {
        Standing::Payable => "",
        Standing::Paid => t("お支払いは完了しています。", "This payment is complete."),
        Standing::Cancelled => t(
            "この払込票は取り消されました。お支払いいただけません。",
            "This voucher was cancelled and can no longer be paid.",
        ),
        Standing::Expired => t(
            "この払込票はお支払い期限を過ぎたため、お支払いいただけません。",
            "This voucher has expired and can no longer be paid.",
        ),
    };
    let state = if state.is_empty() {
        String::new()
    } else {
        let class = if standing == Standing::Paid {
            ""
        } else {
            " class=\"void\""
        };
        format!("<section{class}><p class=\"state\"><strong>{state}</strong></p></section>")
    };
    let description = pi
        .konbini
        .product_description
        .as_deref()
        .unwrap_or(t("お買い上げ商品・サービス", "Goods and services"));
    let customer = pi
        .billing
        .as_ref()
        .map(|b| b.name.as_str())
        .filter(|n| !n.is_empty())
        .map_or(String::new(), |name| {
            if en {
                format!(
                    "<p class=\"customer\">Customer: <strong>{}</strong></p>",
                    esc(name)
                )
            } else {
                format!(
                    "<p class=\"customer\"><strong>{}</strong> 様</p>",
                    esc(name)
                )
            }
        });
    let summary = format!(
        "<section>{customer}<p class=\"merchant\">{merchant_l}: <strong>{merchant}</strong></p><p>{desc}</p><p class=\"amount\">{amount}</p><p>{deadline_l}: <strong>{deadline}</strong></p></section>",
        merchant_l = t("お支払い先", "Pay to"),
        merchant = esc(merchant),
        desc = esc(description),
        amount = yen(pi.amount),
        deadline_l = t("お支払い期限", "Pay by"),
        deadline = deadline(v.expires_at, en),
    );
    // Codes and the barcode only while the voucher can be paid.
    let payable = if standing == Standing::Payable {
        let mut stores = String::new();
        for chain in Chain::ALL {
            let Some(code) = v.codes.get(&chain) else {
                continue;
            };
            stores.push_str(&format!(
                "<section class=\"store\"><h2>{name}</h2><table><tr><th>{pc}</th><td class=\"code\">{code}</td></tr><tr><th>{cn}</th><td class=\"code\">{num}</td></tr></table><p class=\"note\">{how}</p></section>",
                name = chain_name(chain, en),
                pc = t("お支払い番号", "Payment code"),
                cn = t("確認番号", "Confirmation number"),
                code = esc(code),
                num = esc(&v.confirmation_number),
                how = instructions(chain, en),
            ));
        }
        let svg = barcode_svg(&v.barcode).unwrap_or_default();
        format!(
            "<section class=\"slip\"><h2>{slip}</h2>{svg}<p class=\"hri\">{human}</p><p class=\"note\">{slip_note}</p></section>{stores}<p class=\"note\">{keep}</p>",
            slip = t("払込票バーコード", "Bill barcode"),
            human = esc(&human_readable(&v.barcode)),
            slip_note = t(
                "レジでこのバーコードを読み取ってもお支払いいただけます。",
                "The register can also scan this barcode."
            ),
            keep = t(
                "お支払い後のレシートは大切に保管してください。",
                "Keep the receipt after paying."
            ),
        )
    } else {
        String::new()
    };
    let title = t("コンビニお支払い票", "Konbini payment voucher");
    let body = format!("<h1>{title}</h1>{state}{summary}{payable}");
    page(&format!("{title} - {merchant}"), lang, &switch, &body)
}

/// The page where a customer gives a bank account for a konbini refund.
pub fn refund_page(refund: &Refund, token: &str, message: Option<&str>) -> String {
    let status = match refund.status {
        RefundStatus::RequiresAction => format!(
            "<form method=\"post\" action=\"/refunds/{token}\"><p><label>金融機関コード＋支店コード (routing number, 7 digits)<br><input name=\"routing_number\" inputmode=\"numeric\" pattern=\"[0-9]{{7}}\" required></label></p><p><label>口座番号 (account number, 7 digits)<br><input name=\"account_number\" inputmode=\"numeric\" pattern=\"[0-9]{{7}}\" required></label></p><p><label>口座名義 (account holder)<br><input name=\"account_holder_name\"></label></p><p><button type=\"submit\">送信 / Submit</button></p></form>"
        ),
        s => format!("<p>状態 / Status: <strong>{}</strong></p>", s.as_str()),
    };
    let msg = message.map_or(String::new(), |m| {
        format!("<p><strong>{}</strong></p>", esc(m))
    });
    page(
        "返金の受取口座 / Refund bank account",
        "ja",
        "",
        &format!(
            "<h1>返金の受取口座 / Refund bank account</h1><section><p class=\"amount\">{}</p>{msg}{status}</section>",
            yen(refund.amount)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_has_thousands_separators() {
        assert_eq!(yen(120), "¥120");
        assert_eq!(yen(1200), "¥1,200");
        assert_eq!(yen(300_000), "¥300,000");
    }

    /// A 52,000-yen payment's voucher as stored, in `status`.
    fn payment(status: &str) -> PaymentIntent {
        serde_json::from_value(serde_json::json!({
            "id": "pi_1", "seq": 7, "created": 1_796_000_000, "amount": 52_000,
            "currency": "jpy", "status": status, "metadata": {},
            "client_secret": "pi_1_secret_x", "payment_method_types": ["konbini"],
            "billing": {"name": "山田 <script>alert(1)</script>", "email": "t@example.jp", "phone": null},
            "konbini": {}, "expired": status == "requires_payment_method", "amount_received": 0,
            "voucher": {
                "expires_at": 1_796_100_000, "confirmation_number": "09012345678",
                "codes": {"lawson": "123456", "familymart": "654321"},
                "barcode": "91958001000000000000000000000070261130152000", "token": "tok",
                "grace_seconds": 3600,
            },
        }))
        .unwrap()
    }

    #[test]
    fn the_barcode_is_one_unit_per_module_with_its_quiet_zones_at_crisp_edges() {
        let svg = barcode_svg("91958001000000000000000000000070261130152000").unwrap();
        // 25 symbols of 11 modules, the 13-module stop, 10 quiet modules each side.
        assert!(svg.contains(r#"viewBox="0 0 308 60""#), "{svg}");
        assert!(svg.contains("--modules:308;--bar:60"), "{svg}");
        assert!(svg.contains(r#"shape-rendering="crispEdges""#), "{svg}");
        assert!(
            svg.contains(r#"<rect x="10" y="0" width="2""#),
            "the start bar after 10 quiet modules: {svg}"
        );
        assert!(
            !svg.contains("<text"),
            "the digits are the page's text, not the symbol's"
        );
        assert_eq!(barcode_svg("123"), None);
    }

    #[test]
    fn a_voucher_that_cannot_be_paid_shows_no_codes_and_no_barcode() {
        let payable = voucher_page(
            &payment("requires_action"),
            "Shop",
            "tok",
            false,
            1_796_000_100,
        );
        assert!(
            payable.contains("123456") && payable.contains("<svg"),
            "{payable}"
        );
        for (status, now, says) in [
            ("canceled", 1_796_000_100, "取り消されました"),
            ("requires_payment_method", 1_796_200_000, "期限を過ぎた"),
            // Past the deadline, within the grace: still requires_action, but not to be paid.
            ("requires_action", 1_796_100_001, "期限を過ぎた"),
            ("succeeded", 1_796_000_100, "完了"),
        ] {
            let page = voucher_page(&payment(status), "Shop", "tok", false, now);
            assert!(page.contains(says), "{status}: {page}");
            for hidden in ["123456", "654321", "09012345678", "<svg", "(91) 958001"] {
                assert!(!page.contains(hidden), "{status} shows {hidden}: {page}");
            }
            assert!(page.contains("¥52,000"), "{page}");
        }
    }

    #[test]
    fn names_are_shown_as_text_in_the_pages_language() {
        let pi = payment("requires_action");
        let ja = voucher_page(&pi, "<b>Shop</b>", "tok", false, 1_796_000_100);
        assert!(
            ja.contains("<strong>山田 &lt;script&gt;alert(1)&lt;/script&gt;</strong> 様"),
            "{ja}"
        );
        assert!(
            ja.contains("お支払い先: <strong>&lt;b&gt;Shop&lt;/b&gt;</strong>"),
            "{ja}"
        );
        assert!(!ja.contains("<script>") && !ja.contains("<b>"), "{ja}");
        let en = voucher_page(&pi, "Shop", "tok", true, 1_796_000_100);
        assert!(en.contains("Customer: <strong>山田 &lt;script&gt;"), "{en}");
        assert!(
            en.contains("Pay to: <strong>Shop</strong>") && en.contains("lang=\"en\""),
            "{en}"
        );
        assert!(en.contains("Goods and services"), "{en}");
    }

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
