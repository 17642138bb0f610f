//! The hosted voucher page: what the customer opens on a phone and shows at the store.
//! Server-rendered HTML in Japanese (English with `?lang=en`), with the amount, the deadline,
//! each chain's instructions and codes, and the bill barcode drawn as a real GS1-128 symbol
//! (Code 128 set C with FNC1, the firmware's own encoder) in SVG. Also the refund page where
//! a customer gives a bank account. No scripts, no external assets.

use chrono::{DateTime, Utc};

use super::objects::{PaymentIntent, PiStatus, Refund, RefundStatus};
use konbini_domain::Chain;
use konbini_domain::time::in_japan;

/// Module width in SVG user units, and the bar height.
const MODULE: u32 = 2;
const BAR_HEIGHT: u32 = 90;
const QUIET_MODULES: u32 = 10;

/// The bill barcode's bars as an SVG: one `<rect>` per bar, quiet zones included, with the
/// digits as human-readable text below.
pub fn barcode_svg(digits: &str) -> Option<String> {
    let mut values = [0u8; 32];
    let n = konbini_firmware::code128::gs1_numeric(digits.as_bytes(), &mut values).ok()?;
    let mut x = QUIET_MODULES * MODULE;
    let mut bars = String::new();
    konbini_firmware::code128::widths(&values[..n], |w, is_bar| {
        let width = u32::from(w) * MODULE;
        if is_bar {
            bars.push_str(&format!(
                r#"<rect x="{x}" y="0" width="{width}" height="{BAR_HEIGHT}"/>"#
            ));
        }
        x += width;
    });
    let total = x + QUIET_MODULES * MODULE;
    let human = format!(
        "({}) {} {} {} {} {} {} {}",
        &digits[0..2],
        &digits[2..8],
        &digits[8..29],
        &digits[29..30],
        &digits[30..36],
        &digits[36..37],
        &digits[37..43],
        &digits[43..44]
    );
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="barcode" viewBox="0 0 {total} {h}" width="100%" role="img" aria-label="GS1-128 {digits}"><rect x="0" y="0" width="{total}" height="{h}" fill="#fff"/><g fill="#000">{bars}</g><text x="{mid}" y="{ty}" font-family="monospace" font-size="13" text-anchor="middle">{human}</text></svg>"##,
        h = BAR_HEIGHT + 22,
        mid = total / 2,
        ty = BAR_HEIGHT + 17,
    ))
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

const STYLE: &str = "body{font-family:system-ui,'Hiragino Sans','Noto Sans JP',sans-serif;margin:0;background:#f4f4f2;color:#222}main{max-width:32rem;margin:0 auto;padding:1rem}section{background:#fff;border-radius:.5rem;padding:1rem;margin:.75rem 0}h1{font-size:1.2rem}.amount{font-size:2rem;font-weight:700}.code{font-family:monospace;font-size:1.3rem;letter-spacing:.1em}table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:.25rem 0}.lang{float:right}.barcode{max-width:100%;height:auto}.note{color:#666;font-size:.9rem}";

fn page(title: &str, lang: &str, other_lang_link: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head><body><main>{other_lang_link}{body}</main></body></html>",
        title = esc(title)
    )
}

/// The voucher page for a payment, in Japanese or English.
pub fn voucher_page(pi: &PaymentIntent, merchant: &str, token: &str, en: bool) -> String {
    let lang = if en { "en" } else { "ja" };
    let switch = if en {
        format!("<a class=\"lang\" href=\"/vouchers/{token}\">日本語</a>")
    } else {
        format!("<a class=\"lang\" href=\"/vouchers/{token}?lang=en\">English</a>")
    };
    let Some(v) = &pi.voucher else {
        return page("", lang, &switch, "<section><p>Not found</p></section>");
    };
    let t = |ja: &'static str, e: &'static str| if en { e } else { ja };
    let state = match pi.status {
        PiStatus::RequiresAction => String::new(),
        PiStatus::Succeeded => format!(
            "<section><p><strong>{}</strong></p></section>",
            t("お支払いは完了しています。", "This payment is complete.")
        ),
        _ => format!(
            "<section><p><strong>{}</strong></p></section>",
            t(
                "この払込票は無効です（期限切れまたは取消済み）。",
                "This voucher is no longer valid (expired or cancelled)."
            )
        ),
    };
    let mut stores = String::new();
    for chain in Chain::ALL {
        let Some(code) = v.codes.get(&chain) else {
            continue;
        };
        stores.push_str(&format!(
            "<section><h2>{name}</h2><table><tr><th>{pc}</th><td class=\"code\">{code}</td></tr><tr><th>{cn}</th><td class=\"code\">{num}</td></tr></table><p class=\"note\">{how}</p></section>",
            name = chain_name(chain, en),
            pc = t("お支払い番号", "Payment code"),
            cn = t("確認番号", "Confirmation number"),
            code = esc(code),
            num = esc(&v.confirmation_number),
            how = instructions(chain, en),
        ));
    }
    let svg = barcode_svg(&v.barcode).unwrap_or_default();
    let description = pi
        .konbini
        .product_description
        .as_deref()
        .unwrap_or("お買い上げ商品・サービス");
    let body = format!(
        "<h1>{title}</h1>{state}<section><p>{merchant_l}: {merchant}</p><p>{desc}</p><p class=\"amount\">{amount}</p><p>{deadline_l}: <strong>{deadline}</strong></p></section>{stores}<section><h2>{slip}</h2>{svg}<p class=\"note\">{slip_note}</p></section><p class=\"note\">{keep}</p>",
        title = t("コンビニお支払い票", "Konbini payment voucher"),
        merchant_l = t("お支払い先", "Pay to"),
        merchant = esc(merchant),
        desc = esc(description),
        amount = yen(pi.amount),
        deadline_l = t("お支払い期限", "Pay by"),
        deadline = deadline(v.expires_at, en),
        slip = t("払込票バーコード", "Bill barcode"),
        slip_note = t(
            "レジでこのバーコードを読み取ってもお支払いいただけます。",
            "The register can also scan this barcode."
        ),
        keep = t(
            "お支払い後のレシートは大切に保管してください。",
            "Keep the receipt after paying."
        ),
    );
    page(
        t("コンビニお支払い票", "Konbini payment voucher"),
        lang,
        &switch,
        &body,
    )
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

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
