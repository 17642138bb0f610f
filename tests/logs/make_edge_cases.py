#!/usr/bin/env python3
"""Writes edge-cases.jsonl: a scan log touching every rule of docs/scan-log.md.

Its own check-digit code is independent of the Rust implementation on purpose: the log
checks the register, not itself. Expected counts are asserted in tests/it/replay_logs.rs.
Run: python3 tests/logs/make_edge_cases.py > tests/logs/edge-cases.jsonl
"""
import json
import sys

GS = "\x1d"


def check_digit(data43):
    # GS1 mod 10: weights 3,1,3,... from the rightmost data digit.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data43)))
    return str((10 - total % 10) % 10)


def code(company="912345", free="1", reissue=0, deadline="261231", stamp=0, amount=1200):
    data = f"91{company}{free:0<21}{reissue}{deadline}{stamp}{amount:06d}"
    assert len(data) == 43, data
    return data + check_digit(data)


lines = []


def ev(at, **event):
    lines.append(json.dumps({"at": at, **event}, ensure_ascii=False))


def raw(text):
    lines.append(text)


raw(json.dumps({"konbini_scan_log": 1, "terminal": "T09",
                "store": {"code": "0815", "chain": "familymart", "name": "ファミリーマート 札幌駅前店"}},
               ensure_ascii=False))
raw("")  # blank lines are skipped, not events

# Business date at the edge of midnight: 23:58 on 27 Nov in Japan.
A = code(free="100", deadline="261127", amount=1500)
ev("2026-11-27T23:58:00+09:00", tender=1000)                 # no_open_sale
ev("2026-11-27T23:58:01+09:00", complete=True)               # no_open_sale
ev("2026-11-27T23:58:02+09:00", cancel=True)                 # no_open_sale
ev("2026-11-27T23:58:10+09:00", scan="]C1" + A)              # accepted: due today (27th)
ev("2026-11-27T23:58:20+09:00", tender=2000)
ev("2026-11-27T23:58:30+09:00", complete=True)               # sale 1: 1500, change 500

# 15:01 UTC is 00:01 on the 28th in Japan: a slip due the 27th is now expired.
B = code(free="101", deadline="261127", amount=800)
ev("2026-11-27T15:01:00Z", scan="]C1" + B)                   # expired
# Malformed in every way the spec names.
good = code(free="102", deadline="261128", amount=2400)
ev("2026-11-28T00:02:00+09:00", scan="]C1" + good[:43])      # malformed: 43 digits
ev("2026-11-28T00:02:01+09:00", scan="]C1" + good + "0")     # malformed: 45 digits
ev("2026-11-28T00:02:02+09:00", scan="90" + good[2:])        # malformed: not AI 91
ev("2026-11-28T00:02:03+09:00", scan="]E0" + good)           # malformed: EAN-13 symbology
ev("2026-11-28T00:02:04+09:00", scan="]Q1" + good)           # malformed: QR symbology
bad_date = "91912345" + "103".ljust(21, "0") + "0" + "261131" + "0" + "001000"
ev("2026-11-28T00:02:05+09:00", scan=bad_date + check_digit(bad_date))  # malformed: 31 Nov
ev("2026-11-28T00:02:06+09:00", scan="]C1ABC" + good[3:])   # malformed: letters
ev("2026-11-28T00:02:07+09:00", scan="")                     # malformed: empty frame
wrong_cd = good[:43] + str((int(good[43]) + 1) % 10)
ev("2026-11-28T00:02:08+09:00", scan="]C1" + wrong_cd)       # check_digit

# Amount limits, both sides of each.
ev("2026-11-28T09:00:00+09:00", scan=code(free="110", amount=119))      # below_minimum
ev("2026-11-28T09:00:01+09:00", scan=code(free="111", amount=300001))   # above_maximum
MIN = code(free="112", deadline="261128", amount=120)                   # due today: accepted
MAX = code(free="113", deadline="999999", stamp=1, amount=300000)       # no deadline, stamp
ev("2026-11-28T09:00:02+09:00", scan="]C1" + MIN)            # opens sale 2
ev("2026-11-28T09:00:03+09:00", scan="]C1" + GS + MAX)       # GS as FNC1
ev("2026-11-28T09:00:04+09:00", scan=MIN)                    # already_in_sale (no AIM prefix)
ev("2026-11-28T09:00:05+09:00", scan="]C0" + MAX[:20] + GS + MAX[20:])  # already_in_sale
ev("2026-11-28T09:00:06+09:00", tender=300000)
ev("2026-11-28T09:00:07+09:00", complete=True)               # insufficient_tender (300120)
ev("2026-11-28T09:00:08+09:00", tender=120)
ev("2026-11-28T09:00:09+09:00", complete=True)               # sale 2: exact change

# Paid before, and key-ins (no network in a plain replay).
ev("2026-11-28T10:00:00+09:00", scan="]C1" + A)              # expired (sale 1 paid it, but check 3 comes first)
ev("2026-11-28T10:00:00.5+09:00", scan="]C1" + MIN)          # already_paid (sale 2)
ev("2026-11-28T10:00:01+09:00", key_in={"chain": "seven-eleven", "payment_code": "123456",
                                        "confirmation_number": "09012345678"})  # malformed
ev("2026-11-28T10:00:02+09:00", key_in={"chain": "lawson", "payment_code": "12a456",
                                        "confirmation_number": "09012345678"})  # malformed
ev("2026-11-28T10:00:03+09:00", key_in={"chain": "lawson", "payment_code": "123456",
                                        "confirmation_number": "090123456"})    # malformed
ev("2026-11-28T10:00:04+09:00", key_in={"chain": "lawson", "payment_code": "123456",
                                        "confirmation_number": "09012345678"})  # offline

# Lines that are not events of the forms: each a bad_line; replay goes on.
raw('{"at":"2026-11-28T10:01:00+09:00","scan":"9191')                  # truncated JSON
lines.append(b'{"at":"2026-11-28T10:01:01+09:00","scan":"\xff\xfe"}')   # not UTF-8
ev("2026-11-28T10:01:02+09:00", tender=0)                              # tender must be > 0
ev("2026-11-28T10:01:03+09:00", refund=100)                            # unknown event
ev("2026-11-28T10:01:04+09:00", tender=100, complete=True)             # two events
raw('{"tender": 100}')                                                 # no at
ev("2026-11-28T09:59:59+09:00", cancel=True)                           # at goes backwards
raw(json.dumps({"konbini_scan_log": 1, "terminal": "T10"}))            # header not first
raw("garbage")

# A cancelled sale, with a stamp slip that is therefore not counted.
ev("2026-11-28T11:00:00+09:00", scan="]C1" + code(free="120", stamp=1, amount=60000))
ev("2026-11-28T11:00:01+09:00", tender=100000)
ev("2026-11-28T11:00:02+09:00", cancel=True)                 # cancelled
ev("2026-11-28T11:00:03+09:00", complete=True)               # no_open_sale

# A full sale: 20 slips, the 21st refused.
for i in range(21):
    ev(f"2026-11-28T12:00:{i:02d}+09:00", scan="]C1" + code(company="959919", free=f"2{i:02d}", amount=1000 + i))
ev("2026-11-28T12:01:00+09:00", tender=50000)
ev("2026-11-28T12:01:01+09:00", complete=True)               # sale 3: 20 slips, 20190

# The log ends with a sale open: abandoned, nothing journaled.
ev("2026-11-28T13:00:00+09:00", scan="]C1" + code(free="300", amount=5000))
ev("2026-11-28T13:00:01+09:00", tender=5000)

out = sys.stdout.buffer
for line in lines:
    out.write(line if isinstance(line, bytes) else line.encode())
    out.write(b"\n")
