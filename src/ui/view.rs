//! Drawing the register: a read-only function of [`App`] onto a ratatui frame. It decides
//! nothing and changes nothing; every word comes from `text`, every figure from the app.
//!
//! The layout is made for 120x40 and degrades down to 60x16 (the big figures give way to
//! plain ones); smaller than that, one message asks for a bigger terminal instead of a
//! garbled screen.

use chrono::{DateTime, FixedOffset, TimeZone};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use konbini_devices::receipt::{STAMP_DUTY_YEN, StampDuty};
use konbini_domain::{Chain, Deadline, Yen, time::in_japan, time::jst};
use konbini_journal::{Alert, PrintState, SaleRow, SlipPay, SyncState};
use konbini_register::day::CloseRefused;
use konbini_register::{Slip, SlipKind};

use super::app::{
    App, Completed, Confirm, JournalState, KeyInForm, Notice, PrinterState, ScannerState, Screen,
};
use super::text::{Labels, Lang, ignored, labels, reason};

/// Smallest usable terminal.
pub const MIN_WIDTH: u16 = 60;
/// Smallest usable terminal.
pub const MIN_HEIGHT: u16 = 16;

const RED: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
const GREEN: Style = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
const YELLOW: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
const DIM: Style = Style::new().fg(Color::DarkGray);
const BAR: Style = Style::new().fg(Color::Black).bg(Color::Gray);

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let l = labels(app.lang);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = Paragraph::new(l.too_small)
            .style(YELLOW)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true });
        let y = area.height / 2;
        frame.render_widget(
            msg,
            Rect::new(
                area.x,
                area.y + y.saturating_sub(1),
                area.width,
                area.height - y.saturating_sub(1),
            ),
        );
        return;
    }
    let [header, body, input, notice, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app, l);
    // The demo voucher's page, where a trainer can open it: a line of its own, whole.
    let body = match (&app.demo_url, app.screen) {
        (Some(url), Screen::Sale) if !url.is_empty() && body.height > 6 => {
            let [main, line] =
                Layout::vertical([Constraint::Min(5), Constraint::Length(1)]).areas(body);
            let label = app.lang.pick("デモ払込票のページ: ", "Demo voucher page: ");
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(label, DIM),
                    Span::styled(url.as_str(), Style::new().fg(Color::Cyan)),
                ])),
                line,
            );
            main
        }
        _ => body,
    };
    match app.screen {
        Screen::Sale => draw_sale(frame, body, app, l),
        Screen::Journal => draw_journal(frame, body, app, l),
        Screen::DayClose => draw_day(frame, body, app, l),
        Screen::Alerts => draw_alerts(frame, body, app, l),
    }
    draw_input(frame, input, app, l);
    draw_notice(frame, notice, app);
    draw_status(frame, status, app, l);
    let hint = if app.confirm.is_some() {
        l.keys_confirm
    } else if app.dialog.is_some() {
        l.keys_dialog
    } else {
        match app.screen {
            Screen::Sale if app.sale_open() => l.keys_sale_open,
            Screen::Sale => l.keys_sale,
            Screen::Journal => l.keys_journal,
            Screen::DayClose if app.day.as_ref().is_some_and(|d| d.z.is_some()) => {
                l.keys_day_closed
            }
            Screen::DayClose => l.keys_day,
            Screen::Alerts => l.keys_alerts,
        }
    };
    frame.render_widget(Paragraph::new(hint).style(DIM), keys);
    if let Some(form) = &app.dialog {
        draw_dialog(frame, area, form, app, l);
    }
    if let Some(question) = &app.confirm {
        draw_confirm(frame, area, question, app.lang, l);
    }
    if app.help {
        draw_help(frame, area, l);
    }
}

/// A question's words.
pub fn confirm_text(question: &Confirm, lang: Lang) -> Vec<String> {
    match question {
        Confirm::Tender { add, change } => match lang {
            Lang::Ja => vec![
                format!("お預り {add} を加えると、おつりが {change} になります。"),
                "金額に間違いはありませんか？".to_owned(),
            ],
            Lang::En => vec![
                format!("Adding {add} to the tender gives {change} in change."),
                "Is that amount right?".to_owned(),
            ],
        },
        Confirm::Void { position, amount } => match lang {
            Lang::Ja => vec![
                format!("払込票 {position}（{amount}）をこのお取引から取り消します（訂正）。"),
                "払込票はお客様にお返しください。よろしいですか？".to_owned(),
            ],
            Lang::En => vec![
                format!("Void slip {position} ({amount}) from this sale."),
                "Hand the slip back to the customer. Go ahead?".to_owned(),
            ],
        },
        Confirm::CancelSale {
            slips,
            total,
            tendered,
        } => match lang {
            Lang::Ja => vec![
                format!("このお取引（払込票 {slips}枚 {total}）を中止します。"),
                format!("お預り {tendered} と払込票はお客様にお返しください。よろしいですか？"),
            ],
            Lang::En => vec![
                format!(
                    "Cancel this sale ({slips} slip{}, {total}).",
                    if *slips == 1 { "" } else { "s" }
                ),
                format!("Hand back {tendered} tendered and the slips. Go ahead?"),
            ],
        },
        Confirm::Complete { change, .. } => match lang {
            Lang::Ja => vec![
                format!("おつりが {change} になります。"),
                "お預り金額に間違いはありませんか？".to_owned(),
            ],
            Lang::En => vec![
                format!("This gives {change} in change."),
                "Is the tender right?".to_owned(),
            ],
        },
        Confirm::Close {
            date,
            counted,
            expected,
        } => {
            let diff = i64::from(*counted).saturating_sub(i64::from(*expected));
            match lang {
                Lang::Ja => vec![
                    format!(
                        "営業日 {} を精算します（Zレポート）。",
                        date.format("%Y-%m-%d")
                    ),
                    format!(
                        "実在高 {counted}／理論在高 {expected}／過不足 {}",
                        signed(diff, lang)
                    ),
                    "精算後は取り消せません。よろしいですか？".to_owned(),
                ],
                Lang::En => vec![
                    format!("Close business day {} (Z report).", date.format("%Y-%m-%d")),
                    format!(
                        "Counted {counted} / expected {expected} / {}",
                        signed(diff, lang)
                    ),
                    "A close is final. Go ahead?".to_owned(),
                ],
            }
        }
    }
}

/// A cash difference: `過剰 ¥100`, `不足 ¥100`, `¥0` (`over ¥100`, `short ¥100`).
fn signed(diff: i64, lang: Lang) -> String {
    let yen = Yen::new(diff.unsigned_abs());
    match (diff.signum(), lang) {
        (1, Lang::Ja) => format!("過剰 {yen}"),
        (-1, Lang::Ja) => format!("不足 {yen}"),
        (1, Lang::En) => format!("over {yen}"),
        (-1, Lang::En) => format!("short {yen}"),
        _ => yen.to_string(),
    }
}

fn draw_confirm(frame: &mut Frame, area: Rect, question: &Confirm, lang: Lang, l: &Labels) {
    let text = confirm_text(question, lang);
    let rect = centered(area, 72, text.len() as u16 + 4);
    frame.render_widget(Clear, rect);
    let mut lines: Vec<Line> = vec![Line::from("")];
    lines.extend(text.into_iter().map(|t| Line::from(format!(" {t}"))));
    lines.push(Line::from(Span::styled(
        format!(" {}", l.keys_confirm),
        DIM,
    )));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", l.confirm_title))
        .border_style(YELLOW);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let station = app.register().station();
    let chain = station
        .store
        .chain
        .map(|c| full_chain_name(c, app.lang))
        .unwrap_or("");
    // The chain, unless the store's name already starts with it (in either language).
    let chain = match station.store.chain {
        Some(c)
            if station.store.name.starts_with(c.name_ja())
                || station.store.name.starts_with(c.name_en()) =>
        {
            ""
        }
        _ => chain,
    };
    let store = format!(
        "{}{}{} ({})  {} {}",
        chain,
        if chain.is_empty() { "" } else { " " },
        station.store.name,
        station.store.code,
        l.register,
        station.terminal
    );
    let width = area.width as usize;
    // Narrow: the clock loses its date, then the title goes; the store's line is cut last,
    // and the clock never gets written over.
    let right = if width >= 100 {
        in_japan(&app.now).format("%Y-%m-%d %H:%M:%S JST ")
    } else {
        in_japan(&app.now).format("%H:%M:%S ")
    }
    .to_string();
    let room = width.saturating_sub(right.len() + 1);
    let with_title = format!(" {}  {store}", l.title);
    let left = if unicode_width::UnicodeWidthStr::width(with_title.as_str()) <= room {
        with_title
    } else {
        fit(&format!(" {store}"), room)
    };
    let [a, b] = Layout::horizontal([Constraint::Min(10), Constraint::Length(right.len() as u16)])
        .areas(area);
    frame.render_widget(
        Paragraph::new(left).style(BAR.add_modifier(Modifier::BOLD)),
        a,
    );
    frame.render_widget(Paragraph::new(right).style(BAR), b);
}

fn draw_sale(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let side = match area.width {
        110.. => 42,
        80.. => 28,
        _ => 24,
    };
    let [left, right] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(side)]).areas(area);
    // The slips the network would not credit, in red above the sale, until acknowledged.
    let left = if app.alert_count > 0 && left.height >= 10 {
        let [banner, rest] =
            Layout::vertical([Constraint::Length(5), Constraint::Min(5)]).areas(left);
        draw_alert_banner(frame, banner, app, l);
        rest
    } else {
        left
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", l.sale));
    let sale = app.register().open_sale();
    let slips: &[Slip] = sale.map(|s| s.slips()).unwrap_or(&[]);
    if slips.is_empty() {
        let text = match (&app.completed, app.busy()) {
            (Some(c), _) => format!("No.{:06}  {} {}", c.seq, l.change, c.change),
            _ => l.no_sale.to_owned(),
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(DIM)
                .block(block)
                .wrap(Wrap { trim: true }),
            left,
        );
    } else {
        let store_chain = app.register().station().store.chain;
        let stamps = slips.iter().any(Slip::needs_stamp);
        let notice = stamp_notice(app.lang, &app.stamp);
        let notice_rows = if stamps {
            let inner = left.width.saturating_sub(2).max(1) as usize;
            unicode_width::UnicodeWidthStr::width(notice.as_str()).div_ceil(inner) as u16
        } else {
            0
        };
        let [table_area, stamp_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(notice_rows)]).areas(left);
        // Every column whole: each as wide as its widest word in either language; a
        // narrow screen shows fewer columns rather than cut ones.
        let stamp_w = col_width(&[l.stamp]);
        let chains: Vec<&str> = slips
            .iter()
            .map(|s| match &s.kind {
                SlipKind::Barcode(_) => store_chain.map_or("-", |c| full_chain_name(c, app.lang)),
                SlipKind::KeyIn { reference, .. } => full_chain_name(reference.chain, app.lang),
            })
            .chain([l.col_chain])
            .collect();
        let chain_w = col_width(&chains);
        let wide = table_area.width >= 72;
        let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
            (
                vec![
                    "#",
                    l.col_kind,
                    l.col_payee,
                    l.col_chain,
                    l.col_ref,
                    l.col_deadline,
                    l.col_amount,
                    l.stamp,
                ],
                vec![
                    Constraint::Length(2),
                    Constraint::Length(10),
                    Constraint::Min(6),
                    Constraint::Length(chain_w),
                    Constraint::Length(12),
                    Constraint::Length(10),
                    Constraint::Length(9),
                    Constraint::Length(stamp_w),
                ],
            )
        } else {
            (
                vec!["#", l.col_chain, l.col_amount, l.stamp],
                vec![
                    Constraint::Length(2),
                    Constraint::Min(8),
                    Constraint::Length(9),
                    Constraint::Length(stamp_w),
                ],
            )
        };
        let header = Row::new(header)
            .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
        let rows = slips.iter().enumerate().map(|(i, s)| {
            let row = slip_row(i + 1, s, store_chain, app.lang, l, wide);
            if app.sale_cursor == Some(i) {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        });
        let table = Table::new(rows, widths)
            .header(header)
            .block(block.title_bottom(format!(
                " {} × {}  {} {} ",
                l.col_slips,
                slips.len(),
                l.total,
                sale.map_or(Yen::ZERO, |s| s.total())
            )));
        frame.render_widget(table, table_area);
        if stamps {
            frame.render_widget(
                Paragraph::new(notice)
                    .style(YELLOW)
                    .wrap(Wrap { trim: true }),
                stamp_area,
            );
        }
    }
    draw_totals(frame, right, app, l);
}

/// What the screen tells the clerk about a slip needing a revenue stamp: the store's
/// setting, said as the receipt says it.
pub fn stamp_notice(lang: Lang, stamp: &StampDuty) -> String {
    match (stamp, lang) {
        (StampDuty::Affix, Lang::Ja) => {
            format!("収入印紙が必要です：領収書に¥{STAMP_DUTY_YEN}の印紙を貼り、割印してください")
        }
        (StampDuty::Affix, Lang::En) => format!(
            "A slip needs a revenue stamp: affix a ¥{STAMP_DUTY_YEN} stamp to the receipt and seal it"
        ),
        (StampDuty::Declaration { tax_office }, Lang::Ja) => {
            format!(
                "印紙税は申告納付（{tax_office}承認済）：領収書に印字されます。印紙は貼りません"
            )
        }
        (StampDuty::Declaration { tax_office }, Lang::En) => format!(
            "Stamp duty is paid by declaration ({tax_office} approval): the receipt says so; affix no stamp"
        ),
    }
}

/// The widest of `words`, in terminal columns.
fn col_width(words: &[&str]) -> u16 {
    words
        .iter()
        .map(|w| unicode_width::UnicodeWidthStr::width(*w))
        .max()
        .unwrap_or(1) as u16
}

/// A slip's row (`wide`: every column; else number, chain, amount, stamp). A barcode
/// names no chain: it is paid at this store's (`store_chain`).
fn slip_row<'a>(
    n: usize,
    slip: &'a Slip,
    store_chain: Option<Chain>,
    lang: Lang,
    l: &'a Labels,
    wide: bool,
) -> Row<'a> {
    let (kind, payee, chain, reference, deadline) = match &slip.kind {
        SlipKind::Barcode(code) => (
            l.barcode.to_owned(),
            code.company_code().to_owned(),
            store_chain
                .map_or("-", |c| full_chain_name(c, lang))
                .to_owned(),
            mask(code.free_area()),
            match code.deadline() {
                Deadline::On(d) => d.format("%Y-%m-%d").to_string(),
                Deadline::None => l.no_deadline.to_owned(),
            },
        ),
        SlipKind::KeyIn { reference, payment } => (
            l.key_in.to_owned(),
            payment.merchant.clone(),
            full_chain_name(reference.chain, lang).to_owned(),
            mask(&reference.payment_code),
            payment
                .expires_at
                .and_then(|t| jst().timestamp_opt(t, 0).single())
                .map(|d: DateTime<FixedOffset>| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| l.no_deadline.to_owned()),
        ),
    };
    let amount = Cell::from(Line::from(slip.amount().to_string()).alignment(Alignment::Right));
    let stamp = Cell::from(if slip.needs_stamp() { l.stamp } else { "" }).style(YELLOW);
    if !wide {
        return Row::new([Cell::from(n.to_string()), Cell::from(chain), amount, stamp]);
    }
    Row::new([
        Cell::from(n.to_string()),
        Cell::from(kind),
        Cell::from(payee),
        Cell::from(chain),
        Cell::from(reference),
        Cell::from(deadline),
        amount,
        stamp,
    ])
}

/// A chain's proper name in the clerk's language.
fn full_chain_name(chain: Chain, lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => chain.name_ja(),
        Lang::En => chain.name_en(),
    }
}

/// `s` cut to `width` terminal columns, with `…` when cut.
fn fit(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if unicode_width::UnicodeWidthStr::width(s) <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The oldest slip the network would not credit, and what to do, over the sale.
fn draw_alert_banner(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let Some(first) = app.alerts.first() else {
        return;
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(RED)
        .title(Span::styled(
            format!(" {} {} ", l.alerts, app.alert_count),
            RED,
        ))
        .title_bottom(Span::styled(
            app.lang
                .pick(" a: 一覧・確認済みにする ", " a: list and acknowledge "),
            DIM,
        ));
    let advice = app.lang.pick(
        "現金はお預かり済みです：控えを保管し、本部・加盟店に連絡してください",
        "The cash is in the drawer: keep the copy and call head office",
    );
    let lines = vec![
        Line::from(Span::styled(alert_line(first, app.lang), RED)),
        Line::from(advice),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

/// One alert: the slip (receipt number and place), what it paid, the amount, and the
/// network's verdict with its reason.
pub fn alert_line(a: &Alert, lang: Lang) -> String {
    let what = match &a.pay {
        SlipPay::Barcode(digits) => lang.pick(
            format!("バーコード …{}", tail(digits, 8)),
            format!("barcode …{}", tail(digits, 8)),
        ),
        SlipPay::KeyIn {
            chain,
            payment_code,
            ..
        } => format!("{} {}", full_chain_name(*chain, lang), mask(payment_code)),
    };
    let verdict = match (a.state, lang) {
        (SyncState::Rejected, Lang::Ja) => "拒否",
        (SyncState::Rejected, Lang::En) => "rejected",
        (_, Lang::Ja) => "競合",
        (_, Lang::En) => "conflict",
    };
    let reason = network_reason(a.reason.as_deref(), lang);
    match lang {
        Lang::Ja => format!(
            "No.{:06}-{} {what} {}：{verdict}（{reason}）",
            a.sale_seq, a.idx, a.amount
        ),
        Lang::En => format!(
            "No.{:06}-{} {what} {}: {verdict} ({reason})",
            a.sale_seq, a.idx, a.amount
        ),
    }
}

/// What the clerk does about an alert.
pub fn alert_advice(a: &Alert, lang: Lang) -> &'static str {
    match (a.state, lang) {
        (SyncState::Rejected, Lang::Ja) => {
            "ネットワークが無効としました。現金はお預かり済みです：払込票の控えを保管し、本部に連絡してください"
        }
        (SyncState::Rejected, Lang::En) => {
            "The network refused it as invalid. The cash is in the drawer: keep the slip copy and call head office"
        }
        (_, Lang::Ja) => {
            "ネットワークは入金を認めません。現金はお預かり済みです：控えを保管し、本部と加盟店に連絡して精算してください"
        }
        (_, Lang::En) => {
            "The network will not credit it. The cash is in the drawer: keep the copy; head office and the merchant must reconcile"
        }
    }
}

/// The network's reason in the clerk's language, with the network's own code.
fn network_reason(reason: Option<&str>, lang: Lang) -> String {
    let Some(reason) = reason else {
        return lang.pick("理由なし", "no reason given").to_owned();
    };
    let code = reason.split([':', ' ']).next().unwrap_or(reason);
    let words = match code {
        "already_paid" => Some(("他の払込票で支払済み", "already paid by another slip")),
        "expired" => Some(("支払期限切れ", "past its deadline")),
        "canceled" => Some(("加盟店が取消済み", "cancelled by the merchant")),
        "unknown_payment" => Some(("不明な支払い", "unknown payment")),
        "amount_mismatch" => Some(("金額が一致しない", "amount does not match")),
        "idempotency_mismatch" => Some(("同じ番号で内容が異なる", "same id, different content")),
        "not_payable" => Some(("支払いできない状態", "not payable")),
        "invalid_paid_at" => Some(("支払時刻が不正", "payment time refused")),
        "invalid_barcode" => Some(("バーコードが不正", "invalid barcode")),
        "invalid_journal" => Some(("ジャーナルの連番が不正", "journal link refused")),
        "invalid" => Some(("内容が不正", "invalid")),
        _ => None,
    };
    match words {
        Some((ja, en)) => format!("{} [{code}]", lang.pick(ja, en)),
        None => code.to_owned(),
    }
}

fn tail(s: &str, n: usize) -> &str {
    &s[s.len().saturating_sub(n)..]
}

fn draw_alerts(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if app.alert_count > 0 {
            RED
        } else {
            Style::new()
        })
        .title(format!(" {} ({}) ", l.alerts_title, app.alert_count));
    if app.alerts.is_empty() {
        frame.render_widget(Paragraph::new(l.no_alerts).style(DIM).block(block), area);
        return;
    }
    let mut lines = Vec::new();
    for (i, a) in app.alerts.iter().enumerate() {
        let style = if i == app.alert_selected {
            RED.add_modifier(Modifier::REVERSED)
        } else {
            RED
        };
        lines.push(Line::from(Span::styled(alert_line(a, app.lang), style)));
        lines.push(Line::from(format!("   {}", alert_advice(a, app.lang))));
    }
    // Keep the selected alert in view.
    let visible = area.height.saturating_sub(2) as usize;
    let first = (app.alert_selected * 2 + 2).saturating_sub(visible);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((first as u16, 0)),
        area,
    );
}

/// All but the last four characters hidden: a receipt's reference is the customer's.
fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        return s.to_owned();
    }
    let hidden = (n - 4).min(8);
    let mut out = "*".repeat(hidden);
    out.extend(s.chars().skip(n - 4));
    out
}

fn draw_totals(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let (total, tendered, last) = match (app.register().open_sale(), &app.completed) {
        (Some(s), _) => {
            let total = s.total();
            let tendered = app.tendered();
            let last = match tendered.checked_sub(total) {
                Some(change) if tendered > Yen::ZERO => (l.change, change, GREEN),
                Some(_) => (l.change, Yen::ZERO, Style::new()),
                None if tendered == Yen::ZERO => (l.change, Yen::ZERO, Style::new()),
                None => (
                    l.short,
                    total.checked_sub(tendered).unwrap_or(Yen::ZERO),
                    RED,
                ),
            };
            (total, tendered, last)
        }
        (
            None,
            Some(Completed {
                total,
                tendered,
                change,
                ..
            }),
        ) => (*total, *tendered, (l.change, *change, GREEN)),
        (None, None) => (Yen::ZERO, Yen::ZERO, (l.change, Yen::ZERO, Style::new())),
    };
    let block = Block::default().borders(Borders::ALL);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let figures = [
        (l.total, total, Style::new().add_modifier(Modifier::BOLD)),
        (l.tendered, tendered, Style::new()),
        last,
    ];
    // Big digits (3 rows) when they fit: label row + 3 rows, three times.
    let big = inner.height >= 12 && inner.width as usize >= big_width(&figures[0].1.to_string());
    let mut lines = Vec::new();
    for (label, yen, style) in figures {
        let text = yen.to_string();
        if big && inner.width as usize >= big_width(&text) {
            lines.push(Line::from(Span::styled(label, style)));
            for row in big_text(&text) {
                lines.push(Line::from(Span::styled(row, style)).alignment(Alignment::Right));
            }
        } else {
            lines.push(Line::from(vec![
                Span::styled(pad(label, 8), style),
                Span::styled(format!("{text:>14}"), style),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// 3x5 pixel glyphs, one row of 3 bits each, for the big figures.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b001, 0b001, 0b001],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        ',' => [0b000, 0b000, 0b000, 0b010, 0b100],
        '¥' => [0b101, 0b010, 0b111, 0b010, 0b010],
        _ => [0; 5],
    }
}

fn big_width(text: &str) -> usize {
    text.chars().count() * 4
}

/// `text` in 3-row block letters (two pixel rows per text row, half blocks).
fn big_text(text: &str) -> [String; 3] {
    let mut rows: [String; 3] = Default::default();
    for c in text.chars() {
        let g = glyph(c);
        for (r, row) in rows.iter_mut().enumerate() {
            for bit in (0..3).rev() {
                let top = g[r * 2] >> bit & 1 == 1;
                let bottom = g.get(r * 2 + 1).is_some_and(|b| b >> bit & 1 == 1);
                row.push(match (top, bottom) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                });
            }
            row.push(' ');
        }
    }
    rows
}

fn sync_text(row: &SaleRow, l: &Labels) -> (String, Style) {
    let s = &row.sync;
    if s.conflict > 0 {
        (format!("{} {}", l.sync_conflict, s.conflict), RED)
    } else if s.rejected > 0 {
        (format!("{} {}", l.sync_rejected, s.rejected), RED)
    } else if s.pending > 0 {
        (format!("{} {}", l.sync_pending, s.pending), YELLOW)
    } else {
        (l.sync_sent.to_owned(), GREEN)
    }
}

fn draw_journal(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let block = Block::default().borders(Borders::ALL).title(format!(
        " {} ({}{}) ",
        l.journal_title,
        app.journal_rows.len(),
        l.sales_unit
    ));
    if app.journal_rows.is_empty() {
        frame.render_widget(
            Paragraph::new(l.no_sales_today).style(DIM).block(block),
            area,
        );
        return;
    }
    // Narrow: the cash handed over and the change give way; every column left is whole.
    let wide = area.width >= 82;
    let pick = |cells: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
        if wide {
            cells
        } else {
            cells
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i != 4 && *i != 5)
                .map(|(_, c)| c)
                .collect()
        }
    };
    let header = Row::new(pick(
        [
            l.col_seq,
            l.col_time,
            l.col_slips,
            l.total,
            l.tendered,
            l.change,
            l.col_sync,
            l.col_print,
        ]
        .into_iter()
        .map(Cell::from)
        .collect(),
    ))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let visible = area.height.saturating_sub(3) as usize;
    let first = app.selected.saturating_sub(visible.saturating_sub(1));
    let rows = app
        .journal_rows
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, row)| {
            let (sync, sync_style) = sync_text(row, l);
            let print = match &row.print {
                PrintState::Printed => Cell::from(l.printed),
                PrintState::Queued { .. } => Cell::from(l.not_printed).style(YELLOW),
            };
            let time = row.at.get(11..19).unwrap_or(&row.at).to_owned();
            let r = Row::new(pick(vec![
                Cell::from(format!("{:06}", row.seq)),
                Cell::from(time),
                Cell::from(row.slips.to_string()),
                Cell::from(Line::from(row.total.to_string()).alignment(Alignment::Right)),
                Cell::from(Line::from(row.tendered.to_string()).alignment(Alignment::Right)),
                Cell::from(Line::from(row.change.to_string()).alignment(Alignment::Right)),
                Cell::from(sync).style(sync_style),
                print,
            ]));
            if i == app.selected {
                r.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                r
            }
        });
    let widths: Vec<Constraint> = [7, 9, 6, 12, 12, 12, 12, 6]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| wide || (*i != 4 && *i != 5))
        .map(|(_, w)| Constraint::Length(w))
        .collect();
    let table = Table::new(rows, widths).header(header).block(block);
    frame.render_widget(table, area);
}

fn draw_day(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let Some(r) = &app.day else {
        let block = Block::default()
            .borders(Borders::ALL)
            .title(format!(" {} ", l.day_title));
        frame.render_widget(Paragraph::new(l.day_loading).block(block), area);
        return;
    };
    let title = match r.z {
        Some(z) => format!(
            " {} No.{z:04}  {} {} ",
            l.day_title_z,
            l.business_day,
            r.business_date.format("%Y-%m-%d")
        ),
        None => format!(
            " {}  {} {} ",
            l.day_title,
            l.business_day,
            r.business_date.format("%Y-%m-%d")
        ),
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Two columns when there is room: the sales on the left, the cash on the right.
    let two = inner.width >= 90;
    let [a, b] = if two {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(inner)
    } else {
        [inner, Rect::new(inner.x, inner.y, inner.width, 0)]
    };
    let label_w = 22;
    let pair = |label: &str, value: String, style: Style| {
        Line::from(vec![
            Span::raw(format!(" {}", pad(label, label_w))),
            Span::styled(format!("{value:>14}"), style.add_modifier(Modifier::BOLD)),
        ])
    };
    let plain = Style::new();
    let t = &r.sales;
    let mut sales = vec![
        pair(l.day_sales, t.sales.to_string(), plain),
        pair(l.day_slips, t.slips.to_string(), plain),
        pair(l.day_stamps, t.stamp_slips.to_string(), plain),
        pair(l.day_cash_in, t.total.to_string(), plain),
        pair(l.day_tendered, t.tendered.to_string(), plain),
        pair(l.day_change, t.change.to_string(), plain),
        pair(
            l.day_cancelled,
            match app.lang {
                Lang::Ja => format!("{}件 {}", r.cancelled.sales, r.cancelled.yen),
                Lang::En => format!("{}, {}", r.cancelled.sales, r.cancelled.yen),
            },
            plain,
        ),
        pair(
            l.day_voided,
            match app.lang {
                Lang::Ja => format!("{}枚 {}", r.voided.slips, r.voided.yen),
                Lang::En => format!("{}, {}", r.voided.slips, r.voided.yen),
            },
            plain,
        ),
        Line::from(Span::styled(
            format!(" {}", l.day_by_method),
            Style::new().add_modifier(Modifier::UNDERLINED),
        )),
    ];
    for m in &t.by_method {
        let method = match m.method {
            konbini_journal::PayMethod::Barcode => l.barcode,
            konbini_journal::PayMethod::KeyIn => l.key_in,
        };
        let chain = m.chain.map(|c| full_chain_name(c, app.lang)).unwrap_or("-");
        sales.push(Line::from(format!(
            " {} {} {:>4} {:>12}",
            pad(method, 10),
            pad(chain, 16),
            m.slips,
            m.amount.to_string()
        )));
    }
    let trouble = t.sync.conflict + t.sync.rejected;
    let mut cash = vec![
        pair(l.day_float, r.float.to_string(), plain),
        pair(l.day_expected, r.expected.to_string(), plain),
    ];
    match (r.counted, r.difference) {
        (Some(counted), Some(diff)) => {
            cash.push(pair(l.day_counted, counted.to_string(), plain));
            let style = if diff == 0 { GREEN } else { RED };
            cash.push(pair(l.day_difference, signed(diff, app.lang), style));
        }
        _ => {
            let typed = app.input.parse::<u64>().ok().map(Yen::new);
            cash.push(pair(
                l.day_counted,
                typed.map_or_else(|| "_".to_owned(), |y| y.to_string()),
                YELLOW,
            ));
            if let Some(counted) = typed {
                let diff = i64::from(counted).saturating_sub(i64::from(r.expected));
                let style = if diff == 0 { GREEN } else { YELLOW };
                cash.push(pair(l.day_difference, signed(diff, app.lang), style));
            }
        }
    }
    cash.push(Line::from(format!(
        " {}: {} {}  {} {}",
        l.day_sync, l.sync_sent, t.sync.sent, l.sync_pending, t.sync.pending
    )));
    cash.push(Line::from(Span::styled(
        format!(
            " {} {}  {} {}",
            l.sync_conflict, t.sync.conflict, l.sync_rejected, t.sync.rejected
        ),
        if trouble > 0 { RED } else { plain },
    )));
    if two {
        frame.render_widget(Paragraph::new(sales), a);
        frame.render_widget(Paragraph::new(cash), b);
    } else {
        // One column: the cash first (what the close needs), then the sales.
        cash.push(Line::from(""));
        cash.extend(sales);
        frame.render_widget(Paragraph::new(cash), a);
    }
}

fn draw_input(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let hint = if app.sale_open() {
        l.input_hint_open
    } else {
        l.input_hint_idle
    };
    let mut title = format!(" {} — {} ", l.input, hint);
    if app.screen == Screen::DayClose {
        title = format!(" {} — {} ", l.day_counted, l.day_count_prompt);
    }
    if app.looking_up {
        title = format!(" {} ", l.looking_up);
    }
    let shown: String = app
        .input
        .chars()
        .map(|c| if c == '\u{1d}' { '␝' } else { c })
        .collect();
    // Keep the end of a long line in view.
    let room = area.width.saturating_sub(5) as usize;
    let skip = shown.chars().count().saturating_sub(room);
    let visible: String = shown.chars().skip(skip).collect();
    let cursor = if app.dialog.is_none()
        && (app.screen == Screen::Sale
            || (app.screen == Screen::DayClose && app.day.as_ref().is_some_and(|d| d.z.is_none())))
    {
        "▏"
    } else {
        ""
    };
    let p = Paragraph::new(format!("> {visible}{cursor}"))
        .block(Block::default().borders(Borders::ALL).title(title));
    frame.render_widget(p, area);
}

/// The notice's words.
pub fn notice_text(notice: &Notice, lang: Lang) -> String {
    match notice {
        // The core's detail is in English: shown only to an English-speaking clerk.
        Notice::Rejected(r, detail) => match lang {
            Lang::Ja => reason(lang, *r).to_owned(),
            Lang::En => format!("{} ({detail})", reason(lang, *r)),
        },
        Notice::Ignored(i, short) => ignored(lang, *i, *short),
        Notice::SlipAdded(yen) => lang.pick(format!("追加しました {yen}"), format!("Added {yen}")),
        Notice::Tendered(yen) => lang.pick(format!("お預り {yen}"), format!("Tendered {yen}")),
        Notice::NotCash(r, _) => match lang {
            Lang::Ja => format!(
                "8桁以上の数字はお預りにせず、バーコードとして読みました：{}",
                reason(lang, *r)
            ),
            Lang::En => format!(
                "8 or more digits are read as a barcode, never as cash: {}",
                reason(lang, *r)
            ),
        },
        Notice::TenderCleared => lang
            .pick("お預りを取り消しました", "Tender cleared")
            .to_owned(),
        Notice::TenderKept(yen) => lang.pick(
            format!("記録済みのお預り {yen} は取り消せません。Esc でお取引を中止してください"),
            format!("The recorded tender of {yen} stays: press Esc to cancel the sale"),
        ),
        Notice::Voided(position, yen) => lang.pick(
            format!("払込票 {position}（{yen}）を取り消しました（訂正）"),
            format!("Slip {position} ({yen}) voided"),
        ),
        Notice::KeptSale => lang
            .pick("お取引はそのままです", "The sale is as it was")
            .to_owned(),
        Notice::Reprinted(seq, Ok(path)) => lang.pick(
            format!("レシート No.{seq:06} を再発行しました（再発行の印字あり）：{path}"),
            format!("Receipt No.{seq:06} reprinted, marked REPRINT: {path}"),
        ),
        Notice::Reprinted(seq, Err(why)) => lang.pick(
            format!("レシート No.{seq:06} を再発行できません。プリンタを確認してください"),
            format!("Receipt No.{seq:06} could not be reprinted: {why}"),
        ),
        Notice::DayClosed(z, date, printed) => {
            let printed = printed.as_deref().map_or(String::new(), |p| format!(" {p}"));
            lang.pick(
                format!(
                    "営業日 {} を精算しました（Zレポート No.{z:04}）。以降の取引は翌営業日です{printed}",
                    date.format("%Y-%m-%d")
                ),
                format!(
                    "Business day {} closed (Z report No.{z:04}); later sales are the next day's{printed}",
                    date.format("%Y-%m-%d")
                ),
            )
        }
        Notice::CloseRefused(CloseRefused::AlreadyClosed { closed, next }) => lang.pick(
            format!(
                "営業日 {} は精算済みです。次の営業日 {} はその日になってから精算できます",
                closed.format("%Y-%m-%d"),
                next.format("%Y-%m-%d")
            ),
            format!(
                "Business day {} is already closed; the next, {}, can be closed from that date",
                closed.format("%Y-%m-%d"),
                next.format("%Y-%m-%d")
            ),
        ),
        Notice::BadCount => lang
            .pick(
                "実在高（数えた現金）を数字で入力してください",
                "Type the counted cash in yen first",
            )
            .to_owned(),
        Notice::ReportPrinted(Ok(path)) => lang.pick(
            format!("レポートを印刷しました：{path}"),
            format!("Report printed: {path}"),
        ),
        Notice::ReportPrinted(Err(why)) => lang.pick(
            "レポートを印刷できません。プリンタを確認してください".to_owned(),
            format!("The report could not print: {why}"),
        ),
        Notice::Acknowledged => lang
            .pick("確認済みにしました", "Marked as seen to")
            .to_owned(),
        Notice::TenderDeclined(yen) => lang.pick(
            format!("お預り {yen} は加えませんでした"),
            format!("The tender of {yen} was not taken"),
        ),
        Notice::Completed(seq, change) => lang.pick(
            format!("お会計完了 No.{seq:06}  おつり {change}"),
            format!("Sale No.{seq:06} complete. Change {change}"),
        ),
        Notice::CommitFailed(why) => lang.pick(
            "記録できませんでした（ディスクの空きなどを確認してください）。お取引はそのままです。Enter でもう一度記録します".to_owned(),
            format!("The sale could not be recorded; it is still open: {why}"),
        ),
        Notice::Cancelled => lang
            .pick("お取引を中止しました", "Sale cancelled")
            .to_owned(),
        Notice::Printed(seq) => lang.pick(
            format!("領収書 No.{seq:06} を印刷しました"),
            format!("Receipt No.{seq:06} printed"),
        ),
        Notice::PrintHeld(seq, why) => lang.pick(
            format!("領収書 No.{seq:06} を印刷できません（{}）。お取引は記録済み、復旧後に印刷します", printer_problem_ja(why)),
            format!("Receipt No.{seq:06} not printed ({why}). The sale is recorded; it prints when the printer is back"),
        ),
        Notice::InputTooLong => lang
            .pick("入力が長すぎます", "The input line is full")
            .to_owned(),
        Notice::ZeroTender => lang
            .pick("0円はお預りできません", "A tender of ¥0 does nothing")
            .to_owned(),
        Notice::TooManyHeld => lang
            .pick("処理待ちが多すぎます。入力を捨てました", "Too much input waiting: this one was dropped")
            .to_owned(),
        Notice::PasteTruncated(n) => lang.pick(
            format!("貼り付け {n} 行のうち先頭 100 行だけ使いました"),
            format!("Only the first 100 of {n} pasted lines were used"),
        ),
        Notice::NoDemo => lang
            .pick("デモ払込票はありません（内蔵ネットワークなし、または準備中）", "No demo slip (no embedded network, or not ready yet)")
            .to_owned(),
        Notice::WaitForTotal => lang
            .pick(
                "払込票の確認中です。金額が表示されてから Enter を押してください",
                "The slip is still being checked: press Enter once its amount shows",
            )
            .to_owned(),
        Notice::ChangeNotConfirmed(change) => lang.pick(
            format!("おつり {change} の会計はしませんでした。Del でお預りを取消できます"),
            format!("Not completed with {change} in change: Del clears the tender"),
        ),
        Notice::SaleOpen => lang
            .pick("お取引中です。会計か中止をしてください", "A sale is open: complete or cancel it first")
            .to_owned(),
        Notice::QuitWithSale => lang
            .pick("お取引中は終了できません。Esc で中止してください", "A sale is open: press Esc to cancel it before quitting")
            .to_owned(),
        // The details (paths, OS errors) are in English and go to the session's stderr
        // log; a Japanese-speaking clerk reads what to do.
        Notice::Trouble(why) => lang.pick(
            "システムの異常です。詳細はセッションのログ（.stderr）にあります。管理者に連絡してください".to_owned(),
            why.clone(),
        ),
    }
}

fn draw_notice(frame: &mut Frame, area: Rect, app: &App) {
    let Some(notice) = &app.notice else {
        return;
    };
    let style = if notice.is_error() {
        RED
    } else if matches!(
        notice,
        Notice::Completed(..)
            | Notice::SlipAdded(_)
            | Notice::Printed(_)
            | Notice::Reprinted(_, Ok(_))
            | Notice::DayClosed(..)
    ) {
        GREEN
    } else {
        Style::new()
    };
    frame.render_widget(
        Paragraph::new(notice_text(notice, app.lang)).style(style),
        area,
    );
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let sep = Span::styled(" │ ", DIM);
    let narrow = area.width < 100;
    let mut spans = Vec::new();
    // The payment network and the alerts first (money the network may not credit), then
    // the journal, the printer and the scanner; on a narrow screen the devices in their
    // usual state (keyboard, virtual printer) are left out. Words from outside (an OS
    // error, a printer's) only in English, where they are the clerk's language.
    match &app.status.link {
        None => spans.push(Span::raw(format!("{} -", l.net))),
        Some(s) => {
            let (word, style) = if s.online {
                (l.online, GREEN)
            } else {
                (l.offline, RED)
            };
            spans.push(Span::raw(format!("{} ", l.net)));
            spans.push(Span::styled(word, style));
            spans.push(Span::raw(format!(" {} {}", l.unsent, s.outbox.pending)));
            if s.outbox.pending > 0 {
                spans.push(Span::raw(format!(" {}", Yen::new(s.outbox.pending_yen))));
                if let Some(age) = oldest_age(s.outbox.oldest_pending_at.as_deref(), app) {
                    spans.push(Span::raw(format!(" ({} {age})", l.oldest)));
                }
            }
            if app.lang == Lang::En
                && let Some(e) = s
                    .config_error
                    .as_ref()
                    .or(s.last_error.as_ref())
                    .filter(|_| !s.online)
            {
                spans.push(Span::styled(format!(" ({})", shorten(e, 32)), RED));
            }
        }
    }
    if app.alert_count > 0 {
        spans.push(sep.clone());
        spans.push(Span::styled(
            format!("{} {}", l.alerts, app.alert_count),
            RED.add_modifier(Modifier::REVERSED),
        ));
    }
    spans.push(sep.clone());
    spans.push(Span::raw(format!("{} ", l.journal)));
    match &app.status.journal {
        JournalState::Checking => spans.push(Span::styled(l.checking, YELLOW)),
        JournalState::Ok(n) => {
            spans.push(Span::raw(format!("{} {n}{}", l.journal_ok, l.sales_unit)))
        }
        JournalState::Broken(_) => spans.push(Span::styled(l.journal_bad, RED)),
    }
    let printer_usual =
        matches!(app.status.printer, PrinterState::Virtual(_)) && app.status.print_queue == 0;
    if !(narrow && printer_usual) {
        spans.push(sep.clone());
        spans.push(Span::raw(format!("{} ", l.printer)));
        match &app.status.printer {
            PrinterState::Virtual(_) => spans.push(Span::raw(l.printer_virtual)),
            PrinterState::Ready => spans.push(Span::styled(l.printer_ok, GREEN)),
            PrinterState::Held(why) => spans.push(Span::styled(
                match app.lang {
                    Lang::Ja => format!("{}（{}）", l.printer_held, printer_problem_ja(why)),
                    Lang::En => shorten(why, 24),
                },
                RED,
            )),
        }
        if app.status.print_queue > 0 {
            spans.push(Span::styled(
                format!(" {} {}", l.queued, app.status.print_queue),
                YELLOW,
            ));
        }
    }
    let scanner_usual = matches!(app.status.scanner, ScannerState::Keyboard);
    if !(narrow && scanner_usual) {
        spans.push(sep);
        spans.push(Span::raw(format!("{} ", l.scanner)));
        match &app.status.scanner {
            ScannerState::Keyboard => spans.push(Span::raw(l.keyboard)),
            ScannerState::Connected(_) => spans.push(Span::styled(l.connected, GREEN)),
            ScannerState::Unplugged(path, _) => spans.push(Span::styled(
                format!("{} {}", l.unplugged, shorten(path, 20)),
                RED,
            )),
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A printer's trouble (as the printer port words it) in Japanese: the status bits a
/// printer reports, each named; anything else (a port that cannot be opened) as the
/// printer's connection.
fn printer_problem_ja(why: &str) -> String {
    const WORDS: [(&str, &str); 6] = [
        ("cover open", "カバーが開いています"),
        ("paper end", "用紙切れ"),
        ("cutter error", "カッター異常"),
        ("unrecoverable error", "復帰不能エラー"),
        ("offline", "オフライン"),
        ("paper near end", "用紙残りわずか"),
    ];
    let found: Vec<&str> = WORDS
        .iter()
        .filter(|(en, _)| why.contains(en))
        .map(|(_, ja)| *ja)
        .collect();
    if found.is_empty() {
        "接続を確認してください".to_owned()
    } else {
        found.join("・")
    }
}

/// How long the oldest unsent slip has waited, in the clerk's units.
fn oldest_age(oldest: Option<&str>, app: &App) -> Option<String> {
    let at = DateTime::parse_from_rfc3339(oldest?).ok()?;
    let minutes = (app.now - at).num_minutes().max(0);
    Some(match (app.lang, minutes) {
        (Lang::Ja, m) if m < 60 => format!("{m}分"),
        (Lang::Ja, m) => format!("{}時間{}分", m / 60, m % 60),
        (Lang::En, m) if m < 60 => format!("{m} min"),
        (Lang::En, m) => format!("{} h {} min", m / 60, m % 60),
    })
}

/// `s` padded with spaces to `width` terminal columns (CJK characters take two).
fn pad(s: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_dialog(frame: &mut Frame, area: Rect, form: &KeyInForm, app: &App, l: &Labels) {
    let rect = centered(area, 96, 9);
    // Narrow: the chains start the line, so that all four names show whole.
    let label_w = if rect.width >= 96 { 16 } else { 0 };
    frame.render_widget(Clear, rect);
    let focus = |i: usize| {
        if form.field == i {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        }
    };
    let chains: Vec<Span> = konbini_domain::Chain::ALL
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let name = full_chain_name(*c, app.lang);
            let style = if *c == form.chain {
                focus(0).add_modifier(Modifier::BOLD)
            } else {
                DIM
            };
            [
                Span::styled(format!("{}:{name}", i + 1), style),
                Span::raw(" "),
            ]
        })
        .collect();
    let mut chain_line = vec![Span::raw(if label_w > 0 {
        format!(" {}", pad(l.dialog_chain, label_w))
    } else {
        " ".to_owned()
    })];
    // Narrow: the four names on two lines (the blank line under them gives way).
    let (first, second): (Vec<Span>, Vec<Span>) = if rect.width < 72 {
        let mut first = chains;
        let second = first.split_off(4);
        (first, second)
    } else {
        (chains, Vec::new())
    };
    chain_line.extend(first);
    let mut second_line = vec![Span::raw(" ")];
    second_line.extend(second);
    let lines = vec![
        Line::from(""),
        Line::from(chain_line),
        Line::from(second_line),
        Line::from(vec![
            Span::raw(format!(" {}", pad(l.dialog_code, 16))),
            Span::styled(format!("{:<22}", form.payment_code), focus(1)),
        ]),
        Line::from(""),
        Line::from(vec![
            Span::raw(format!(" {}", pad(l.dialog_conf, 16))),
            Span::styled(format!("{:<22}", form.confirmation_number), focus(2)),
        ]),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", l.dialog_title))
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn draw_help(frame: &mut Frame, area: Rect, l: &Labels) {
    let rect = centered(
        area,
        area.width.saturating_sub(8).max(40),
        l.help.len() as u16 + 4,
    );
    frame.render_widget(Clear, rect);
    let lines: Vec<Line> = l.help.iter().map(|h| Line::from(format!(" {h}"))).collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", l.help_title))
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_text_draws_each_glyph_in_three_rows() {
        let rows = big_text("¥1");
        assert_eq!(rows[0].chars().count(), 8);
        // '1': top rows 010/110 -> " ▄█"? (row 0 = pixel rows 0 and 1)
        assert_eq!(rows[0].chars().skip(4).take(3).collect::<String>(), "▄█ ");
    }

    #[test]
    fn mask_keeps_the_last_four() {
        assert_eq!(mask("123456789012"), "********9012");
        assert_eq!(mask("1234"), "1234");
        assert_eq!(mask("12345678901234567890"), "********7890");
    }
}
