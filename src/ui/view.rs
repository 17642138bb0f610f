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

use konbini_domain::{Deadline, Yen, time::in_japan, time::jst};
use konbini_journal::{PrintState, SaleRow};
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
    match app.screen {
        Screen::Sale => draw_sale(frame, body, app, l),
        Screen::Journal => draw_journal(frame, body, app, l),
        Screen::DayClose => draw_day(frame, body, app, l),
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
            Screen::DayClose => l.keys_day,
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
    }
}

fn draw_confirm(frame: &mut Frame, area: Rect, question: &Confirm, lang: Lang, l: &Labels) {
    let text = confirm_text(question, lang);
    let rect = centered(area, 64, text.len() as u16 + 4);
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
        .map(|c| app.lang.pick(c.name_ja(), c.as_str()))
        .unwrap_or("");
    // The chain, unless the store's name already starts with it.
    let chain = if station.store.name.starts_with(chain) {
        ""
    } else {
        chain
    };
    let left = format!(
        " {}  {}{}{} ({})  {} {}",
        l.title,
        chain,
        if chain.is_empty() { "" } else { " " },
        station.store.name,
        station.store.code,
        l.register,
        station.terminal
    );
    let right = in_japan(&app.now)
        .format("%Y-%m-%d %H:%M:%S JST ")
        .to_string();
    let [a, b] = Layout::horizontal([Constraint::Min(10), Constraint::Length(right.len() as u16)])
        .areas(area);
    frame.render_widget(
        Paragraph::new(left).style(BAR.add_modifier(Modifier::BOLD)),
        a,
    );
    frame.render_widget(Paragraph::new(right).style(BAR), b);
}

fn draw_sale(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let side = if area.width >= 110 { 42 } else { 28 };
    let [left, right] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(side)]).areas(area);
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
        let header = Row::new([
            "#",
            l.col_kind,
            l.col_payee,
            l.col_chain,
            l.col_ref,
            l.col_deadline,
            l.col_amount,
            l.stamp,
        ])
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
        let store_chain = app.register().station().store.chain;
        let rows = slips
            .iter()
            .enumerate()
            .map(|(i, s)| slip_row(i + 1, s, store_chain, app.lang, l));
        let stamps = slips.iter().any(Slip::needs_stamp);
        let [table_area, stamp_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(u16::from(stamps))])
                .areas(left);
        let table = Table::new(
            rows,
            [
                Constraint::Length(2),
                Constraint::Length(10),
                Constraint::Min(6),
                Constraint::Length(14),
                Constraint::Length(12),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(4),
            ],
        )
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
            frame.render_widget(Paragraph::new(l.stamp_notice).style(YELLOW), stamp_area);
        }
    }
    draw_totals(frame, right, app, l);
}

/// A slip's row. A barcode names no chain: it is paid at this store's (`store_chain`).
fn slip_row<'a>(
    n: usize,
    slip: &'a Slip,
    store_chain: Option<konbini_domain::Chain>,
    lang: Lang,
    l: &'a Labels,
) -> Row<'a> {
    let (kind, payee, chain, reference, deadline) = match &slip.kind {
        SlipKind::Barcode(code) => (
            l.barcode.to_owned(),
            code.company_code().to_owned(),
            store_chain.map_or("-", |c| chain_name(c, lang)).to_owned(),
            mask(code.free_area()),
            match code.deadline() {
                Deadline::On(d) => d.format("%Y-%m-%d").to_string(),
                Deadline::None => l.no_deadline.to_owned(),
            },
        ),
        SlipKind::KeyIn { reference, payment } => (
            l.key_in.to_owned(),
            payment.merchant.clone(),
            chain_name(reference.chain, lang).to_owned(),
            mask(&reference.payment_code),
            payment
                .expires_at
                .and_then(|t| jst().timestamp_opt(t, 0).single())
                .map(|d: DateTime<FixedOffset>| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| l.no_deadline.to_owned()),
        ),
    };
    Row::new([
        Cell::from(n.to_string()),
        Cell::from(kind),
        Cell::from(payee),
        Cell::from(chain),
        Cell::from(reference),
        Cell::from(deadline),
        Cell::from(Line::from(slip.amount().to_string()).alignment(Alignment::Right)),
        Cell::from(if slip.needs_stamp() { l.stamp } else { "" }).style(YELLOW),
    ])
}

/// A chain's name short enough for a column (the names clerks use).
fn chain_name(chain: konbini_domain::Chain, lang: Lang) -> &'static str {
    use konbini_domain::Chain;
    match (lang, chain) {
        (Lang::Ja, Chain::FamilyMart) => "ファミマ",
        (Lang::Ja, c) => c.name_ja(),
        (Lang::En, c) => c.as_str(),
    }
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
    let header = Row::new([
        l.col_seq,
        l.col_time,
        l.col_slips,
        l.total,
        l.tendered,
        l.change,
        l.col_sync,
        l.col_print,
    ])
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
            let r = Row::new([
                Cell::from(format!("{:06}", row.seq)),
                Cell::from(time),
                Cell::from(row.slips.to_string()),
                Cell::from(Line::from(row.total.to_string()).alignment(Alignment::Right)),
                Cell::from(Line::from(row.tendered.to_string()).alignment(Alignment::Right)),
                Cell::from(Line::from(row.change.to_string()).alignment(Alignment::Right)),
                Cell::from(sync).style(sync_style),
                print,
            ]);
            if i == app.selected {
                r.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                r
            }
        });
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(6),
        ],
    )
    .header(header)
    .block(block);
    frame.render_widget(table, area);
}

fn draw_day(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let Some((date, t)) = &app.day else {
        let block = Block::default()
            .borders(Borders::ALL)
            .title(format!(" {} ", l.day_title));
        frame.render_widget(Paragraph::new(l.day_loading).block(block), area);
        return;
    };
    let block = Block::default().borders(Borders::ALL).title(format!(
        " {} {} ",
        l.day_title,
        date.format("%Y-%m-%d")
    ));
    let pair = |label: &str, value: String| {
        Line::from(vec![
            Span::raw(format!("  {}", pad(label, 16))),
            Span::styled(
                format!("{value:>16}"),
                Style::new().add_modifier(Modifier::BOLD),
            ),
        ])
    };
    let mut lines = vec![
        pair(l.day_sales, t.sales.to_string()),
        pair(l.day_slips, t.slips.to_string()),
        pair(l.day_stamps, t.stamp_slips.to_string()),
        pair(l.day_cash_in, t.total.to_string()),
        pair(l.tendered, t.tendered.to_string()),
        pair(l.day_change, t.change.to_string()),
        Line::from(""),
        Line::from(Span::styled(
            format!("  {}", l.day_by_method),
            Style::new().add_modifier(Modifier::UNDERLINED),
        )),
    ];
    for m in &t.by_method {
        let method = match m.method {
            konbini_journal::PayMethod::Barcode => l.barcode,
            konbini_journal::PayMethod::KeyIn => l.key_in,
        };
        let chain = m
            .chain
            .map(|c| app.lang.pick(c.name_ja(), c.as_str()))
            .unwrap_or("-");
        lines.push(Line::from(format!(
            "  {} {} {:>6} {:>14}",
            pad(method, 12),
            pad(chain, 16),
            m.slips,
            m.amount.to_string()
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(format!(
        "  {}: {} {}  {} {}  {} {}  {} {}",
        l.day_sync,
        l.sync_sent,
        t.sync.sent,
        l.sync_pending,
        t.sync.pending,
        l.sync_conflict,
        t.sync.conflict,
        l.sync_rejected,
        t.sync.rejected
    )));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_input(frame: &mut Frame, area: Rect, app: &App, l: &Labels) {
    let hint = if app.sale_open() {
        l.input_hint_open
    } else {
        l.input_hint_idle
    };
    let mut title = format!(" {} — {} ", l.input, hint);
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
    let cursor = if app.dialog.is_none() && app.screen == Screen::Sale {
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
        Notice::Rejected(r, detail) => format!("{} ({detail})", reason(lang, *r)),
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
            format!("記録済みのお預り {yen} は取り消せません。Esc でお取引を取消してください"),
            format!("The recorded tender of {yen} stays: press Esc to cancel the sale"),
        ),
        Notice::TenderDeclined(yen) => lang.pick(
            format!("お預り {yen} は加えませんでした"),
            format!("The tender of {yen} was not taken"),
        ),
        Notice::Completed(seq, change) => lang.pick(
            format!("お会計完了 No.{seq:06}  おつり {change}"),
            format!("Sale No.{seq:06} complete. Change {change}"),
        ),
        Notice::CommitFailed(why) => lang.pick(
            format!("記録できませんでした。お取引はそのままです：{why}"),
            format!("The sale could not be recorded; it is still open: {why}"),
        ),
        Notice::Cancelled => lang.pick("お取引を取り消しました", "Sale cancelled").to_owned(),
        Notice::Printed(seq) => lang.pick(
            format!("領収書 No.{seq:06} を印刷しました"),
            format!("Receipt No.{seq:06} printed"),
        ),
        Notice::PrintHeld(seq, why) => lang.pick(
            format!("領収書 No.{seq:06} を印刷できません（{why}）。お取引は記録済み、復旧後に印刷します"),
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
        Notice::SaleOpen => lang
            .pick("お取引中です。会計か取消をしてください", "A sale is open: complete or cancel it first")
            .to_owned(),
        Notice::QuitWithSale => lang
            .pick("お取引中は終了できません。Esc で取消してください", "A sale is open: press Esc to cancel it before quitting")
            .to_owned(),
        Notice::DayClosed(Ok(path)) => lang.pick(
            format!("Zレポートを印刷しました：{path}"),
            format!("Z report printed: {path}"),
        ),
        Notice::DayClosed(Err(why)) => lang.pick(
            format!("Zレポートを印刷できません：{why}"),
            format!("The Z report could not print: {why}"),
        ),
        Notice::Trouble(why) => why.clone(),
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
        Notice::Completed(..) | Notice::SlipAdded(_) | Notice::Printed(_)
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
    let mut spans = Vec::new();
    // The journal, the printer and the scanner first: short, and what the clerk must see;
    // the network last, its error cut to what fits.
    spans.push(Span::raw(format!("{} ", l.journal)));
    match &app.status.journal {
        JournalState::Checking => spans.push(Span::styled(l.checking, YELLOW)),
        JournalState::Ok(n) => {
            spans.push(Span::raw(format!("{} {n}{}", l.journal_ok, l.sales_unit)))
        }
        JournalState::Broken(_) => spans.push(Span::styled(l.journal_bad, RED)),
    }
    spans.push(sep.clone());
    spans.push(Span::raw(format!("{} ", l.printer)));
    match &app.status.printer {
        PrinterState::Virtual(_) => spans.push(Span::raw(l.printer_virtual)),
        PrinterState::Ready => spans.push(Span::styled(l.printer_ok, GREEN)),
        PrinterState::Held(why) => spans.push(Span::styled(shorten(why, 24), RED)),
    }
    if app.status.print_queue > 0 {
        spans.push(Span::styled(
            format!(" {} {}", l.queued, app.status.print_queue),
            YELLOW,
        ));
    }
    spans.push(sep.clone());
    spans.push(Span::raw(format!("{} ", l.scanner)));
    match &app.status.scanner {
        ScannerState::Keyboard => spans.push(Span::raw(l.keyboard)),
        ScannerState::Connected(_) => spans.push(Span::styled(l.connected, GREEN)),
        ScannerState::Unplugged(path, _) => spans.push(Span::styled(
            format!("{} {}", l.unplugged, shorten(path, 20)),
            RED,
        )),
    }
    spans.push(sep);
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
            if s.outbox.conflicts > 0 {
                spans.push(Span::styled(
                    format!(" {} {}", l.sync_conflict, s.outbox.conflicts),
                    RED,
                ));
            }
            if let Some(e) = s
                .config_error
                .as_ref()
                .or(s.last_error.as_ref())
                .filter(|_| !s.online)
            {
                spans.push(Span::styled(format!(" ({})", shorten(e, 32)), RED));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
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
    let rect = centered(area, 76, 9);
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
            let name = chain_name(*c, app.lang);
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
    let mut chain_line = vec![Span::raw(format!(" {}", pad(l.dialog_chain, 16)))];
    chain_line.extend(chains);
    let lines = vec![
        Line::from(""),
        Line::from(chain_line),
        Line::from(""),
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
