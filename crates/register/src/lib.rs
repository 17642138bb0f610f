//! The register core: a pure state machine. It owns every rule of `docs/scan-log.md` about
//! slips and sales, and nothing else.
//!
//! `Register::update(Msg) -> Vec<Effect>`. Messages carry their own time; questions to the
//! outside world (was this slip paid before? what does the network say about these
//! numbers?) go out as effects and come back as messages, so the core never does I/O, never
//! reads a clock, and imports no tokio, SQLite, terminal or serial code. The TUI, the replay
//! and the tests all drive this one core, so a recorded session replays to the same result.
//!
//! A shell answers each question before it sends the next input: an answer that arrives
//! while the sale is being committed is ignored (`Ignored::Busy`), so an asynchronous shell
//! (the UI) must not send `Complete` while a `CheckPaid` or `Lookup` is unanswered.
//!
//! A sale is committed in two steps: `Complete` yields `Effect::CommitSale`; only when the
//! journal answers `Msg::Committed` do the drawer, the receipt and the sync follow. A failed
//! commit reopens the sale, so nothing the clerk accepted is lost.
//!
//! Besides sales, three inputs leave non-sale records for the journal (never sent to the
//! payment network): a slip removed from the open sale (`Void`, kept with the sale's
//! completion or its cancel), a cancelled sale (`Cancel`), and the day close (`Close`,
//! whose business day `day::business_day_to_close` decides from what the journal holds).

pub mod day;
mod rules;
mod slip;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use konbini_domain::{Chain, PaperlessRef, Yen, time::business_date};
pub use rules::{Reason, Rejection, check_amount, check_barcode};
pub use slip::{PaymentInfo, Slip, SlipKind};

/// At most this many slips in one sale; the next is refused `sale_full`.
pub const MAX_SLIPS_PER_SALE: usize = 20;

/// The store a register stands in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    /// The chain's store code.
    pub code: String,
    /// The chain, when known.
    pub chain: Option<Chain>,
    /// The store's name as printed on receipts.
    pub name: String,
}

/// Which register this is: the terminal id and its store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Station {
    /// The terminal id (also the register number on receipts).
    pub terminal: String,
    /// The store.
    pub store: Store,
}

impl Station {
    /// The station a scan log without a header replays as (its `terminal` and `store`
    /// fields stand in for the missing ones). Hashed into every journal it writes: never
    /// change it.
    pub fn replay_default() -> Station {
        Station {
            terminal: "T01".to_owned(),
            store: Store {
                code: "0000".to_owned(),
                chain: None,
                name: "konbini-pos".to_owned(),
            },
        }
    }

    /// The station `konbini register` runs as when neither `konbini.toml` nor a flag says
    /// otherwise: the demo store. Hashed into every journal it writes: never change it.
    pub fn register_default() -> Station {
        Station {
            terminal: "T01".to_owned(),
            store: Store {
                code: "0001".to_owned(),
                chain: Some(Chain::Lawson),
                name: "konbini-pos デモ店".to_owned(),
            },
        }
    }
}

impl Default for Station {
    /// [`Station::replay_default`].
    fn default() -> Station {
        Station::replay_default()
    }
}

/// What the network answered to a key-in lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAnswer {
    /// Payable: these are its details.
    Payable(PaymentInfo),
    /// The network does not know these numbers for that chain.
    Unknown,
    /// Known but not payable; the network's status (`succeeded`, `canceled`, `expired`).
    NotPayable(String),
    /// No network configured, or it could not be reached in time.
    Offline,
}

/// An input to the register. Each carries the time it happened, where time matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// One scanner frame (framing removed).
    Scan {
        /// When it was scanned.
        at: DateTime<FixedOffset>,
        /// The frame, possibly with an AIM prefix and GS characters.
        frame: String,
    },
    /// The clerk keyed in a paperless payment's numbers.
    KeyIn {
        /// When.
        at: DateTime<FixedOffset>,
        /// Chain identifier as keyed.
        chain: String,
        /// Payment code as keyed.
        payment_code: String,
        /// Confirmation number as keyed.
        confirmation_number: String,
    },
    /// The answer to an `Effect::Lookup`.
    LookedUp {
        /// When the key-in happened.
        at: DateTime<FixedOffset>,
        /// What was looked up.
        reference: PaperlessRef,
        /// What the network said.
        answer: LookupAnswer,
    },
    /// The answer to an `Effect::CheckPaid`.
    PaidChecked {
        /// The slip asked about.
        slip: Slip,
        /// Whether an earlier sale of the journal paid it.
        already_paid: bool,
    },
    /// Cash handed over.
    Tender {
        /// When.
        at: DateTime<FixedOffset>,
        /// How much.
        amount: Yen,
    },
    /// The clerk completes the open sale.
    Complete {
        /// When.
        at: DateTime<FixedOffset>,
    },
    /// The clerk abandons the open sale.
    Cancel {
        /// When.
        at: DateTime<FixedOffset>,
    },
    /// The clerk removes one slip from the open sale.
    Void {
        /// When.
        at: DateTime<FixedOffset>,
        /// The slip's 1-based position in the open sale.
        position: u32,
    },
    /// The clerk closes the business day (精算) with the cash counted in the drawer.
    Close {
        /// When.
        at: DateTime<FixedOffset>,
        /// The cash the clerk counted in the drawer.
        counted: Yen,
    },
    /// The journal committed the sale of the last `Effect::CommitSale`.
    Committed {
        /// Its journal sequence number (also the receipt number).
        seq: u64,
    },
    /// The journal could not commit it.
    CommitFailed {
        /// Why, for the clerk.
        reason: String,
    },
    /// No more input (end of a replayed log).
    EndOfInput,
    /// The link to the payment network as the sync task last saw it.
    Link(LinkState),
}

/// The payment network link and the unsent confirmations, for the offline limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// The last exchange with the network worked.
    pub online: bool,
    /// Yen of slips not yet accepted by the network.
    pub pending: Yen,
    /// When the oldest of them was paid.
    pub oldest_pending_at: Option<DateTime<FixedOffset>>,
}

/// How far a register may sell offline, as card terminals' store-and-forward modes allow:
/// past either limit, new slips are refused `offline_limit` until the link is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineLimits {
    /// Most yen not yet accepted by the network.
    pub max_unsent: Yen,
    /// Oldest a not-yet-accepted slip may be.
    pub max_age: chrono::Duration,
}

impl Default for OfflineLimits {
    fn default() -> OfflineLimits {
        OfflineLimits {
            max_unsent: Yen::new(3_000_000),
            max_age: chrono::Duration::hours(72),
        }
    }
}

/// Why an input changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// Tender, complete or cancel with no sale open.
    NoOpenSale,
    /// Complete with less tendered than the total.
    InsufficientTender,
    /// The tendered sum would not fit in the journal.
    TenderOverflow,
    /// Input while the sale is being committed.
    Busy,
    /// A void of a position the open sale does not have.
    NoSuchSlip,
    /// A day close with a sale open.
    SaleOpen,
    /// Complete of an open sale with no slips (all of them voided): nothing to pay; the
    /// sale stays open until a slip joins it or it is cancelled.
    EmptySale,
}

impl Ignored {
    /// The snake_case name used in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Ignored::NoOpenSale => "no_open_sale",
            Ignored::InsufficientTender => "insufficient_tender",
            Ignored::TenderOverflow => "tender_overflow",
            Ignored::Busy => "busy",
            Ignored::NoSuchSlip => "no_such_slip",
            Ignored::SaleOpen => "sale_open",
            Ignored::EmptySale => "empty_sale",
        }
    }
}

/// A completed sale for the journal to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSale {
    /// When it was completed.
    pub at: DateTime<FixedOffset>,
    /// Where.
    pub station: Station,
    /// Its slips, in the order they were accepted (1 to 20).
    pub slips: Vec<Slip>,
    /// Sum of the slips.
    pub total: Yen,
    /// Cash handed over.
    pub tendered: Yen,
    /// `tendered - total`.
    pub change: Yen,
}

impl NewSale {
    /// How many of its slips need a revenue stamp.
    pub fn stamp_slips(&self) -> usize {
        self.slips.iter().filter(|s| s.needs_stamp()).count()
    }
}

/// A slip the clerk removed from the open sale (a void): journaled as a non-sale record
/// with the sale's completion or its cancel, never sent as a confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voided {
    /// When it was removed.
    pub at: DateTime<FixedOffset>,
    /// Its 1-based position in the open sale when it was removed.
    pub position: u32,
    /// The slip.
    pub slip: Slip,
}

/// A sale the clerk cancelled: nothing was paid; journaled as a non-sale record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledSale {
    /// When it was cancelled.
    pub at: DateTime<FixedOffset>,
    /// Where.
    pub station: Station,
    /// The slips it held, in order (handed back to the customer).
    pub slips: Vec<Slip>,
    /// Cash that had been handed over (handed back).
    pub tendered: Yen,
    /// Slips voided from it before the cancel.
    pub voided: Vec<Voided>,
}

impl CancelledSale {
    /// Sum of the slips it held.
    pub fn total(&self) -> Yen {
        sum(&self.slips)
    }
}

/// The day close the clerk asked for, for the journal to carry out (or refuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCloseRequest {
    /// When.
    pub at: DateTime<FixedOffset>,
    /// Where.
    pub station: Station,
    /// The cash the clerk counted in the drawer.
    pub counted: Yen,
}

fn sum(slips: &[Slip]) -> Yen {
    slips.iter().fold(Yen::ZERO, |sum, s| {
        sum.checked_add(s.amount()).unwrap_or(Yen::MAX)
    })
}

/// What the register asks its surroundings to do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Ask the journal whether this slip was paid in an earlier sale; answer `PaidChecked`.
    CheckPaid(Slip),
    /// Ask the network about keyed-in numbers; answer `LookedUp`.
    Lookup {
        /// When the key-in happened (to be echoed in `LookedUp`).
        at: DateTime<FixedOffset>,
        /// What to look up.
        reference: PaperlessRef,
    },
    /// A slip was refused; it joins no sale.
    Rejected(Rejection),
    /// The input changed nothing.
    Ignored(Ignored),
    /// A slip joined the open sale (opening it if none was open).
    SlipAdded {
        /// The slip.
        slip: Slip,
        /// The sale's total now.
        total: Yen,
    },
    /// Cash was added to the open sale.
    Tendered {
        /// All cash handed over for this sale so far.
        tendered: Yen,
    },
    /// Commit this sale durably, with a non-sale record of each slip voided from it (in
    /// the same transaction), then answer `Committed` or `CommitFailed`.
    CommitSale {
        /// The sale.
        sale: NewSale,
        /// The slips voided from it, in the order they were voided.
        voided: Vec<Voided>,
    },
    /// A slip was removed from the open sale.
    SlipVoided {
        /// Its position when it was removed.
        position: u32,
        /// The slip.
        slip: Slip,
        /// The sale's total now.
        total: Yen,
    },
    /// The sale is in the journal.
    SaleCompleted {
        /// Journal sequence number.
        seq: u64,
        /// Change to hand back.
        change: Yen,
    },
    /// Kick the cash drawer open.
    OpenDrawer,
    /// Print the receipt of journal sale `seq`.
    PrintReceipt {
        /// Journal sequence number.
        seq: u64,
    },
    /// New confirmations are waiting to be sent upstream.
    WakeSync,
    /// The journal refused the sale; it is open again.
    CommitFailed {
        /// Why.
        reason: String,
    },
    /// The open sale was cancelled: no sale is journaled, only this non-sale record of it
    /// (never sent as a confirmation).
    SaleCancelled(CancelledSale),
    /// Close the business day in the journal (it decides which day, or refuses).
    CloseDay(DayCloseRequest),
    /// Input ended with a sale open; nothing was journaled.
    SaleAbandoned,
}

/// The sale being rung up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenSale {
    slips: Vec<Slip>,
    tendered: Yen,
    voided: Vec<Voided>,
}

impl OpenSale {
    /// Its slips so far.
    pub fn slips(&self) -> &[Slip] {
        &self.slips
    }

    /// Cash handed over so far.
    pub fn tendered(&self) -> Yen {
        self.tendered
    }

    /// Sum of its slips (at most 20 × ¥300,000, so it cannot overflow).
    pub fn total(&self) -> Yen {
        sum(&self.slips)
    }

    /// The slips removed from it so far.
    pub fn voided(&self) -> &[Voided] {
        &self.voided
    }

    fn contains(&self, pay_key: &str) -> bool {
        self.slips.iter().any(|s| s.pay_key() == pay_key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    Open(OpenSale),
    /// Waiting for the journal's answer to `CommitSale`.
    Committing(OpenSale),
}

/// The register: one station, at most one open sale.
#[derive(Debug, Clone)]
pub struct Register {
    station: Station,
    state: State,
    limits: OfflineLimits,
    /// None without a payment network: no offline limits apply.
    link: Option<LinkState>,
}

impl Register {
    /// A register at `station` with no sale open.
    pub fn new(station: Station) -> Register {
        Register {
            station,
            state: State::Idle,
            limits: OfflineLimits::default(),
            link: None,
        }
    }

    /// With these offline limits (they apply once a [`Msg::Link`] came in).
    pub fn with_limits(mut self, limits: OfflineLimits) -> Register {
        self.limits = limits;
        self
    }

    /// Where this register stands.
    pub fn station(&self) -> &Station {
        &self.station
    }

    /// The sale being rung up (or being committed), if any.
    pub fn open_sale(&self) -> Option<&OpenSale> {
        match &self.state {
            State::Idle => None,
            State::Open(sale) | State::Committing(sale) => Some(sale),
        }
    }

    /// Apply one input; return what must happen, in order.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        if matches!(self.state, State::Committing(_))
            && !matches!(msg, Msg::Committed { .. } | Msg::CommitFailed { .. })
        {
            return vec![Effect::Ignored(Ignored::Busy)];
        }
        match msg {
            Msg::Scan { at, frame } => match check_barcode(&frame, business_date(&at)) {
                Ok(code) => self.offer(Slip {
                    at,
                    kind: SlipKind::Barcode(code),
                }),
                Err(rejection) => vec![Effect::Rejected(rejection)],
            },
            Msg::KeyIn {
                at,
                chain,
                payment_code,
                confirmation_number,
            } => match PaperlessRef::parse(&chain, &payment_code, &confirmation_number) {
                Ok(reference) => vec![Effect::Lookup { at, reference }],
                Err(e) => vec![Effect::Rejected(e.into())],
            },
            Msg::LookedUp {
                at,
                reference,
                answer,
            } => self.looked_up(at, reference, answer),
            Msg::PaidChecked { slip, already_paid } => self.paid_checked(slip, already_paid),
            Msg::Tender { amount, .. } => self.tender(amount),
            Msg::Complete { at } => self.complete(at),
            Msg::Cancel { at } => match std::mem::replace(&mut self.state, State::Idle) {
                State::Open(sale) => vec![Effect::SaleCancelled(CancelledSale {
                    at,
                    station: self.station.clone(),
                    slips: sale.slips,
                    tendered: sale.tendered,
                    voided: sale.voided,
                })],
                other => {
                    self.state = other;
                    vec![Effect::Ignored(Ignored::NoOpenSale)]
                }
            },
            Msg::Void { at, position } => self.void(at, position),
            Msg::Close { at, counted } => match &self.state {
                State::Idle => vec![Effect::CloseDay(DayCloseRequest {
                    at,
                    station: self.station.clone(),
                    counted,
                })],
                _ => vec![Effect::Ignored(Ignored::SaleOpen)],
            },
            Msg::Committed { seq } => match std::mem::replace(&mut self.state, State::Idle) {
                State::Committing(sale) => {
                    let change = sale
                        .tendered
                        .checked_sub(sale.total())
                        .expect("complete checked tendered >= total");
                    vec![
                        Effect::SaleCompleted { seq, change },
                        Effect::OpenDrawer,
                        Effect::PrintReceipt { seq },
                        Effect::WakeSync,
                    ]
                }
                other => {
                    self.state = other;
                    vec![]
                }
            },
            Msg::CommitFailed { reason } => match std::mem::replace(&mut self.state, State::Idle) {
                State::Committing(sale) => {
                    self.state = State::Open(sale);
                    vec![Effect::CommitFailed { reason }]
                }
                other => {
                    self.state = other;
                    vec![]
                }
            },
            Msg::Link(link) => {
                self.link = Some(link);
                vec![]
            }
            Msg::EndOfInput => match std::mem::replace(&mut self.state, State::Idle) {
                State::Open(_) => vec![Effect::SaleAbandoned],
                other => {
                    self.state = other;
                    vec![]
                }
            },
        }
    }

    fn looked_up(
        &mut self,
        at: DateTime<FixedOffset>,
        reference: PaperlessRef,
        answer: LookupAnswer,
    ) -> Vec<Effect> {
        let rejection = match answer {
            LookupAnswer::Payable(payment) => match check_amount(payment.amount) {
                Ok(()) => {
                    return self.offer(Slip {
                        at,
                        kind: SlipKind::KeyIn { reference, payment },
                    });
                }
                Err(rejection) => rejection,
            },
            LookupAnswer::Offline => Rejection::new(
                Reason::Offline,
                "the payment network cannot be reached to look the payment up",
            ),
            LookupAnswer::Unknown => Rejection::new(
                Reason::UnknownPayment,
                format!(
                    "no {} payment with code {} and confirmation number {}",
                    reference.chain, reference.payment_code, reference.confirmation_number
                ),
            ),
            LookupAnswer::NotPayable(status) => {
                Rejection::new(Reason::NotPayable, format!("the payment is {status}"))
            }
        };
        vec![Effect::Rejected(rejection)]
    }

    /// The offline limits, check 5, then ask the journal for check 6.
    fn offer(&mut self, slip: Slip) -> Vec<Effect> {
        if let Some(rejection) = self.over_offline_limit(&slip) {
            return vec![Effect::Rejected(rejection)];
        }
        match self.in_sale(&slip) {
            Some(rejection) => vec![Effect::Rejected(rejection)],
            None => vec![Effect::CheckPaid(slip)],
        }
    }

    fn over_offline_limit(&self, slip: &Slip) -> Option<Rejection> {
        let link = self.link.as_ref().filter(|l| !l.online)?;
        if link.pending >= self.limits.max_unsent {
            return Some(Rejection::new(
                Reason::OfflineLimit,
                format!(
                    "offline with {} unsent (the limit is {}): no new slips until the network is back",
                    link.pending, self.limits.max_unsent
                ),
            ));
        }
        let oldest = link.oldest_pending_at?;
        (slip.at - oldest >= self.limits.max_age).then(|| {
            Rejection::new(
                Reason::OfflineLimit,
                format!(
                    "offline with a slip unsent since {} (the limit is {} hours): no new slips until the network is back",
                    oldest.to_rfc3339(),
                    self.limits.max_age.num_hours()
                ),
            )
        })
    }

    fn in_sale(&self, slip: &Slip) -> Option<Rejection> {
        let sale = self.open_sale()?;
        sale.contains(&slip.pay_key()).then(|| {
            Rejection::new(
                Reason::AlreadyInSale,
                "this slip is already in the open sale",
            )
        })
    }

    /// Check 5 again (the sale may have changed while the journal was asked), check 6, then
    /// room in the sale.
    fn paid_checked(&mut self, slip: Slip, already_paid: bool) -> Vec<Effect> {
        if let Some(rejection) = self.in_sale(&slip) {
            return vec![Effect::Rejected(rejection)];
        }
        if already_paid {
            return vec![Effect::Rejected(Rejection::new(
                Reason::AlreadyPaid,
                "this slip was paid in an earlier sale",
            ))];
        }
        let sale = match &mut self.state {
            State::Open(sale) => sale,
            state => {
                *state = State::Open(OpenSale::default());
                let State::Open(sale) = state else {
                    unreachable!("just set")
                };
                sale
            }
        };
        if sale.slips.len() >= MAX_SLIPS_PER_SALE {
            return vec![Effect::Rejected(Rejection::new(
                Reason::SaleFull,
                format!("a sale holds at most {MAX_SLIPS_PER_SALE} slips"),
            ))];
        }
        sale.slips.push(slip.clone());
        vec![Effect::SlipAdded {
            slip,
            total: sale.total(),
        }]
    }

    fn tender(&mut self, amount: Yen) -> Vec<Effect> {
        let State::Open(sale) = &mut self.state else {
            return vec![Effect::Ignored(Ignored::NoOpenSale)];
        };
        match sale.tendered.checked_add(amount) {
            Some(tendered) => {
                sale.tendered = tendered;
                vec![Effect::Tendered { tendered }]
            }
            None => vec![Effect::Ignored(Ignored::TenderOverflow)],
        }
    }

    fn void(&mut self, at: DateTime<FixedOffset>, position: u32) -> Vec<Effect> {
        let State::Open(sale) = &mut self.state else {
            return vec![Effect::Ignored(Ignored::NoOpenSale)];
        };
        let Some(i) = (position as usize)
            .checked_sub(1)
            .filter(|i| *i < sale.slips.len())
        else {
            return vec![Effect::Ignored(Ignored::NoSuchSlip)];
        };
        let slip = sale.slips.remove(i);
        sale.voided.push(Voided {
            at,
            position,
            slip: slip.clone(),
        });
        // The last slip voided leaves the sale open with no slips (total ¥0), as a real
        // register does: the clerk scans another slip, or cancels it (`cancel`, which
        // journals the voids); completing it is refused (`Ignored::EmptySale`).
        vec![Effect::SlipVoided {
            position,
            slip,
            total: sale.total(),
        }]
    }

    fn complete(&mut self, at: DateTime<FixedOffset>) -> Vec<Effect> {
        let State::Open(sale) = &self.state else {
            return vec![Effect::Ignored(Ignored::NoOpenSale)];
        };
        if sale.slips.is_empty() {
            return vec![Effect::Ignored(Ignored::EmptySale)];
        }
        let total = sale.total();
        let Some(change) = sale.tendered.checked_sub(total) else {
            return vec![Effect::Ignored(Ignored::InsufficientTender)];
        };
        let new_sale = NewSale {
            at,
            station: self.station.clone(),
            slips: sale.slips.clone(),
            total,
            tendered: sale.tendered,
            change,
        };
        let voided = sale.voided.clone();
        let State::Open(sale) = std::mem::replace(&mut self.state, State::Idle) else {
            unreachable!("matched above")
        };
        self.state = State::Committing(sale);
        vec![Effect::CommitSale {
            sale: new_sale,
            voided,
        }]
    }
}
