//! Everything the register says to the clerk, in Japanese and in English. The core's
//! reasons and the app's notices are turned into words only here, at drawing time, so the
//! language can be switched at any moment (F9) and every refusal reads the same wherever
//! it appears. Never decides anything; never does I/O.

use serde::{Deserialize, Serialize};

use konbini_domain::Yen;
use konbini_register::{Ignored, Reason};

/// The clerk's language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 日本語 (the default: the clerk is in Japan).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// The other language.
    pub fn toggled(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// `ja` or `en` by language.
    pub fn pick<T>(self, ja: T, en: T) -> T {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// The fixed labels of the screens.
pub struct Labels {
    pub title: &'static str,
    pub register: &'static str,
    pub sale: &'static str,
    pub no_sale: &'static str,
    pub col_kind: &'static str,
    pub col_payee: &'static str,
    pub col_chain: &'static str,
    pub col_ref: &'static str,
    pub col_deadline: &'static str,
    pub col_amount: &'static str,
    pub barcode: &'static str,
    pub key_in: &'static str,
    pub no_deadline: &'static str,
    pub stamp: &'static str,
    pub stamp_notice: &'static str,
    pub total: &'static str,
    pub tendered: &'static str,
    pub change: &'static str,
    pub short: &'static str,
    pub input: &'static str,
    pub input_hint_idle: &'static str,
    pub input_hint_open: &'static str,
    pub net: &'static str,
    pub online: &'static str,
    pub offline: &'static str,
    pub unsent: &'static str,
    pub oldest: &'static str,
    pub scanner: &'static str,
    pub keyboard: &'static str,
    pub connected: &'static str,
    pub unplugged: &'static str,
    pub printer: &'static str,
    pub printer_virtual: &'static str,
    pub printer_ok: &'static str,
    pub printer_held: &'static str,
    pub queued: &'static str,
    pub journal: &'static str,
    pub checking: &'static str,
    pub journal_ok: &'static str,
    pub journal_bad: &'static str,
    pub sales_unit: &'static str,
    pub keys_sale: &'static str,
    pub keys_sale_open: &'static str,
    pub keys_confirm: &'static str,
    pub confirm_title: &'static str,
    pub keys_journal: &'static str,
    pub keys_day: &'static str,
    pub keys_day_closed: &'static str,
    pub keys_alerts: &'static str,
    pub keys_dialog: &'static str,
    pub journal_title: &'static str,
    pub col_seq: &'static str,
    pub col_time: &'static str,
    pub col_slips: &'static str,
    pub col_sync: &'static str,
    pub col_print: &'static str,
    pub sync_sent: &'static str,
    pub sync_pending: &'static str,
    pub sync_conflict: &'static str,
    pub sync_rejected: &'static str,
    pub printed: &'static str,
    pub not_printed: &'static str,
    pub no_sales_today: &'static str,
    pub day_title: &'static str,
    pub day_title_z: &'static str,
    pub business_day: &'static str,
    pub day_float: &'static str,
    pub day_tendered: &'static str,
    pub day_expected: &'static str,
    pub day_counted: &'static str,
    pub day_difference: &'static str,
    pub day_cancelled: &'static str,
    pub day_voided: &'static str,
    pub day_count_prompt: &'static str,
    pub alerts: &'static str,
    pub alerts_title: &'static str,
    pub no_alerts: &'static str,
    pub day_sales: &'static str,
    pub day_slips: &'static str,
    pub day_stamps: &'static str,
    pub day_cash_in: &'static str,
    pub day_change: &'static str,
    pub day_by_method: &'static str,
    pub day_sync: &'static str,
    pub day_loading: &'static str,
    pub dialog_title: &'static str,
    pub dialog_chain: &'static str,
    pub dialog_code: &'static str,
    pub dialog_conf: &'static str,
    pub looking_up: &'static str,
    pub too_small: &'static str,
    pub help_title: &'static str,
    pub help: &'static [&'static str],
}

const JA: Labels = Labels {
    title: "コンビニ収納レジ",
    register: "レジ",
    sale: "お取引",
    no_sale: "払込票をスキャンしてください（F5: デモ払込票）",
    col_kind: "種別",
    col_payee: "収納先",
    col_chain: "チェーン",
    col_ref: "番号",
    col_deadline: "期限",
    col_amount: "金額",
    barcode: "バーコード",
    key_in: "番号入力",
    no_deadline: "なし",
    stamp: "印紙",
    stamp_notice: "収入印紙が必要な払込票があります：領収書に印紙を貼付してください",
    total: "合計",
    tendered: "お預り",
    change: "おつり",
    short: "不足",
    input: "入力",
    input_hint_idle: "バーコードをスキャン／入力して Enter",
    input_hint_open: "金額を入力して Enter でお預り、空の Enter で会計",
    net: "回線",
    online: "オンライン",
    offline: "オフライン",
    unsent: "未送信",
    oldest: "最古",
    scanner: "スキャナ",
    keyboard: "キーボード",
    connected: "接続",
    unplugged: "切断",
    printer: "プリンタ",
    printer_virtual: "仮想",
    printer_ok: "正常",
    printer_held: "停止",
    queued: "未印刷",
    journal: "ジャーナル",
    checking: "検証中",
    journal_ok: "正常",
    journal_bad: "異常",
    sales_unit: "件",
    keys_sale: "F1 ヘルプ  F2 番号入力  F3 ジャーナル  F4 精算  F5 デモ払込票  F6 デモ番号  a 要確認  F9 English  q 終了",
    keys_sale_open: "↑↓ 選択  Del 訂正/お預り取消  F7 ¥1,000  F8 ¥5,000  F10 ¥10,000  Enter 会計  Esc 中止  F1 ヘルプ",
    keys_confirm: "Enter/Y はい  Esc/N いいえ",
    confirm_title: "確認",
    keys_journal: "↑↓ 選択  Enter/R 再発行  F3/Esc 戻る",
    keys_day: "数字 実在高  Enter 精算（Z）  X 点検レポート印刷  F4/Esc 戻る",
    keys_day_closed: "P 再発行  F4/Esc 戻る",
    keys_alerts: "↑↓ 選択  Enter 確認済みにする  a/Esc 戻る",
    keys_dialog: "Tab 次の項目  ←→ チェーン  Enter 照会  F6 デモ番号  Esc 閉じる",
    journal_title: "本日の取引",
    col_seq: "No.",
    col_time: "時刻",
    col_slips: "枚数",
    col_sync: "送信",
    col_print: "印刷",
    sync_sent: "送信済",
    sync_pending: "未送信",
    sync_conflict: "要確認",
    sync_rejected: "拒否",
    printed: "済",
    not_printed: "未",
    no_sales_today: "本日の取引はまだありません",
    day_title: "精算（点検 X）",
    day_title_z: "精算レポート（Z）",
    business_day: "営業日",
    day_float: "釣銭準備金",
    day_tendered: "お預り",
    day_expected: "理論在高",
    day_counted: "実在高",
    day_difference: "過不足",
    day_cancelled: "取引中止",
    day_voided: "訂正（取消した払込票）",
    day_count_prompt: "ドロアの現金を数えて入力し、Enter で精算（Z）",
    alerts: "要確認",
    alerts_title: "要確認の払込票（現金はお預かり済み）",
    no_alerts: "要確認の払込票はありません",
    day_sales: "取引数",
    day_slips: "払込票枚数",
    day_stamps: "印紙対象",
    day_cash_in: "収納金額",
    day_change: "おつり",
    day_by_method: "方法・チェーン別",
    day_sync: "送信状態",
    day_loading: "集計中…",
    dialog_title: "番号入力（ペーパーレス決済）",
    dialog_chain: "チェーン",
    dialog_code: "お支払い番号",
    dialog_conf: "確認番号",
    looking_up: "照会中…",
    too_small: "画面が小さすぎます。60×16 以上に広げてください",
    help_title: "ヘルプ",
    help: &[
        "払込票のバーコードをスキャン（またはキー入力して Enter）すると取引に追加します。",
        "金額を入力して Enter：お預り。何も入力せず Enter：会計（おつりを表示し領収書を印刷）。",
        "F7／F8／F10：千円・五千円・一万円札をお預りに加算。Del：お預りを取消。8桁以上の数字はバーコードとして読みます。",
        "↑↓で払込票を選び Del：訂正（取引から外す）。Esc：取引中止（確認あり）。F2：お支払い番号と確認番号で支払う。",
        "F3：本日の取引（↑↓で選び Enter で領収書を再発行）。F4：精算（点検 X、実在高を入力して Zレポート）。",
        "a：要確認の払込票（ネットワークが競合・拒否とした払込票）。Enter で確認済みにします。",
        "F5：内蔵ネットワークの次のデモ払込票をスキャン。F6：次のデモの番号を番号入力に入れる。",
        "F9：English。q または Ctrl+C：終了（取引中でないとき）。",
        "会計済みの取引はすべてジャーナルに記録され、回線が切れても失われません。",
    ],
};

const EN: Labels = Labels {
    title: "Konbini payments register",
    register: "Register",
    sale: "Sale",
    no_sale: "Scan a payment slip (F5: demo slip)",
    col_kind: "Kind",
    col_payee: "Payee",
    col_chain: "Chain",
    col_ref: "Reference",
    col_deadline: "Deadline",
    col_amount: "Amount",
    barcode: "Barcode",
    key_in: "Key-in",
    no_deadline: "none",
    stamp: "Stamp",
    stamp_notice: "A slip needs a revenue stamp: put one on the receipt",
    total: "TOTAL",
    tendered: "TENDERED",
    change: "CHANGE",
    short: "SHORT",
    input: "Input",
    input_hint_idle: "Scan or type a barcode, then Enter",
    input_hint_open: "Type the cash and Enter to tender; empty Enter completes",
    net: "Net",
    online: "online",
    offline: "OFFLINE",
    unsent: "unsent",
    oldest: "oldest",
    scanner: "Scanner",
    keyboard: "keyboard",
    connected: "connected",
    unplugged: "UNPLUGGED",
    printer: "Printer",
    printer_virtual: "virtual",
    printer_ok: "ready",
    printer_held: "STOPPED",
    queued: "queued",
    journal: "Journal",
    checking: "checking",
    journal_ok: "ok",
    journal_bad: "BROKEN",
    sales_unit: " sales",
    keys_sale: "F1 Help  F2 Key-in  F3 Journal  F4 Day close  F5 Demo slip  F6 Demo numbers  a Alerts  F9 日本語  q Quit",
    keys_sale_open: "↑↓ Select  Del Void/clear tender  F7 ¥1,000  F8 ¥5,000  F10 ¥10,000  Enter Complete  Esc Cancel  F1 Help",
    keys_confirm: "Enter/Y Yes  Esc/N No",
    confirm_title: "Please confirm",
    keys_journal: "↑↓ Select  Enter/R Reprint  F3/Esc Back",
    keys_day: "Digits Counted cash  Enter Close day (Z)  X Print reading  F4/Esc Back",
    keys_day_closed: "P Reprint  F4/Esc Back",
    keys_alerts: "↑↓ Select  Enter Acknowledge  a/Esc Back",
    keys_dialog: "Tab Next field  ←→ Chain  Enter Look up  F6 Demo numbers  Esc Close",
    journal_title: "Today's sales",
    col_seq: "No.",
    col_time: "Time",
    col_slips: "Slips",
    col_sync: "Sync",
    col_print: "Print",
    sync_sent: "sent",
    sync_pending: "pending",
    sync_conflict: "CONFLICT",
    sync_rejected: "REJECTED",
    printed: "yes",
    not_printed: "no",
    no_sales_today: "No sales yet today",
    day_title: "Day close (reading X)",
    day_title_z: "Day close (Z report)",
    business_day: "Business day",
    day_float: "Drawer float",
    day_tendered: "Cash in",
    day_expected: "Expected cash",
    day_counted: "Counted cash",
    day_difference: "Over/short",
    day_cancelled: "Cancelled sales",
    day_voided: "Voided slips",
    day_count_prompt: "count the drawer, type the cash, Enter closes the day (Z)",
    alerts: "Alerts",
    alerts_title: "Slips to see to (the cash is in the drawer)",
    no_alerts: "No slips to see to",
    day_sales: "Sales",
    day_slips: "Slips",
    day_stamps: "Stamp slips",
    day_cash_in: "Collected",
    day_change: "Change given",
    day_by_method: "By method and chain",
    day_sync: "Sync",
    day_loading: "Adding up…",
    dialog_title: "Key in a paperless payment",
    dialog_chain: "Chain",
    dialog_code: "Payment code",
    dialog_conf: "Confirmation no.",
    looking_up: "Looking up…",
    too_small: "The terminal is too small: make it at least 60×16",
    help_title: "Help",
    help: &[
        "Scan a slip's barcode (or type it and press Enter) to add it to the sale.",
        "Type an amount and Enter: cash tendered. Enter on an empty line: complete the sale.",
        "F7/F8/F10: add a ¥1,000/¥5,000/¥10,000 note. Del: clear the tender. 8+ digits are read as a barcode.",
        "↑↓ selects a slip, Del voids it. Esc cancels the sale (asks first). F2: pay by payment code and confirmation number.",
        "F3: today's sales (↑↓ to choose, Enter to reprint). F4: day close (reading X; type the counted cash for the Z report).",
        "a: slips the network found in conflict or rejected. Enter marks one as seen to.",
        "F5: scan the embedded network's next demo slip. F6: put the next demo's numbers in F2.",
        "F9: 日本語. q or Ctrl+C: quit (with no sale open).",
        "Every completed sale is in the journal before anything else and survives any outage.",
    ],
};

/// The labels in `lang`.
pub fn labels(lang: Lang) -> &'static Labels {
    lang.pick(&JA, &EN)
}

/// Why a slip was refused, as the clerk reads it.
pub fn reason(lang: Lang, reason: Reason) -> &'static str {
    match reason {
        Reason::Malformed => lang.pick(
            "払込票のバーコードではありません",
            "This is not a payment slip barcode",
        ),
        Reason::CheckDigit => lang.pick(
            "バーコードを正しく読めませんでした。もう一度スキャンしてください",
            "The barcode was misread (check digit): scan it again",
        ),
        Reason::Expired => lang.pick("期限切れの払込票です", "This slip has expired"),
        Reason::BelowMinimum => lang.pick(
            "金額が下限（120円）未満の払込票です",
            "The amount is below the ¥120 minimum",
        ),
        Reason::AboveMaximum => lang.pick(
            "金額が上限（30万円）を超える払込票です",
            "The amount is above the ¥300,000 maximum",
        ),
        Reason::AlreadyInSale => lang.pick(
            "この払込票はすでにこのお取引にあります",
            "This slip is already in this sale",
        ),
        Reason::AlreadyPaid => lang.pick(
            "この払込票はお支払い済みです",
            "This slip has already been paid",
        ),
        Reason::SaleFull => lang.pick(
            "1回のお取引は20枚までです。会計してから続けてください",
            "A sale holds at most 20 slips: complete this one first",
        ),
        Reason::Offline => lang.pick(
            "決済ネットワークに接続できません。払込票のバーコードでお支払いください",
            "The payment network cannot be reached: pay with the slip's barcode",
        ),
        Reason::UnknownPayment => lang.pick(
            "お支払い番号または確認番号が違います",
            "No payment has these numbers at this chain",
        ),
        Reason::NotPayable => lang.pick(
            "このお支払いはお受けできません（支払済み・取消・期限切れ）",
            "This payment cannot be taken (paid, cancelled or expired)",
        ),
        Reason::OfflineLimit => lang.pick(
            "オフラインの上限に達しました。回線が戻るまでお受けできません",
            "Offline limit reached: no new slips until the network is back",
        ),
    }
}

/// Why an input changed nothing. `short` is the missing cash for `InsufficientTender`.
pub fn ignored(lang: Lang, ignored: Ignored, short: Yen) -> String {
    match ignored {
        Ignored::NoOpenSale => lang
            .pick("お取引がありません", "No sale is open")
            .to_owned(),
        Ignored::InsufficientTender => match lang {
            Lang::Ja => format!("お預りが {short} 不足しています"),
            Lang::En => format!("Not enough cash tendered: {short} short"),
        },
        Ignored::TenderOverflow => lang
            .pick(
                "お預り金額が大きすぎます",
                "That much cash cannot be added up",
            )
            .to_owned(),
        Ignored::Busy => lang
            .pick("処理中です。お待ちください", "Busy: one moment")
            .to_owned(),
        Ignored::NoSuchSlip => lang
            .pick(
                "その番号の払込票はこのお取引にありません",
                "The sale has no slip at that position",
            )
            .to_owned(),
        Ignored::SaleOpen => lang
            .pick(
                "お取引中は精算できません",
                "The day cannot be closed with a sale open",
            )
            .to_owned(),
        Ignored::EmptySale => lang
            .pick(
                "払込票がありません。読み取るか Esc で中止してください",
                "The sale has no slips: scan one, or Esc to cancel it",
            )
            .to_owned(),
    }
}
