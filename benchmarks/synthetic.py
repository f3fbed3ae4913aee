"""A realistic, deterministic synthetic history for the benchmarks.

Years of agreements are copied from the catalogue's five real agreements (new
agreement ids, every date in the terms shifted to the new year), over SKR, the 21
regions, the 21 regional support structures (RSS) and 290 synthetic municipalities
(``kommun-001`` .. ``kommun-290``, registered with ``recipient_registered``). Each
allocation row gets a requisition and a payout; rows paid via an RSS or via SKR are
passed on to municipalities in two tranches (``onward_transfer_made`` with
``to_recipient_id``); each recipient files an expense report the next spring, repays
unspent funds, and a few are reclaimed. Some events are corrected later (``corrects``),
some restated, a few retracted, and some are recorded long after their effective date
(back-dated). The ledger's clock is simulated: each batch is recorded at the time its
events became known, so ``known_at`` queries see a realistic growing history.

Everything is drawn from ``random.Random(seed)``; the same size and seed give the same
events (ids are uuid5 of a counter). No effective date or recorded time is after
``HORIZON`` (a fixed date no later than the day the benchmarks were written), so the
ledger's "not after today" rule holds on any later day.

Events are appended with ``Ledger.append`` in batches of up to 5 000 (one month of the
simulated clock at most), which also keeps the
journal index and the read models current. Generated databases are cached under
``/tmp/ledger-bench/`` (SQLite files; PostgreSQL schemas with a marker file), so re-runs
reuse them.

    python -m benchmarks.synthetic --size 100000 --backend sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

CACHE_DIR = Path("/tmp/ledger-bench")
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 5_000
SEED = 20_170_101
HORIZON = dt.date(2026, 11, 20)  # nothing effective or recorded after this day
YEARS = tuple(range(2017, 2027))  # agreement years; later years would need future dates
MUNICIPALITIES = 290
PRINCIPAL = "benchmark-generator"

COUNTIES = (
    "stockholm", "uppsala", "sormland", "ostergotland", "jonkoping", "kronoberg", "kalmar", "gotland",
    "blekinge", "skane", "halland", "vastra-gotaland", "varmland", "orebro", "vastmanland", "dalarna",
    "gavleborg", "vasternorrland", "jamtland-harjedalen", "vasterbotten", "norrbotten",
)
REGIONS = tuple("region-" + c for c in COUNTIES)
RSS = tuple("rss-" + c for c in COUNTIES)
REFERENCES = ("corrects", "retracted_event_id", "requisition_event_id", "reclaim_event_id")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def municipality_ids() -> list[str]:
    return [f"kommun-{i:03d}" for i in range(1, MUNICIPALITIES + 1)]


def county_of_municipality(index: int) -> str:
    return COUNTIES[index % len(COUNTIES)]


def municipalities_by_county() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {c: [] for c in COUNTIES}
    for i, m in enumerate(municipality_ids()):
        out[county_of_municipality(i)].append(m)
    return out


# --- databases -------------------------------------------------------------------------


def sqlite_path(size: int) -> Path:
    return CACHE_DIR / f"ledger-{size}.sqlite"


def postgres_schema(size: int) -> str:
    return f"bench_{size}"


def database_url(backend: str, size: int) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_path(size)}"
    return f"{POSTGRES_URL}?schema={postgres_schema(size)}"


def marker(backend: str, size: int) -> Path:
    return CACHE_DIR / f"{backend}-{size}.done"


def is_cached(backend: str, size: int) -> bool:
    return marker(backend, size).exists()


def _fresh_database(backend: str, size: int) -> None:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    marker(backend, size).unlink(missing_ok=True)
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(sqlite_path(size)) + suffix).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{postgres_schema(size)}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{postgres_schema(size)}"')


# --- the history ----------------------------------------------------------------------


def _shift_date(text: str, years: int) -> str:
    y, m, d = (int(x) for x in DATE_RE.match(text).groups())  # type: ignore[union-attr]
    if m == 2 and d == 29:
        d = 28
    return dt.date(y + years, m, d).isoformat()


def _shift(value: Any, years: int) -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, years) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, years) for v in value]
    if isinstance(value, str) and DATE_RE.match(value):
        return _shift_date(value, years)
    return value


def synthetic_agreement(template: Any, year: int, serial: int) -> dict[str, Any]:
    """A copy of a catalogue agreement for another year, with its own id and shifted dates."""
    data = template.model_dump(mode="json")
    data = _shift(data, year - template.year)
    base = re.sub(r"-\d{4}$", "", template.agreement_id)
    data["agreement_id"] = f"{base}-{year}-s{serial:03d}"
    data["year"] = year
    data["title"] = f"{data['title']} (syntetisk {year} nr {serial})"
    return data


@dataclass(order=True)
class Planned:
    """An event with the day it becomes known to the ledger (its recorded day)."""

    known: dt.date
    seq: int
    event: dict[str, Any] = field(compare=False)


class History:
    """Builds the planned events of one synthetic history."""

    def __init__(self, seed: int = SEED):
        self.rng = random.Random(seed)
        self.seq = 0
        self.planned: list[Planned] = []
        self.by_county = municipalities_by_county()
        self.municipalities = municipality_ids()
        self.known_day: dict[str, dt.date] = {}  # event or agreement id -> day it becomes known

    # helpers
    def _id(self) -> str:
        self.seq += 1
        return str(uuid5(NAMESPACE_URL, f"urn:grant-ledger:bench:{self.seq}"))

    def _day(self, day: dt.date) -> dt.date:
        return min(day, HORIZON)

    def add(self, event: dict[str, Any], known: dt.date | None = None) -> dict[str, Any] | None:
        """Plan an event; dropped when it would lie after the horizon.

        It becomes known no earlier than its effective date, its agreement's decision and
        the events it names (so every reference points back in the journal).
        """
        effective = dt.date.fromisoformat(event["effective_date"])
        if effective > HORIZON:
            return None
        known = max(known or effective, effective)
        if event["kind"] != "agreement_decided" and self.rng.random() < 0.05:
            known = known + dt.timedelta(days=self.rng.randint(30, 300))  # back-dated: recorded late
        agreement_id = event.get("agreement_id") or event["agreement"]["agreement_id"]
        names = [agreement_id] + [event[r] for r in REFERENCES if event.get(r)]
        known = self._day(max([known] + [self.known_day[n] for n in names if n in self.known_day]))
        self.known_day[event["event_id"]] = known
        if event["kind"] == "agreement_decided":
            self.known_day[agreement_id] = known
        self.planned.append(Planned(known, self.seq, event))
        return event

    def _date(self, year: int, month: int, day: int, spread: int = 20) -> dt.date:
        return dt.date(year, month, day) + dt.timedelta(days=self.rng.randint(0, spread))

    def _maybe_correct(self, event: dict[str, Any], known: dt.date) -> None:
        """~2 %: a later correction with a different amount; ~0.3 %: a retraction."""
        r = self.rng.random()
        if r < 0.02 and "amount" in event:
            fixed = dict(event)
            fixed["event_id"] = self._id()
            fixed["corrects"] = event["event_id"]
            fixed["amount"] = max(1, int(event["amount"] * self.rng.uniform(0.9, 1.1)))
            fixed["note"] = "Rättelse: fel belopp"
            fixed.pop("requisition_event_id", None)
            self.add(fixed, known + dt.timedelta(days=self.rng.randint(5, 400)))
        elif r < 0.023:
            self.add({
                "kind": "event_retracted", "event_id": self._id(), "effective_date": event["effective_date"],
                "agreement_id": event["agreement_id"], "retracted_event_id": event["event_id"],
                "reason": "Registrerad i fel ärende",
            }, known + dt.timedelta(days=self.rng.randint(5, 200)))

    # the agreements
    def agreement(self, template: Any, year: int, serial: int) -> None:
        data = synthetic_agreement(template, year, serial)
        aid = data["agreement_id"]
        decided = self._date(year, 1, 10, 40)
        if decided > HORIZON:
            return
        self.add({"kind": "agreement_decided", "event_id": self._id(), "effective_date": decided.isoformat(),
                  "agreement": data, "decided_by": "parties", "dnr": f"S{year}/{serial:05d}/FS"}, decided)
        self.add({"kind": "agreement_approved", "event_id": self._id(),
                  "effective_date": (decided + dt.timedelta(days=7)).isoformat(), "agreement_id": aid,
                  "body": "government", "dnr": f"S{year}/{serial:05d}/FS"})
        for part in data["parts"]:
            pid = part["part_id"]
            self.add({"kind": "payment_decision_made", "event_id": self._id(),
                      "effective_date": self._date(year, 2, 1).isoformat(), "agreement_id": aid, "part_id": pid,
                      "instrument": "regeringsbeslut", "dnr": f"S{year}/{serial:05d}/{pid[:6]}"})
            rows = [r for t in part.get("tables", []) if t.get("role", "allocation") == "allocation"
                    for r in t.get("rows", [])]
            for table in part.get("tables", []):
                if table.get("blank") and table.get("role", "allocation") == "allocation":
                    rows.extend(self._allocate_blank(aid, pid, table, year))
            for row in rows:
                self._row(aid, pid, row, year)
            if self.rng.random() < 0.1:
                self.add({"kind": "deadline_amended", "event_id": self._id(),
                          "effective_date": self._date(year, 10, 1).isoformat(), "agreement_id": aid,
                          "part_id": pid, "obligation": "ekonomisk_redovisning",
                          "new_deadline": dt.date(year + 1, 4, 30).isoformat(), "reason": "Förlängd tidsfrist"})

    def _allocate_blank(self, aid: str, pid: str, table: dict[str, Any], year: int) -> list[dict[str, Any]]:
        total = table.get("blank_amount_kr") or 0
        share = max(1, total // len(REGIONS))
        rows = []
        for region in REGIONS:
            self.add({"kind": "allocation_decided", "event_id": self._id(),
                      "effective_date": self._date(year, 2, 15).isoformat(), "agreement_id": aid, "part_id": pid,
                      "recipient_id": region, "amount": share * 100, "route": "direct",
                      "table_id": table["table_id"], "basis": "Befolkningsunderlag"})
            rows.append({"recipient_id": region, "route": "direct", "amount_kr": share})
        return rows

    def _row(self, aid: str, pid: str, row: dict[str, Any], year: int) -> None:
        rng = self.rng
        recipient, route = row["recipient_id"], row.get("route", "direct")
        amount = max(100, row["amount_kr"] * 100)
        req_day = self._date(year, 3, 1, 60)
        req = self.add({"kind": "requisition_received", "event_id": self._id(),
                        "effective_date": req_day.isoformat(), "agreement_id": aid, "part_id": pid,
                        "recipient_id": recipient, "amount": amount, "signature": "original",
                        "agreement_dnr": f"S{year}/00001/FS", "reference": f"KK-REK-{year}-{self.seq}"})
        if req is None:
            return
        self._maybe_correct(req, req_day)
        pay_day = req_day + dt.timedelta(days=rng.randint(5, 30))
        payout = self.add({"kind": "payout_made", "event_id": self._id(), "effective_date": pay_day.isoformat(),
                           "agreement_id": aid, "part_id": pid, "recipient_id": recipient, "amount": amount,
                           "route": route, "requisition_event_id": req["event_id"],
                           "payment_reference": f"KK-UTB-{self.seq}"})
        if payout is None:
            return
        self._maybe_correct(payout, pay_day)
        passed = 0
        if route in ("via_rss", "via_skr") or recipient.startswith("rss-"):
            passed = self._onward(aid, pid, recipient, amount, pay_day, year)
        # the expense report, next spring
        report_day = self._date(year + 1, 2, 15, 50)
        costs = int((amount - passed) * rng.uniform(0.85, 1.0))
        unspent = amount - passed - costs
        report = {"kind": "expense_report_received", "event_id": self._id(),
                  "effective_date": report_day.isoformat(), "agreement_id": aid, "part_id": pid,
                  "recipient_id": recipient, "period_start": f"{year}-01-01", "period_end": f"{year}-12-31",
                  "received_amount": amount, "total_costs": costs, "stated_unspent": unspent,
                  "cost_items": [{"label": "Personal", "amount": costs // 2},
                                 {"label": "Övrigt", "amount": costs - costs // 2}],
                  "attestation": "alt1" if rng.random() < 0.95 else "alt2", "signature": "original"}
        if rng.random() < 0.03:  # never reported: reclaimed instead
            self._reclaim(aid, pid, recipient, amount // 10, dt.date(year + 1, 9, 15), "report_late_or_missing")
            return
        if self.add(report) is None:
            return
        if rng.random() < 0.01:  # a restated report for the same period
            restated = dict(report, event_id=self._id(), total_costs=costs - 1000, stated_unspent=unspent + 1000,
                            cost_items=[{"label": "Personal", "amount": costs - 1000}],
                            effective_date=(report_day + dt.timedelta(days=20)).isoformat())
            self.add(restated)
        if unspent > 0:
            self.add({"kind": "repayment_received", "event_id": self._id(),
                      "effective_date": self._date(year + 1, 3, 20, 25).isoformat(), "agreement_id": aid,
                      "part_id": pid, "recipient_id": recipient, "amount": unspent,
                      "reference": f"KK-INB-{self.seq}"})
        if rng.random() < 0.02:
            self._reclaim(aid, pid, recipient, max(100, amount // 20), self._date(year + 1, 8, 1, 90),
                          "not_used_for_purpose")

    def _onward(self, aid: str, pid: str, recipient: str, amount: int, start: dt.date, year: int) -> int:
        """Two tranches passed on to the municipalities of the county (or, for SKR, to any)."""
        rng = self.rng
        if recipient.startswith("rss-"):
            receivers = self.by_county.get(recipient[4:], [])
        else:
            receivers = rng.sample(self.municipalities, 30)
        if not receivers:
            return 0
        tranches = 2
        per = amount * 9 // 10 // (len(receivers) * tranches)
        if per <= 0:
            return 0
        passed = 0
        for t in range(tranches):
            day = start + dt.timedelta(days=14 + 120 * t + rng.randint(0, 5))
            for municipality in receivers:
                event = self.add({"kind": "onward_transfer_made", "event_id": self._id(),
                                  "effective_date": day.isoformat(), "agreement_id": aid, "part_id": pid,
                                  "recipient_id": recipient, "to_recipient_id": municipality, "amount": per})
                if event is not None:
                    passed += per
                    self._maybe_correct(event, day)
        return passed

    def _reclaim(self, aid: str, pid: str, recipient: str, amount: int, day: dt.date, reason: str) -> None:
        decided = self.add({"kind": "reclaim_decided", "event_id": self._id(), "effective_date": day.isoformat(),
                            "agreement_id": aid, "part_id": pid, "recipient_id": recipient, "amount": amount,
                            "dnr": f"S{day.year}/{self.seq:05d}", "reason": reason})
        if decided is not None and self.rng.random() < 0.7:
            self.add({"kind": "reclaim_settled", "event_id": self._id(),
                      "effective_date": (day + dt.timedelta(days=self.rng.randint(20, 90))).isoformat(),
                      "agreement_id": aid, "part_id": pid, "recipient_id": recipient, "amount": amount,
                      "reclaim_event_id": decided["event_id"], "how": "paid"})


def municipality_events() -> list[dict[str, Any]]:
    return [
        {"kind": "recipient_registered", "event_id": str(uuid5(NAMESPACE_URL, f"urn:grant-ledger:bench:{m}")),
         "effective_date": "1971-01-01", "recipient_id": m, "recipient_kind": "municipality",
         "name": f"Kommun {m[-3:]}", "county": f"{county_of_municipality(i).replace('-', ' ').title()} län"}
        for i, m in enumerate(municipality_ids())
    ]


def catalogue_events() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The catalogue's events: (registrations, recorded first; the rest, planned on their dates)."""
    from ledger import catalogue

    events = [e.model_dump(mode="json") for e in catalogue.load_events(catalogue.select(None))]
    first = [e for e in events if e["kind"] == "recipient_registered"]
    return first, [e for e in events if e["kind"] != "recipient_registered"]


def plan(size: int, setup_events: int, seed: int = SEED) -> list[Planned]:
    """The planned events of a journal of ``size`` entries, after ``setup_events`` registrations.

    Agreements are added round-robin over years and templates until there are enough
    events; the last agreement's events are cut in generation order (which keeps every
    reference pointing back), then everything is ordered by the day it becomes known.
    """
    from ledger.catalogue import catalogue

    templates = list(catalogue().values())
    history = History(seed)
    target = size - setup_events
    for event in catalogue_events()[1]:  # the real agreements and renames, on their own dates
        day = dt.date.fromisoformat(event["effective_date"])
        history.planned.append(Planned(day, 0, event))
    serial = 0
    while len(history.planned) < target:
        year = YEARS[serial % len(YEARS)]
        template = templates[(serial // len(YEARS) + serial) % len(templates)]
        history.agreement(template, year, serial)
        serial += 1
    planned = sorted(history.planned, key=lambda p: p.seq)[:target]
    while True:  # a cut may drop an event that a kept one names: drop those few as well
        kept = {p.event["event_id"] for p in planned}
        keep = [p for p in planned if all(p.event.get(r) is None or p.event[r] in kept for r in REFERENCES)]
        if len(keep) == len(planned):
            return sorted(planned)
        planned = keep


# --- generation -----------------------------------------------------------------------


class SimClock:
    """The ledger's clock during generation: the day the current batch becomes known."""

    def __init__(self) -> None:
        self.now = dt.datetime(2016, 12, 1, 12, tzinfo=dt.timezone.utc)

    def set_day(self, day: dt.date) -> None:
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc)
        self.now = max(moment, self.now + dt.timedelta(seconds=1))

    def __call__(self) -> dt.datetime:
        return self.now


def batches(planned: list[Planned], size: int = BATCH) -> Iterator[list[Planned]]:
    """Batches of at most ``size`` events, never spanning two months of the simulated clock.

    A batch is recorded at one instant (the last day it covers), so splitting at month
    boundaries keeps every recorded time within a month of when its event became known
    and ``known_at`` queries see a history that grows month by month.
    """
    batch: list[Planned] = []
    for item in planned:
        if batch and (len(batch) >= size or (item.known.year, item.known.month) != (
                batch[0].known.year, batch[0].known.month)):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def generate(backend: str, size: int, seed: int = SEED, log: Any = print) -> str:
    """Build (or reuse) the database of ``size`` journal entries; returns its URL."""
    from ledger.application import Ledger
    from ledger.config import database_config

    url = database_url(backend, size)
    if is_cached(backend, size):
        log(f"[{backend} {size}] cached: {url}")
        return url
    _fresh_database(backend, size)
    clock = SimClock()
    ledger = Ledger(database_config(url), clock=clock)
    started = time.perf_counter()
    try:
        clock.set_day(dt.date(2017, 1, 2))
        ledger.append(catalogue_events()[0], "catalogue-loader")
        ledger.append(municipality_events(), PRINCIPAL)
        setup = ledger.head()[0]
        planned = plan(size, setup, seed)
        last_log = 0
        log(f"[{backend} {size}] planned {len(planned)} events after {setup} setup entries "
            f"({time.perf_counter() - started:.1f}s)")
        done = setup
        for batch in batches(planned):
            clock.set_day(batch[-1].known)
            ledger.append([p.event for p in batch], PRINCIPAL)
            done += len(batch)
            elapsed = time.perf_counter() - started
            if done - last_log < 10_000 and done < size:
                continue
            last_log = done
            log(f"[{backend} {size}] {done}/{size} entries, {elapsed:.0f}s, {done / elapsed:.0f} events/s, "
                f"known {batch[-1].known}")
        length = ledger.head()[0]
    finally:
        ledger.close()
    marker(backend, size).write_text(json.dumps({
        "size": size, "entries": length, "seed": seed, "seconds": round(time.perf_counter() - started, 1),
    }))
    log(f"[{backend} {size}] done: {length} entries in {time.perf_counter() - started:.0f}s")
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, action="append", required=True, help="journal entries (repeatable)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append", required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = parser.parse_args(argv)
    for size in args.size:
        for backend in args.backend:
            if args.force:
                marker(backend, size).unlink(missing_ok=True)
            generate(backend, size, args.seed, log=lambda m: print(m, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
