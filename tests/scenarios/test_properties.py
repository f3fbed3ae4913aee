"""Properties of the read models over random valid histories, on both backends.

Hypothesis draws a valid event sequence for one catalogued agreement (allocation
decisions, requisitions, payouts, onward transfers, expense reports, repayments, reclaim
decisions and settlements, reports, deadline amendments, corrections, retractions and
the occasional agreement amendment) with random effective dates, and appends it in
random batches at increasing recorded times. Then:

(a) the trial balance (every visible posting summed) is zero for random (as_of, known_at)
    pairs, before, between and after the batches, and so is each agreement's own sum;
(b) the tables kept incrementally (postings and documents, and the journal index) are
    identical to a full ``rebuild()`` and to a replay in small catch-up batches;
(c) every report asked for one recipient (which reads only that recipient's rows and the
    agreement's own documents) gives exactly the recipient's rows of the report asked for
    everyone.

Each example gets a fresh database: a new SQLite file or a new PostgreSQL schema.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import catalogue
from ledger.application import Ledger
from ledger.config import database_config
from ledger.terms import Agreement
from projections import queries
from projections.state import Clock
from tests.conftest import POSTGRES_URL, _postgres_conninfo

AGREEMENTS = ("okad-tillganglighet-2021", "god-och-nara-vard-2024")
RECIPIENTS = ("skr", "region-stockholm", "region-uppsala", "region-gotland", "rss-stockholm", "rss-uppsala")
ROUTES = ("direct", "via_skr", "via_rss")
REPORT_KINDS = ("handlingsplan", "nulagesrapport", "verksamhetsrapport", "delrapport")
RECEIVERS = ("skr", "regeringskansliet", "kammarkollegiet", "socialstyrelsen")
OBLIGATIONS = ("requisition", "repayment", "ekonomisk_redovisning", "handlingsplan")
MONEY_KINDS = ("allocation_decided", "requisition_received", "payout_made", "onward_transfer_made",
               "expense_report_received", "repayment_received", "reclaim_decided", "reclaim_settled")
PRINCIPAL = "property-test"

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


class MovableClock:
    """The ledger's clock: "now" for each batch, moved forward by the test."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def fresh_ledger(backend: str, clock: MovableClock) -> Iterator[Ledger]:
    """A ledger on an empty database of the backend, dropped afterwards."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="ledger-prop-")
        app = Ledger(database_config(f"sqlite:///{folder}/ledger.sqlite"), clock=clock)
        try:
            yield app
        finally:
            app.close()
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"p_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_postgres_conninfo(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    app = Ledger(database_config(f"{POSTGRES_URL}{sep}schema={schema}"), clock=clock)
    try:
        yield app
    finally:
        app.close()
        with psycopg.connect(_postgres_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --- a random valid history -----------------------------------------------------------------------------------


@dataclass
class History:
    agreement: Agreement
    load_at: dt.datetime
    batches: list[tuple[dt.datetime, list[dict[str, Any]]]] = field(default_factory=list)

    @property
    def recorded_times(self) -> list[dt.datetime]:
        return [self.load_at] + [when for when, _ in self.batches]


amounts = st.integers(min_value=0, max_value=5_000_000_000)  # up to 50 MSEK, in öre


def _new_event(draw: st.DrawFn, agreement: Agreement, earlier: list[dict[str, Any]], day: str) -> dict[str, Any]:
    """One valid event; references point only at events drawn before it."""
    agreement_id = agreement.agreement_id
    part = draw(st.sampled_from(agreement.parts))
    recipient = draw(st.sampled_from(RECIPIENTS))
    base = {"event_id": str(uuid.uuid4()), "effective_date": day, "agreement_id": agreement_id}
    money = {**base, "part_id": part.part_id, "recipient_id": recipient, "amount": draw(amounts)}
    signed = {"agreement_dnr": draw(st.sampled_from(["S2023/00001", None])),
              "payment_decision_dnr": draw(st.sampled_from(["S2024/00002", None])),
              "signature": draw(st.sampled_from(["original", "copy", "electronic"]))}
    money_events = [e for e in earlier if e["kind"] in MONEY_KINDS]
    decisions = [e for e in earlier if e["kind"] == "reclaim_decided"]
    choices = ["allocation_decided", "requisition_received", "payout_made", "onward_transfer_made",
               "expense_report_received", "repayment_received", "reclaim_decided", "report_received",
               "deadline_amended", "payment_decision_made"]
    if decisions:
        choices.append("reclaim_settled")
    if money_events:
        choices += ["correction", "correction", "retraction"]
    kind = draw(st.sampled_from(choices))

    if kind == "allocation_decided":
        conditions = [c.condition_id for c in part.terms.performance_conditions]
        return {**money, "kind": kind, "route": draw(st.sampled_from(ROUTES)),
                "condition_id": draw(st.sampled_from([None, *conditions]))}
    if kind == "requisition_received":
        return {**money, **signed, "kind": kind}
    if kind == "payout_made":
        requisitions = [e["event_id"] for e in earlier if e["kind"] == "requisition_received"]
        return {**money, "kind": kind, "route": draw(st.sampled_from(ROUTES)),
                "requisition_event_id": draw(st.sampled_from([None, *requisitions]))}
    if kind == "onward_transfer_made":
        to = draw(st.sampled_from([{"to_name": "Kommunen"}, {"to_recipient_id": "region-uppsala"}]))
        return {**money, "kind": kind, **to}
    if kind == "expense_report_received":
        year = agreement.year + draw(st.sampled_from([0, 0, 0, 1]))
        received, costs = draw(amounts), draw(amounts)
        unspent = draw(st.sampled_from([max(0, received - costs), 0, received]))
        return {**base, **signed, "kind": kind, "part_id": draw(st.sampled_from([None, part.part_id])),
                "recipient_id": recipient, "period_start": f"{year}-01-01", "period_end": f"{year}-12-31",
                "received_amount": received, "total_costs": costs, "stated_unspent": unspent,
                "attestation": draw(st.sampled_from(["alt1", "alt2"]))}
    if kind == "repayment_received":
        return {**money, "kind": kind, "part_id": draw(st.sampled_from([None, part.part_id])),
                "reclaim_event_id": draw(st.sampled_from([None, *[d["event_id"] for d in decisions]]))}
    if kind == "reclaim_decided":
        return {**money, "kind": kind, "dnr": "S2025/00003",
                "reason": draw(st.sampled_from(["report_late_or_missing", "overpayment", "other"]))}
    if kind == "reclaim_settled":
        decision = draw(st.sampled_from(decisions))
        return {**base, "kind": kind, "part_id": decision["part_id"], "recipient_id": decision["recipient_id"],
                "amount": draw(amounts), "reclaim_event_id": decision["event_id"],
                "how": draw(st.sampled_from(["paid", "set_off", "waived"]))}
    if kind == "report_received":
        return {**base, "kind": kind, "report_kind": draw(st.sampled_from(REPORT_KINDS)),
                "part_id": draw(st.sampled_from([None, part.part_id])), "recipient_id": recipient,
                "received_by": draw(st.sampled_from(RECEIVERS))}
    if kind == "deadline_amended":
        new = dt.date.fromisoformat(day) + dt.timedelta(days=draw(st.integers(-30, 200)))
        return {**base, "kind": kind, "part_id": draw(st.sampled_from([None, part.part_id])),
                "recipient_id": draw(st.sampled_from([None, recipient])),
                "obligation": draw(st.sampled_from(OBLIGATIONS)), "new_deadline": new.isoformat(),
                "reason": "Ändrad tidsfrist"}
    if kind == "payment_decision_made":
        return {**base, "kind": kind, "instrument": "regeringsbeslut", "dnr": "S2024/00002",
                "part_id": draw(st.sampled_from([None, part.part_id]))}
    target = draw(st.sampled_from(money_events))
    if kind == "retraction":
        return {**base, "kind": "event_retracted", "retracted_event_id": target["event_id"],
                "reason": "Registrerad i fel"}
    corrected = {**target, "event_id": str(uuid.uuid4()), "effective_date": day, "corrects": target["event_id"]}
    if "amount" in corrected:
        corrected["amount"] = draw(amounts)
    if "total_costs" in corrected:
        corrected["total_costs"] = draw(amounts)
    return corrected


@st.composite
def histories(draw: st.DrawFn) -> History:
    agreement = catalogue.catalogue()[draw(st.sampled_from(AGREEMENTS))]
    loaded = catalogue.load_events([agreement])
    first_day = min(e.effective_date for e in loaded if e.kind == "agreement_decided")
    last_load_day = max(e.effective_date for e in loaded)
    load_at = dt.datetime.combine(last_load_day, dt.time(10), tzinfo=dt.timezone.utc)

    events: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=24))):
        day = first_day + dt.timedelta(days=draw(st.integers(min_value=0, max_value=640)))
        events.append(_new_event(draw, agreement, events, day.isoformat()))
    if draw(st.booleans()):  # a restated agreement somewhere in the history
        terms = agreement.model_dump(mode="json")
        for part in terms["parts"]:
            part["terms"]["deadline_policy"] = draw(st.sampled_from(["strict", "next_working_day"]))
        day = first_day + dt.timedelta(days=draw(st.integers(min_value=0, max_value=640)))
        amended = {"kind": "agreement_amended", "event_id": str(uuid.uuid4()), "effective_date": day.isoformat(),
                   "agreement": terms, "reason": "Tilläggsöverenskommelse"}
        events.insert(draw(st.integers(min_value=0, max_value=len(events))), amended)

    history = History(agreement, load_at)
    now, batch = load_at, []
    for index, item in enumerate(events):
        batch.append(item)
        if index == len(events) - 1 or draw(st.booleans()):
            latest = max(dt.date.fromisoformat(e["effective_date"]) for e in batch)
            step = dt.timedelta(minutes=draw(st.integers(min_value=1, max_value=60 * 24 * 60)))
            now = max(now + step, dt.datetime.combine(latest, dt.time(10), tzinfo=dt.timezone.utc))
            history.batches.append((now, batch))
            batch = []
    return history


def record(ledger: Ledger, clock: MovableClock, history: History) -> None:
    clock.now = history.load_at
    ledger.append(catalogue.load_events([history.agreement]), catalogue.LOADER_PRINCIPAL)
    for when, batch in history.batches:
        clock.now = when
        ledger.append(batch, PRINCIPAL)


@contextmanager
def recorded(backend: str, data: st.DataObject) -> Iterator[tuple[Ledger, History]]:
    """A fresh ledger of the backend holding a drawn history."""
    history = data.draw(histories(), label="history")
    clock = MovableClock(history.load_at)
    with fresh_ledger(backend, clock) as ledger:
        record(ledger, clock, history)
        yield ledger, history


@st.composite
def query_points(draw: st.DrawFn, history: History) -> list[tuple[str, str]]:
    """(as_of, known_at) pairs: at, just before and just after each batch, and anywhere."""
    times = history.recorded_times
    first, last = times[0] - dt.timedelta(days=400), times[-1] + dt.timedelta(days=30)
    moments = st.one_of(
        st.sampled_from(times),
        st.sampled_from(times).map(lambda t: t - dt.timedelta(microseconds=1)),
        st.sampled_from(times).map(lambda t: t + dt.timedelta(microseconds=1)),
        st.datetimes(min_value=first.replace(tzinfo=None), max_value=last.replace(tzinfo=None))
        .map(lambda t: t.replace(tzinfo=dt.timezone.utc)),
    )
    days = st.dates(min_value=first.date() - dt.timedelta(days=400), max_value=last.date() + dt.timedelta(days=400))
    pairs = draw(st.lists(st.tuples(days, moments), min_size=6, max_size=12))
    pairs.append((last.date() + dt.timedelta(days=3650), last))  # everything, as known at the end
    return [(day.isoformat(), moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"))
            for day, moment in pairs]


# --- (a) the trial balance is zero ------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(data=st.data())
def test_trial_balance_is_zero_for_any_as_of_and_known_at(backend: str, data: st.DataObject) -> None:
    with recorded(backend, data) as (ledger, history):
        for as_of, known_at in data.draw(query_points(history), label="points"):
            assert ledger.views.trial_balance(as_of, known_at) == 0, (as_of, known_at)
            per_agreement: dict[str, int] = {}
            for row in ledger.views.account_sums(as_of, known_at):
                per_agreement[row["agreement_id"]] = per_agreement.get(row["agreement_id"], 0) + int(row["amount"])
            assert set(per_agreement.values()) <= {0}, (as_of, known_at, per_agreement)


# --- (b) incremental == rebuild ---------------------------------------------------------------------------------


def snapshot(ledger: Ledger) -> tuple[dict[str, list[tuple[Any, ...]]], list[dict[str, Any]]]:
    return ledger.views.dump(), ledger.list_events()


@PROPERTY_SETTINGS
@given(data=st.data())
def test_incremental_views_equal_a_full_rebuild(backend: str, data: st.DataObject) -> None:
    with recorded(backend, data) as (ledger, _history):
        incremental = snapshot(ledger)
        assert incremental[1], "the journal index holds the recorded events"

        ledger.rebuild()
        assert snapshot(ledger) == incremental

        # Replaying in small catch-up batches gives the same tables too.
        batch_size = data.draw(st.integers(min_value=1, max_value=7), label="batch_size")
        for view in ledger.read_models:
            view.reset(ledger.name)
        ledger.catch_up(batch_size=batch_size)
        assert snapshot(ledger) == incremental


# --- (c) one recipient's report == its rows of everyone's -------------------------------------------------------

REPORTS = {"balances": queries.balances, "due_back": queries.due_back_list, "reclaims": queries.reclaims,
           "obligations": queries.obligation_list, "findings": queries.finding_list}


def recipients_rows(rows: list[dict[str, Any]], recipient: str) -> list[dict[str, Any]]:
    """A report's rows for one recipient, without the agreement totals (their "*" recipient)."""
    return [r for r in rows if r["recipient_id"] == recipient]


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_recipients_report_is_its_rows_of_everyones(backend: str, data: st.DataObject) -> None:
    with recorded(backend, data) as (ledger, history):
        agreement_id = history.agreement.agreement_id
        for as_of, known_at in data.draw(query_points(history), label="points"):
            when = Clock.of(as_of, known_at)
            for name, report in REPORTS.items():
                everyone = report(ledger.views, when, queries.Filters())
                for recipient in RECIPIENTS:
                    expected = recipients_rows(everyone, recipient)
                    for flt in (queries.Filters(recipient_id=recipient),
                                queries.Filters(agreement_id=agreement_id, recipient_id=recipient)):
                        assert recipients_rows(report(ledger.views, when, flt), recipient) == expected, \
                            (name, flt, as_of, known_at)
