//! The register core, rule by rule (`docs/scan-log.md`), driven through its public API
//! with a tiny shell that answers its questions.

use std::collections::{HashSet, VecDeque};

use chrono::NaiveDate;
use konbini_domain::{BillBarcode, BillFields, Deadline, Yen};
use konbini_register::{
    Effect, Ignored, LookupAnswer, Msg, PaymentInfo, Reason, Register, Station,
};

use crate::common::at;

/// Plays the journal and the network for the core.
struct Shell {
    reg: Register,
    paid: HashSet<String>,
    lookup: LookupAnswer,
    next_seq: u64,
    fail_commit: bool,
}

impl Shell {
    fn new() -> Shell {
        Shell {
            reg: Register::new(Station::default()),
            paid: HashSet::new(),
            lookup: LookupAnswer::Offline,
            next_seq: 1,
            fail_commit: false,
        }
    }

    /// Every effect of `msg`, questions answered, in order.
    fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let mut all = Vec::new();
        let mut queue = VecDeque::from([msg]);
        while let Some(m) = queue.pop_front() {
            for effect in self.reg.update(m) {
                match &effect {
                    Effect::CheckPaid(slip) => queue.push_back(Msg::PaidChecked {
                        already_paid: self.paid.contains(&slip.pay_key()),
                        slip: slip.clone(),
                    }),
                    Effect::Lookup { at, reference } => queue.push_back(Msg::LookedUp {
                        at: *at,
                        reference: reference.clone(),
                        answer: self.lookup.clone(),
                    }),
                    Effect::CommitSale { sale, .. } => {
                        if self.fail_commit {
                            queue.push_back(Msg::CommitFailed {
                                reason: "disk full".into(),
                            });
                        } else {
                            for s in &sale.slips {
                                self.paid.insert(s.pay_key());
                            }
                            queue.push_back(Msg::Committed { seq: self.next_seq });
                            self.next_seq += 1;
                        }
                    }
                    _ => {}
                }
                all.push(effect);
            }
        }
        all
    }

    fn scan(&mut self, when: &str, frame: &str) -> Vec<Effect> {
        self.send(Msg::Scan {
            at: at(when),
            frame: frame.to_owned(),
        })
    }

    fn key_in(&mut self, chain: &str, code: &str, conf: &str) -> Vec<Effect> {
        self.send(Msg::KeyIn {
            at: at(NOON),
            chain: chain.into(),
            payment_code: code.into(),
            confirmation_number: conf.into(),
        })
    }

    fn tender(&mut self, yen: u64) -> Vec<Effect> {
        self.send(Msg::Tender {
            at: at(NOON),
            amount: Yen::new(yen),
        })
    }

    fn complete(&mut self) -> Vec<Effect> {
        self.send(Msg::Complete { at: at(NOON) })
    }
}

const NOON: &str = "2026-11-28T12:00:00+09:00";

fn slip(free: &str, deadline: Deadline, stamp: bool, amount: u64) -> String {
    BillBarcode::build(&BillFields {
        company_code: "912345",
        free_area: free,
        reissue: 0,
        deadline,
        stamp,
        amount: Yen::new(amount),
    })
    .unwrap()
    .to_string()
}

fn due(y: i32, m: u32, d: u32) -> Deadline {
    Deadline::On(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn ok(free: &str, amount: u64) -> String {
    slip(free, due(2026, 12, 31), false, amount)
}

fn rejected(effects: &[Effect]) -> Option<Reason> {
    effects.iter().find_map(|e| match e {
        Effect::Rejected(r) => Some(r.reason),
        _ => None,
    })
}

fn added(effects: &[Effect]) -> Option<Yen> {
    effects.iter().find_map(|e| match e {
        Effect::SlipAdded { total, .. } => Some(*total),
        _ => None,
    })
}

fn payment(id: &str, amount: u64) -> LookupAnswer {
    LookupAnswer::Payable(PaymentInfo {
        payment: id.into(),
        amount: Yen::new(amount),
        merchant: "Example Shop".into(),
        description: "order 42".into(),
        customer_name: "山田太郎".into(),
        expires_at: None,
    })
}

#[test]
fn first_accepted_slip_opens_a_sale_and_totals_add_up() {
    let mut s = Shell::new();
    assert!(s.reg.open_sale().is_none());
    assert_eq!(
        added(&s.scan(NOON, &format!("]C1{}", ok("1", 1200)))),
        Some(Yen::new(1200))
    );
    assert_eq!(added(&s.scan(NOON, &ok("2", 800))), Some(Yen::new(2000)));
    assert_eq!(s.reg.open_sale().unwrap().slips().len(), 2);
}

#[test]
fn malformed_frames_are_refused_malformed() {
    let mut s = Shell::new();
    let good = ok("1", 1200);
    for frame in [
        good[..43].to_string(),
        format!("{good}1"),
        format!("]E0{good}"),
        format!("]d2{good}"),
        format!("80{}", &good[2..]),
        String::new(),
        "こんにちは".into(),
        good.replace('1', "l"),
    ] {
        assert_eq!(
            rejected(&s.scan(NOON, &frame)),
            Some(Reason::Malformed),
            "{frame:?}"
        );
    }
    assert!(
        s.reg.open_sale().is_none(),
        "a rejected slip never opens a sale"
    );
}

#[test]
fn an_impossible_deadline_is_malformed_not_expired() {
    let mut s = Shell::new();
    let mut d = ok("1", 1200).into_bytes();
    d[30..36].copy_from_slice(b"260230");
    let data: [u8; 43] = d[..43].try_into().unwrap();
    d[43] = b'0' + konbini_domain::barcode::check_digit(&data);
    let frame = String::from_utf8(d).unwrap();
    assert_eq!(rejected(&s.scan(NOON, &frame)), Some(Reason::Malformed));
}

#[test]
fn wrong_check_digit() {
    let mut s = Shell::new();
    let good = ok("1", 1200);
    let last = good.as_bytes()[43] - b'0';
    let bad = format!("{}{}", &good[..43], (last + 5) % 10);
    assert_eq!(rejected(&s.scan(NOON, &bad)), Some(Reason::CheckDigit));
}

#[test]
fn expiry_follows_the_business_date_in_japan() {
    let mut s = Shell::new();
    let due_27 = slip("1", due(2026, 11, 27), false, 1200);
    // 14:59 UTC on the 27th is 23:59 in Japan: still payable.
    assert_eq!(rejected(&s.scan("2026-11-27T14:59:59Z", &due_27)), None);
    s.send(Msg::Cancel {
        at: at("2026-11-27T15:00:00Z"),
    });
    // 15:00 UTC is midnight in Japan: expired, whatever the offset the log used.
    assert_eq!(
        rejected(&s.scan("2026-11-27T15:00:00Z", &due_27)),
        Some(Reason::Expired)
    );
    assert_eq!(
        rejected(&s.scan("2026-11-27T16:00:00+01:00", &due_27)),
        Some(Reason::Expired)
    );
    // 999999: never expires.
    let never = slip("2", Deadline::None, false, 1200);
    assert_eq!(rejected(&s.scan("2030-01-01T00:00:00+09:00", &never)), None);
}

#[test]
fn amount_limits_are_inclusive() {
    let mut s = Shell::new();
    assert_eq!(
        rejected(&s.scan(NOON, &ok("1", 119))),
        Some(Reason::BelowMinimum)
    );
    assert_eq!(
        rejected(&s.scan(NOON, &ok("2", 300_001))),
        Some(Reason::AboveMaximum)
    );
    assert_eq!(rejected(&s.scan(NOON, &ok("3", 120))), None);
    assert_eq!(rejected(&s.scan(NOON, &ok("4", 300_000))), None);
}

#[test]
fn checks_run_in_the_spec_order() {
    let mut s = Shell::new();
    // Expired and above the maximum: expired comes first.
    let both = slip("1", due(2026, 1, 1), false, 400_000);
    assert_eq!(rejected(&s.scan(NOON, &both)), Some(Reason::Expired));
    // Paid before and expired now: expired comes first.
    let late = slip("2", due(2026, 11, 28), false, 1200);
    s.scan(NOON, &late);
    s.tender(1200);
    s.complete();
    assert_eq!(
        rejected(&s.scan("2026-11-29T08:00:00+09:00", &late)),
        Some(Reason::Expired)
    );
}

#[test]
fn the_same_slip_twice_in_a_sale_whatever_its_framing() {
    let mut s = Shell::new();
    let code = ok("1", 1200);
    s.scan(NOON, &format!("]C1{code}"));
    assert_eq!(rejected(&s.scan(NOON, &code)), Some(Reason::AlreadyInSale));
    let gs = format!("]C0{}\u{1d}{}", &code[..10], &code[10..]);
    assert_eq!(rejected(&s.scan(NOON, &gs)), Some(Reason::AlreadyInSale));
    assert_eq!(s.reg.open_sale().unwrap().total(), Yen::new(1200));
}

#[test]
fn a_slip_paid_in_an_earlier_sale_is_refused() {
    let mut s = Shell::new();
    let code = ok("1", 1200);
    s.scan(NOON, &code);
    s.tender(2000);
    s.complete();
    assert_eq!(rejected(&s.scan(NOON, &code)), Some(Reason::AlreadyPaid));
    assert!(s.reg.open_sale().is_none());
}

#[test]
fn a_sale_holds_twenty_slips() {
    let mut s = Shell::new();
    for i in 0..20 {
        assert_eq!(rejected(&s.scan(NOON, &ok(&format!("{i:03}"), 1000))), None);
    }
    assert_eq!(
        rejected(&s.scan(NOON, &ok("99", 1000))),
        Some(Reason::SaleFull)
    );
    assert_eq!(s.reg.open_sale().unwrap().slips().len(), 20);
}

#[test]
fn tender_complete_cancel_need_an_open_sale() {
    let mut s = Shell::new();
    let ignored = Effect::Ignored(Ignored::NoOpenSale);
    assert_eq!(s.tender(1000), vec![ignored.clone()]);
    assert_eq!(s.complete(), vec![ignored.clone()]);
    assert_eq!(s.send(Msg::Cancel { at: at(NOON) }), vec![ignored]);
}

#[test]
fn insufficient_tender_keeps_the_sale_open_and_tenders_add_up() {
    let mut s = Shell::new();
    s.scan(NOON, &ok("1", 1500));
    s.tender(1000);
    assert_eq!(
        s.complete(),
        vec![Effect::Ignored(Ignored::InsufficientTender)]
    );
    assert!(s.reg.open_sale().is_some());
    s.tender(1000);
    let effects = s.complete();
    let Effect::CommitSale { sale, .. } = &effects[0] else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (sale.total, sale.tendered, sale.change),
        (Yen::new(1500), Yen::new(2000), Yen::new(500))
    );
}

#[test]
fn commit_comes_first_then_drawer_print_and_sync() {
    let mut s = Shell::new();
    s.scan(NOON, &ok("1", 1000));
    s.tender(1000);
    let effects = s.complete();
    let kinds: Vec<&str> = effects
        .iter()
        .map(|e| match e {
            Effect::CommitSale { .. } => "commit",
            Effect::SaleCompleted { .. } => "completed",
            Effect::OpenDrawer => "drawer",
            Effect::PrintReceipt { .. } => "print",
            Effect::WakeSync => "sync",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["commit", "completed", "drawer", "print", "sync"]);
    assert!(effects.contains(&Effect::PrintReceipt { seq: 1 }));
    assert!(s.reg.open_sale().is_none());
}

#[test]
fn a_failed_commit_reopens_the_sale_with_everything_in_it() {
    let mut s = Shell::new();
    s.fail_commit = true;
    s.scan(NOON, &ok("1", 1000));
    s.tender(5000);
    let effects = s.complete();
    assert!(
        matches!(effects.last(), Some(Effect::CommitFailed { .. })),
        "{effects:?}"
    );
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::PrintReceipt { .. } | Effect::OpenDrawer))
    );
    let sale = s.reg.open_sale().unwrap();
    assert_eq!((sale.slips().len(), sale.tendered()), (1, Yen::new(5000)));
    s.fail_commit = false;
    assert!(s.complete().contains(&Effect::PrintReceipt { seq: 1 }));
}

#[test]
fn input_while_committing_is_ignored_busy() {
    let mut reg = Register::new(Station::default());
    let frame = ok("1", 1000);
    let effects = reg.update(Msg::Scan {
        at: at(NOON),
        frame,
    });
    let Effect::CheckPaid(slip) = effects[0].clone() else {
        panic!()
    };
    reg.update(Msg::PaidChecked {
        slip,
        already_paid: false,
    });
    reg.update(Msg::Tender {
        at: at(NOON),
        amount: Yen::new(1000),
    });
    assert!(matches!(
        reg.update(Msg::Complete { at: at(NOON) })[0],
        Effect::CommitSale { .. }
    ));
    assert_eq!(
        reg.update(Msg::Cancel { at: at(NOON) }),
        vec![Effect::Ignored(Ignored::Busy)]
    );
    assert_eq!(
        reg.update(Msg::Committed { seq: 7 })[0],
        Effect::SaleCompleted {
            seq: 7,
            change: Yen::ZERO
        }
    );
}

#[test]
fn cancel_and_end_of_input() {
    let mut s = Shell::new();
    s.scan(NOON, &ok("1", 1000));
    let effects = s.send(Msg::Cancel { at: at(NOON) });
    let [Effect::SaleCancelled(cancelled)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(cancelled.slips.len(), 1);
    assert_eq!(cancelled.total(), Yen::new(1000));
    assert!(s.reg.open_sale().is_none());
    // A cancelled slip was never paid: it can be scanned again.
    assert_eq!(rejected(&s.scan(NOON, &ok("1", 1000))), None);
    assert_eq!(s.send(Msg::EndOfInput), vec![Effect::SaleAbandoned]);
    assert_eq!(s.send(Msg::EndOfInput), vec![]);
}

#[test]
fn key_in_checks() {
    let mut s = Shell::new();
    assert_eq!(
        rejected(&s.key_in("7eleven", "123456", "09012345678")),
        Some(Reason::Malformed)
    );
    assert_eq!(
        rejected(&s.key_in("lawson", "", "09012345678")),
        Some(Reason::Malformed)
    );
    assert_eq!(
        rejected(&s.key_in("lawson", "123456", "123")),
        Some(Reason::Malformed)
    );
    assert_eq!(
        rejected(&s.key_in("lawson", "123456", "09012345678")),
        Some(Reason::Offline)
    );
    s.lookup = LookupAnswer::Unknown;
    assert_eq!(
        rejected(&s.key_in("lawson", "123456", "09012345678")),
        Some(Reason::UnknownPayment)
    );
    s.lookup = LookupAnswer::NotPayable("succeeded".into());
    assert_eq!(
        rejected(&s.key_in("lawson", "123456", "09012345678")),
        Some(Reason::NotPayable)
    );
    s.lookup = payment("pi_small", 100);
    assert_eq!(
        rejected(&s.key_in("lawson", "123456", "09012345678")),
        Some(Reason::BelowMinimum)
    );
    s.lookup = payment("pi_big", 300_001);
    assert_eq!(
        rejected(&s.key_in("lawson", "123456", "09012345678")),
        Some(Reason::AboveMaximum)
    );
    s.lookup = payment("pi_ok", 4_500);
    assert_eq!(
        added(&s.key_in("lawson", "123456", "09012345678")),
        Some(Yen::new(4_500))
    );
    // The same payment keyed in again, even at another chain: already in the sale.
    assert_eq!(
        rejected(&s.key_in("familymart", "654321", "09012345678")),
        Some(Reason::AlreadyInSale)
    );
    s.tender(5_000);
    s.complete();
    assert_eq!(
        rejected(&s.key_in("lawson", "123456", "09012345678")),
        Some(Reason::AlreadyPaid)
    );
}

#[test]
fn revenue_stamp_rules() {
    let mut s = Shell::new();
    s.scan(NOON, &slip("1", due(2026, 12, 31), true, 1_000));
    s.scan(NOON, &slip("2", due(2026, 12, 31), false, 90_000));
    s.lookup = payment("pi_49999", 49_999);
    s.key_in("lawson", "1", "09012345678");
    s.lookup = payment("pi_50000", 50_000);
    s.key_in("lawson", "2", "09012345679");
    let stamps: Vec<bool> = s
        .reg
        .open_sale()
        .unwrap()
        .slips()
        .iter()
        .map(|x| x.needs_stamp())
        .collect();
    // The barcode's flag decides for a slip; ¥50,000 and more for a keyed-in payment.
    assert_eq!(stamps, [true, false, false, true]);
}

#[test]
fn a_bad_deadline_is_malformed_even_with_a_wrong_check_digit() {
    let mut s = Shell::new();
    let mut d = ok("1", 1200).into_bytes();
    d[30..36].copy_from_slice(b"261340");
    d[43] = b'0' + (d[43] - b'0' + 1) % 10;
    assert_eq!(
        rejected(&s.scan(NOON, &String::from_utf8(d).unwrap())),
        Some(Reason::Malformed)
    );
}

#[test]
fn in_a_full_sale_a_repeat_is_already_in_sale_and_a_paid_slip_already_paid() {
    let mut s = Shell::new();
    let paid = ok("777", 1000);
    s.scan(NOON, &paid);
    s.tender(1000);
    s.complete();
    for i in 0..20 {
        s.scan(NOON, &ok(&format!("{i:03}"), 1000));
    }
    // Checks 5 and 6 name the slip's own problem; only a good slip hears `sale_full`.
    assert_eq!(
        rejected(&s.scan(NOON, &ok("005", 1000))),
        Some(Reason::AlreadyInSale)
    );
    assert_eq!(rejected(&s.scan(NOON, &paid)), Some(Reason::AlreadyPaid));
    assert_eq!(
        rejected(&s.scan(NOON, &ok("999", 1000))),
        Some(Reason::SaleFull)
    );
}

#[test]
fn offline_limits_refuse_new_slips_until_the_link_is_back() {
    use konbini_register::{LinkState, OfflineLimits};
    let mut shell = Shell::new();
    shell.reg = Register::new(Station::default()).with_limits(OfflineLimits {
        max_unsent: Yen::new(10_000),
        max_age: chrono::Duration::hours(72),
    });
    // No link reported (no network configured): no limits.
    assert_eq!(rejected(&shell.scan(NOON, &ok("1", 1200))), None);
    let offline = |pending: u64, oldest: &str| {
        Msg::Link(LinkState {
            online: false,
            pending: Yen::new(pending),
            oldest_pending_at: Some(at(oldest)),
        })
    };
    // Under both limits: sells.
    shell.send(offline(9_999, "2026-11-26T12:00:01+09:00"));
    assert_eq!(rejected(&shell.scan(NOON, &ok("2", 1200))), None);
    // At the amount limit.
    shell.send(offline(10_000, "2026-11-28T11:00:00+09:00"));
    assert_eq!(
        rejected(&shell.scan(NOON, &ok("3", 1200))),
        Some(Reason::OfflineLimit)
    );
    // The oldest unsent slip 72 hours old.
    shell.send(offline(100, "2026-11-25T12:00:00+09:00"));
    assert_eq!(
        rejected(&shell.scan(NOON, &ok("4", 1200))),
        Some(Reason::OfflineLimit)
    );
    // A malformed frame is still malformed: the limit applies to slips that would sell.
    assert_eq!(
        rejected(&shell.scan(NOON, "]C1123")),
        Some(Reason::Malformed)
    );
    // The link is back: the limits lift.
    shell.send(Msg::Link(LinkState {
        online: true,
        pending: Yen::new(50_000),
        oldest_pending_at: Some(at("2026-11-20T12:00:00+09:00")),
    }));
    assert_eq!(rejected(&shell.scan(NOON, &ok("5", 1200))), None);
}

#[test]
fn a_void_removes_one_slip_and_is_kept_for_the_journal() {
    let mut s = Shell::new();
    s.scan(NOON, &ok("1", 1000));
    s.scan(NOON, &ok("2", 2000));
    s.scan(NOON, &ok("3", 3000));
    // No such position: nothing changes.
    for position in [0, 4] {
        assert_eq!(
            s.send(Msg::Void {
                at: at(NOON),
                position
            }),
            vec![Effect::Ignored(Ignored::NoSuchSlip)]
        );
    }
    let effects = s.send(Msg::Void {
        at: at(NOON),
        position: 2,
    });
    let [
        Effect::SlipVoided {
            position: 2,
            slip,
            total,
        },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert_eq!((slip.amount(), *total), (Yen::new(2000), Yen::new(4000)));
    let sale = s.reg.open_sale().unwrap();
    assert_eq!(sale.slips().len(), 2);
    assert_eq!(sale.voided().len(), 1);
    // The voided slip was never paid: it may be scanned again, into this sale.
    assert_eq!(rejected(&s.scan(NOON, &ok("2", 2000))), None);
    s.tender(6000);
    let effects = s.complete();
    let Effect::CommitSale { sale, voided } = &effects[0] else {
        panic!("{effects:?}")
    };
    assert_eq!((sale.total, sale.slips.len()), (Yen::new(6000), 3));
    assert_eq!(voided.len(), 1);
    assert_eq!(voided[0].position, 2);
    assert_eq!(voided[0].slip.amount(), Yen::new(2000));
}

#[test]
fn voiding_the_last_slip_leaves_the_sale_open_and_empty_until_cancelled() {
    let mut s = Shell::new();
    s.scan(NOON, &ok("1", 1000));
    s.tender(500);
    let effects = s.send(Msg::Void {
        at: at(NOON),
        position: 1,
    });
    let [Effect::SlipVoided { total, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(*total, Yen::ZERO);
    // Still open, with no slips: tender is taken, complete is refused (nothing to pay).
    let sale = s.reg.open_sale().expect("the sale stays open");
    assert!(sale.slips().is_empty());
    assert_eq!(sale.voided().len(), 1);
    assert_eq!(
        s.tender(500),
        vec![Effect::Tendered {
            tendered: Yen::new(1000)
        }]
    );
    assert_eq!(s.complete(), vec![Effect::Ignored(Ignored::EmptySale)]);
    assert!(s.reg.open_sale().is_some());
    assert_eq!(
        s.send(Msg::Void {
            at: at(NOON),
            position: 1
        }),
        vec![Effect::Ignored(Ignored::NoSuchSlip)]
    );
    // Cancel ends it, with its void and the cash handed back.
    let effects = s.send(Msg::Cancel { at: at(NOON) });
    let [Effect::SaleCancelled(c)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(c.slips.is_empty());
    assert_eq!((c.voided.len(), c.tendered), (1, Yen::new(1000)));
    assert!(s.reg.open_sale().is_none());
}

#[test]
fn an_emptied_sale_takes_a_new_slip_and_completes_with_its_void() {
    let mut s = Shell::new();
    s.scan(NOON, &ok("1", 1000));
    s.send(Msg::Void {
        at: at(NOON),
        position: 1,
    });
    assert_eq!(rejected(&s.scan(NOON, &ok("2", 2000))), None);
    s.tender(2000);
    let effects = s.complete();
    let Effect::CommitSale { sale, voided } = &effects[0] else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (sale.total, sale.slips.len(), voided.len()),
        (Yen::new(2000), 1, 1)
    );
}

#[test]
fn the_day_closes_only_with_no_sale_open() {
    let mut s = Shell::new();
    s.scan(NOON, &ok("1", 1000));
    let close = Msg::Close {
        at: at(NOON),
        counted: Yen::new(31_000),
    };
    assert_eq!(
        s.send(close.clone()),
        vec![Effect::Ignored(Ignored::SaleOpen)]
    );
    s.tender(1000);
    s.complete();
    let effects = s.send(close);
    let [Effect::CloseDay(request)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(request.counted, Yen::new(31_000));
    assert_eq!(request.station, *s.reg.station());
}
