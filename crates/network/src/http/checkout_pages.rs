//! The hosted checkout pages: `/checkout/{session}` (a Checkout Session's `url`: the line
//! items, the total, the merchant's name and a form for name, email and an optional phone
//! number; submitted, it makes the voucher and `303`s to the hosted voucher page) and
//! `/pay/{token}` (a Payment Link's `url`: each visit makes a new session and `303`s to it,
//! or shows the link's inactive message).
//!
//! Japanese by default, English with `?lang=en` or the session's `locale`; laid out for a
//! phone first. Every string a merchant or customer gave is HTML-escaped; errors are pages
//! (the form again with its message, "already completed", "expired", a 404), never an error
//! dump. No scripts, no external assets. The rules are `checkout.rs`'s.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::checkout::{self, Refusal, Session, SessionStatus, Submission};
use crate::form::Form;
use crate::storage::StorageError;
use crate::voucher::esc;
use crate::{MAX_MERCHANT_BODY_BYTES, Network};

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/checkout/{id}", get(show).post(submit))
        .route("/pay/{token}", get(visit_link))
}

const STYLE: &str = "*{box-sizing:border-box}body{font-family:system-ui,'Hiragino Sans','Noto Sans JP',sans-serif;margin:0;background:#f4f4f2;color:#222;line-height:1.5}main{max-width:32rem;margin:0 auto;padding:1rem}section{background:#fff;border-radius:.5rem;padding:1rem;margin:.75rem 0}h1{font-size:1.2rem;margin:.25rem 0}.lang{float:right}.merchant{color:#555;margin:0}table{width:100%;border-collapse:collapse}td{padding:.4rem 0;vertical-align:top;border-bottom:1px solid #eee}td.n{text-align:right;white-space:nowrap;padding-left:.5rem}.desc,.note{color:#666;font-size:.85rem}.total td{border:0;font-weight:700;font-size:1.2rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}input{width:100%;font-size:1rem;padding:.6rem;border:1px solid #bbb;border-radius:.4rem}button{width:100%;margin-top:1rem;font-size:1.1rem;padding:.8rem;border:0;border-radius:.4rem;background:#1a7f37;color:#fff}.error{background:#fde8e8;color:#9b1c1c;border-radius:.4rem;padding:.6rem}.state{font-weight:700}";

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn yen(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    format!("¥{out}")
}

/// A whole page in `ja` or `en`, with a link to the other language (`switch`: the path).
fn page(title: &str, en: bool, switch: Option<&str>, body: &str) -> String {
    let lang = if en { "en" } else { "ja" };
    let other = switch.map_or(String::new(), |path| {
        if en {
            format!(
                "<a class=\"lang\" href=\"{}?lang=ja\">日本語</a>",
                esc(path)
            )
        } else {
            format!(
                "<a class=\"lang\" href=\"{}?lang=en\">English</a>",
                esc(path)
            )
        }
    });
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head><body><main>{other}{body}</main></body></html>",
        title = esc(title)
    )
}

/// The 404 page of an unknown session or link.
fn not_found(en: bool) -> Response {
    missing_page(
        en,
        "このお支払いページは見つかりません。お店から届いたアドレスをご確認ください。",
        "This payment page does not exist. Check the address the shop gave you.",
    )
}

/// A 404 page for a customer's page whose id is unknown (a session, a link, a voucher, a
/// refund): the house page, in Japanese or English, saying what was not found.
pub(super) fn missing_page(en: bool, ja_text: &str, en_text: &str) -> Response {
    let (title, text) = if en {
        ("Not found", en_text)
    } else {
        ("ページが見つかりません", ja_text)
    };
    html(
        StatusCode::NOT_FOUND,
        page(
            title,
            en,
            None,
            &format!("<h1>{title}</h1><section><p>{}</p></section>", esc(text)),
        ),
    )
}

/// The page that says only that something failed (the network's log has the cause).
fn failed(e: &StorageError) -> Response {
    eprintln!("konbini network: checkout page: {e}");
    let status = match e {
        StorageError::Unavailable(_) | StorageError::Closed => StatusCode::SERVICE_UNAVAILABLE,
        StorageError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    html(
        status,
        page(
            "エラー / Error",
            false,
            None,
            "<h1>エラー / Error</h1><section><p>ただいま処理できません。しばらくしてからもう一度お試しください。<br>This page cannot be served right now; try again in a moment.</p></section>",
        ),
    )
}

/// Whether the page speaks English: `?lang=` first, else the session's locale.
fn english(q: &HashMap<String, String>, session: Option<&Session>) -> bool {
    match q.get("lang").map(String::as_str) {
        Some("en") => true,
        Some("ja") => false,
        _ => session.is_some_and(Session::english),
    }
}

/// The session's items and total, as a table.
fn items_table(session: &Session, en: bool) -> String {
    let mut rows = String::new();
    for li in &session.line_items {
        let desc = li
            .product_description
            .as_deref()
            .map_or(String::new(), |d| {
                format!("<br><span class=\"desc\">{}</span>", esc(d))
            });
        let qty = if en {
            format!("Qty {} × {}", li.quantity, yen(li.unit_amount))
        } else {
            format!("数量 {} × {}", li.quantity, yen(li.unit_amount))
        };
        rows.push_str(&format!(
            "<tr><td><span class=\"item\">{name}</span>{desc}<br><span class=\"desc\">{qty}</span></td><td class=\"n\">{amount}</td></tr>",
            name = esc(&li.description),
            amount = yen(li.amount()),
        ));
    }
    format!(
        "<table>{rows}<tr class=\"total\"><td>{label}</td><td class=\"n\" id=\"total\">{total}</td></tr></table>",
        label = if en { "Total" } else { "合計" },
        total = yen(session.total()),
    )
}

/// The merchant's name and the page's title.
fn heading(merchant: &str, en: bool) -> String {
    format!(
        "<p class=\"merchant\">{merchant}</p><h1>{title}</h1>",
        merchant = esc(merchant),
        title = if en {
            "Pay at a convenience store"
        } else {
            "コンビニ決済でのお支払い"
        },
    )
}

/// What the customer typed, to fill the form again after an error.
struct Typed<'a> {
    name: &'a str,
    email: &'a str,
    phone: &'a str,
}

/// The open session's page: the items, the form, and `error` above it if the last try was
/// refused.
fn form_page(
    session: &Session,
    merchant: &str,
    en: bool,
    typed: &Typed<'_>,
    error: Option<&str>,
) -> String {
    let t = |ja: &'static str, e: &'static str| if en { e } else { ja };
    let path = format!("/checkout/{}", session.id);
    let action = if en {
        format!("{path}?lang=en")
    } else {
        path.clone()
    };
    let error = error.map_or(String::new(), |m| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m))
    });
    let cancel = session.cancel_url.as_deref().map_or(String::new(), |u| {
        format!(
            "<p><a href=\"{}\">{}</a></p>",
            esc(u),
            t("← お店に戻る", "← Back to the shop")
        )
    });
    let body = format!(
        "{header}<section>{items}</section><section>{error}<form method=\"post\" action=\"{action}\">\
<label for=\"name\">{name_l}</label><input id=\"name\" name=\"name\" required maxlength=\"{max}\" autocomplete=\"name\" value=\"{name}\"><span class=\"note\">{name_note}</span>\
<label for=\"email\">{email_l}</label><input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"email\" value=\"{email}\">\
<label for=\"phone\">{phone_l}</label><input id=\"phone\" name=\"phone\" type=\"tel\" inputmode=\"numeric\" autocomplete=\"tel\" value=\"{phone}\"><span class=\"note\">{phone_note}</span>\
<button type=\"submit\">{submit}</button></form><p class=\"note\">{after}</p></section>{cancel}",
        header = heading(merchant, en),
        items = items_table(session, en),
        action = esc(&action),
        max = checkout::NAME_MAX_CHARS,
        name_l = t("お名前", "Name"),
        name = esc(typed.name),
        name_note = t(
            "店頭で印字されるため20文字以内",
            "At most 20 characters (stores print it)"
        ),
        email_l = t("メールアドレス", "Email"),
        email = esc(typed.email),
        phone_l = t("電話番号（任意）", "Phone number (optional)"),
        phone = esc(typed.phone),
        phone_note = t(
            "10桁または11桁。店頭でお支払いの際の確認番号になります。",
            "10 or 11 digits: it becomes your confirmation number at the store."
        ),
        submit = t("お支払い番号を発行する", "Get my payment number"),
        after = t(
            "お支払い番号と払込票が発行されます。期限までにコンビニでお支払いください。",
            "You will get a payment number and voucher; pay at a convenience store by its deadline."
        ),
    );
    page(t("お支払い", "Checkout"), en, Some(&path), &body)
}

/// A session that cannot be submitted: already completed (with its voucher's link), or
/// expired.
fn closed_page(
    session: &Session,
    merchant: &str,
    en: bool,
    status: SessionStatus,
    voucher: Option<&str>,
) -> String {
    let t = |ja: &'static str, e: &'static str| if en { e } else { ja };
    let path = format!("/checkout/{}", session.id);
    let state = match status {
        SessionStatus::Complete => {
            let link = voucher.map_or(String::new(), |token| {
                let q = if en { "?lang=en" } else { "" };
                format!(
                    "<p><a id=\"voucher\" href=\"/vouchers/{}{q}\">{}</a></p>",
                    esc(token),
                    t("払込票を表示する", "Show the payment voucher")
                )
            });
            format!(
                "<p class=\"state\">{}</p>{link}",
                t(
                    "このお支払いのお申し込みはすでに完了しています。",
                    "This checkout is already completed."
                )
            )
        }
        SessionStatus::Expired | SessionStatus::Open => format!(
            "<p class=\"state\">{}</p>",
            t(
                "このお支払いページは有効期限が切れています。お店でもう一度お手続きください。",
                "This checkout page has expired. Start again at the shop."
            )
        ),
    };
    let body = format!(
        "{header}<section>{state}</section><section>{items}</section>",
        header = heading(merchant, en),
        items = items_table(session, en),
    );
    page(t("お支払い", "Checkout"), en, Some(&path), &body)
}

/// The voucher token of a completed session's payment.
fn voucher_token(
    tx: &dyn crate::storage::Tx,
    session: &Session,
) -> Result<Option<String>, StorageError> {
    let Some(id) = &session.payment_intent else {
        return Ok(None);
    };
    Ok(tx.pi(id)?.and_then(|pi| pi.voucher.map(|v| v.token)))
}

async fn show(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let now = net.now_synced().await;
    let found = net
        .storage()
        .run_read(move |tx| -> Result<_, StorageError> {
            let Some(session) = tx.session(&id)? else {
                return Ok(None);
            };
            let voucher = voucher_token(tx, &session)?;
            // The email field is filled from customer_email, else from the customer's own.
            let email = match (&session.customer_email, &session.customer) {
                (Some(e), _) => Some(e.clone()),
                (None, Some(id)) => tx.customer(id)?.and_then(|c| c.email),
                (None, None) => None,
            };
            Ok(Some((session, voucher, email)))
        })
        .await;
    let merchant = &net.settings().merchant_name;
    match found {
        Ok(None) => not_found(english(&q, None)),
        Ok(Some((session, voucher, email))) => {
            let en = english(&q, Some(&session));
            let status = match session.status {
                // Past its time, the scheduler expires it within a second: it is expired now.
                SessionStatus::Open if now >= session.expires_at => SessionStatus::Expired,
                s => s,
            };
            if status == SessionStatus::Open {
                let typed = Typed {
                    name: "",
                    email: email.as_deref().unwrap_or(""),
                    phone: "",
                };
                html(
                    StatusCode::OK,
                    form_page(&session, merchant, en, &typed, None),
                )
            } else {
                html(
                    StatusCode::OK,
                    closed_page(&session, merchant, en, status, voucher.as_deref()),
                )
            }
        }
        Err(e) => failed(&e),
    }
}

/// Why a submission kept nothing.
enum NotDone {
    /// No such session.
    Missing,
    /// Refused: the session as it was, the reason, and its voucher's token if completed.
    Refused(Box<Session>, Refusal, Option<String>),
    Storage(StorageError),
}

impl From<StorageError> for NotDone {
    fn from(e: StorageError) -> NotDone {
        NotDone::Storage(e)
    }
}

async fn submit(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match super::read_body(
        &headers,
        body,
        MAX_MERCHANT_BODY_BYTES,
        net.settings().limits.body_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            return html(
                e.status,
                page(
                    "Error",
                    false,
                    None,
                    &format!("<section><p>{}</p></section>", esc(&e.message)),
                ),
            );
        }
    };
    let form = Form::parse(&bytes).unwrap_or_default();
    let input = Submission {
        name: form.get("name").unwrap_or("").to_owned(),
        email: form.get("email").unwrap_or("").to_owned(),
        phone: form.get("phone").unwrap_or("").to_owned(),
    };
    let now = net.now_synced().await;
    let n = net.clone();
    let lang = q.get("lang").cloned();
    let typed_input = input.clone();
    let done = net
        .storage()
        .run_write(move |tx| -> Result<_, NotDone> {
            let Some(mut session) = tx.session(&id)? else {
                return Err(NotDone::Missing);
            };
            let en = match lang.as_deref() {
                Some("en") => true,
                Some("ja") => false,
                _ => session.english(),
            };
            let before = session.clone();
            match checkout::complete(tx, n.settings(), &mut session, &typed_input, en, now) {
                Ok((pi, wake)) => {
                    let token = pi.voucher.map(|v| v.token).unwrap_or_default();
                    Ok((token, en, wake))
                }
                Err(refusal) => {
                    let voucher = voucher_token(tx, &before)?;
                    Err(NotDone::Refused(Box::new(before), refusal, voucher))
                }
            }
        })
        .await;
    let merchant = &net.settings().merchant_name;
    match done {
        Ok((token, en, wake)) => {
            net.wake(wake, true);
            let q = if en { "?lang=en" } else { "" };
            see_other(&format!("/vouchers/{token}{q}"))
        }
        Err(NotDone::Missing) => not_found(english(&q, None)),
        Err(NotDone::Refused(session, refusal, voucher)) => {
            let en = english(&q, Some(&session));
            match refusal {
                Refusal::NotOpen(status) => html(
                    StatusCode::CONFLICT,
                    closed_page(&session, merchant, en, status, voucher.as_deref()),
                ),
                Refusal::Failed(message) => failed(&StorageError::Failed(message)),
                Refusal::Input(message) | Refusal::Payment(message) => {
                    let typed = Typed {
                        name: &input.name,
                        email: &input.email,
                        phone: &input.phone,
                    };
                    html(
                        StatusCode::BAD_REQUEST,
                        form_page(&session, merchant, en, &typed, Some(&message)),
                    )
                }
            }
        }
        Err(NotDone::Storage(e)) => failed(&e),
    }
}

/// A link's address: a new session each visit (`303` to its page), or the inactive message.
async fn visit_link(
    State(net): State<Arc<Network>>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let now = net.now_synced().await;
    let done = net
        .storage()
        .run_write(move |tx| -> Result<_, crate::error::ApiError> {
            let Some(link) = tx.link_by_token(&token)? else {
                return Ok(None);
            };
            let session = checkout::session_from_link(tx, &link, now)?;
            Ok(Some((link, session)))
        })
        .await;
    let en = q.get("lang").is_some_and(|l| l == "en");
    match done {
        Ok(None) => not_found(en),
        Ok(Some((_, Some(session)))) => {
            net.wake(true, false);
            let lang = if en { "?lang=en" } else { "" };
            see_other(&format!("/checkout/{}{lang}", session.id))
        }
        Ok(Some((link, None))) => {
            let (title, default) = if en {
                (
                    "This link is no longer active",
                    "This payment link is no longer active.",
                )
            } else {
                (
                    "このリンクは無効です",
                    "このお支払いリンクは現在ご利用いただけません。",
                )
            };
            let message = link.inactive_message.as_deref().unwrap_or(default);
            let body = format!(
                "<p class=\"merchant\">{}</p><h1>{title}</h1><section><p class=\"state\" id=\"inactive\">{}</p></section>",
                esc(&net.settings().merchant_name),
                esc(message)
            );
            html(StatusCode::OK, page(title, en, None, &body))
        }
        Err(e) => {
            eprintln!("konbini network: payment link page: {}", e.message);
            html(
                e.status,
                page(
                    "エラー / Error",
                    en,
                    None,
                    "<h1>エラー / Error</h1><section><p>ただいま処理できません。しばらくしてからもう一度お試しください。<br>This page cannot be served right now; try again in a moment.</p></section>",
                ),
            )
        }
    }
}

/// The voucher page of a payment a session made links on to the session's `success_url`
/// (`{CHECKOUT_SESSION_ID}` replaced): `html` with that link added at its end.
pub(super) fn with_success_link(html: String, session: &Session, en: bool) -> String {
    let Some(url) = session.success_url_filled() else {
        return html;
    };
    let link = format!(
        "<p><a id=\"success\" href=\"{}\">{}</a></p>",
        esc(&url),
        if en {
            "Back to the shop →"
        } else {
            "お店のページへ進む →"
        }
    );
    match html.rfind("</main>") {
        Some(i) => format!("{}{link}{}", &html[..i], &html[i..]),
        None => html + &link,
    }
}
