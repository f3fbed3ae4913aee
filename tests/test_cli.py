"""The ``ledger`` command line: append from JSON Lines, list events, load agreements, help."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import ledger.cli as cli
from ledger.application import Ledger
from ledger.config import database_config

AGREEMENT = "god-och-nara-vard-2020"


@pytest.fixture(autouse=True)
def close_cli_ledgers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each CLI run opens a Ledger; close them so PostgreSQL connections do not pile up."""
    opened: list[Ledger] = []
    real_open = cli.open_ledger

    def tracking_open(url: str | None) -> Ledger:
        opened.append(real_open(url))
        return opened[-1]

    monkeypatch.setattr(cli, "open_ledger", tracking_open)
    yield
    for app in opened:
        app.close()


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.app, list(args))


def said(result: Any) -> str:
    """Everything the command printed (stdout and stderr), with rich's line wrapping undone."""
    return " ".join(result.output.split())


def payout(recipient: str = "region-skane", amount: int = 100_000, **fields: Any) -> dict[str, Any]:
    return {"kind": "payout_made", "event_id": str(uuid.uuid4()), "effective_date": "2020-06-15",
            "agreement_id": AGREEMENT, "part_id": "nara-vard", "recipient_id": recipient, "amount": amount, **fields}


def jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
                    encoding="utf-8")
    return path


def recorded_ids(url: str) -> set[str]:
    app = Ledger(database_config(url))
    try:
        app.catch_up()
        return {row["event_id"] for row in app.list_events()}
    finally:
        app.close()


# --- append -----------------------------------------------------------------------------------


def test_append_records_every_line_of_a_good_file(loaded_ledger: Ledger, database_url: str, tmp_path: Path):
    events = [payout(), payout("region-stockholm"), payout(amount=1)]
    position = loaded_ledger.head()[0] + 3
    result = run("append", str(jsonl(tmp_path / "in.jsonl", events)), "--principal", "ekonomi",
                 "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert f"Recorded 3 events; journal position {position}" in said(result)
    loaded_ledger.catch_up()
    for e in events:
        stored = loaded_ledger.index.event(e["event_id"])
        assert (stored["recorded_by"], stored["payload"]["amount"]) == ("ekonomi", e["amount"])


def test_append_in_several_batches_records_the_whole_file(loaded_ledger: Ledger, database_url: str, tmp_path: Path):
    events = [payout(amount=i) for i in range(1, 6)]
    result = run("append", str(jsonl(tmp_path / "in.jsonl", events)), "--batch-size", "2",
                 "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert {e["event_id"] for e in events} <= recorded_ids(database_url)


def test_append_reports_every_bad_line_and_records_nothing(loaded_ledger: Ledger, database_url: str, tmp_path: Path):
    good = [payout(), payout("region-stockholm")]
    lines = [good[0], '{"kind": "payout_made", "amount": 5', good[1], payout(amount=-100)]
    before = recorded_ids(database_url)
    result = run("append", str(jsonl(tmp_path / "in.jsonl", lines)), "--database-url", database_url)
    assert result.exit_code == 1
    assert "line 2: not valid JSON" in said(result)
    assert "line 4: amount:" in said(result)
    assert "line 1" not in said(result) and "line 3" not in said(result)
    assert "2 problem(s)" in said(result) and "nothing was recorded" in said(result)
    assert recorded_ids(database_url) == before


def test_append_reports_journal_problems_with_their_line_numbers(loaded_ledger: Ledger, database_url: str,
                                                               tmp_path: Path):
    lines = [payout(), "", payout("region-atlantis"), payout(part_id="okand-del")]
    before = recorded_ids(database_url)
    result = run("append", str(jsonl(tmp_path / "in.jsonl", lines)), "--database-url", database_url)
    assert result.exit_code == 1
    assert "line 3: recipient_id: unknown recipient 'region-atlantis'" in said(result)
    assert "line 4: part_id:" in said(result)
    assert recorded_ids(database_url) == before


def test_append_of_a_missing_file_fails(database_url: str, tmp_path: Path):
    result = run("append", str(tmp_path / "nowhere.jsonl"), "--database-url", database_url)
    assert result.exit_code != 0


# --- events -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2022, 1, 10, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def history(database_url: str) -> Iterator[dict[str, dict[str, Any]]]:
    """The 2020 agreement loaded on 2022-01-10, then events recorded either side of Stockholm's midnight."""
    clock = Clock()
    app = Ledger(database_config(database_url), clock=clock)
    app.load_agreements([AGREEMENT])
    events = {
        "skane": payout("region-skane", 19_143_474_300, effective_date="2020-06-15"),
        "requisition": {**payout("region-skane", 19_143_474_300, effective_date="2020-05-04", signature="original"),
                        "kind": "requisition_received"},
        "stockholm": payout("region-stockholm", 33_019_896_000, effective_date="2021-01-20"),
    }
    clock.now = dt.datetime(2022, 2, 15, 22, 59, tzinfo=dt.timezone.utc)  # 23:59 on 15 Feb in Stockholm
    app.append([events["skane"], events["requisition"]], "ekonomi")
    clock.now = dt.datetime(2022, 2, 15, 23, 30, tzinfo=dt.timezone.utc)  # 00:30 on 16 Feb in Stockholm
    app.append([events["stockholm"]], "ekonomi")
    app.close()
    yield events


def csv_rows(result: Any) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def json_rows(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_events_csv_filtered_by_kind(history, database_url: str):
    rows = csv_rows(run("events", "--kind", "payout_made", "--format", "csv", "--database-url", database_url))
    assert [(r["kind"], r["recipient_id"], r["amount"]) for r in rows] == [
        ("payout_made", "region-skane", "19143474300"),
        ("payout_made", "region-stockholm", "33019896000"),
    ]
    assert [r["event_id"] for r in rows] == [history["skane"]["event_id"], history["stockholm"]["event_id"]]


def test_events_json_filtered_by_agreement(history, database_url: str):
    rows = json_rows(run("events", "--agreement", AGREEMENT, "--format", "json", "--database-url", database_url))
    assert {r["agreement_id"] for r in rows} == {AGREEMENT}
    assert [r["kind"] for r in rows][0] == "agreement_decided"
    assert [r["event_id"] for r in rows][-3:] == [history[k]["event_id"] for k in ("skane", "requisition", "stockholm")]
    assert rows[-1]["payload"]["amount"] == 33_019_896_000
    positions = [r["position"] for r in rows]
    assert positions == sorted(positions)


def test_events_of_an_unknown_agreement_is_an_empty_list(history, database_url: str):
    assert json_rows(run("events", "--agreement", "okand", "--format", "json", "--database-url", database_url)) == []


def test_events_as_of_keeps_what_was_effective_by_then(history, database_url: str):
    rows = json_rows(run("events", "--agreement", AGREEMENT, "--as-of", "2020-12-31", "--format", "json",
                         "--database-url", database_url))
    ids = {r["event_id"] for r in rows}
    assert history["skane"]["event_id"] in ids and history["requisition"]["event_id"] in ids
    assert history["stockholm"]["event_id"] not in ids
    assert all(r["effective_date"] <= "2020-12-31" for r in rows)
    rows = json_rows(run("events", "--agreement", AGREEMENT, "--as-of", "2020-06-14", "--kind", "payout_made",
                         "--format", "json", "--database-url", database_url))
    assert rows == []


def test_events_known_at_a_date_means_the_end_of_that_stockholm_day(history, database_url: str):
    rows = csv_rows(run("events", "--kind", "payout_made", "--known-at", "2022-02-15", "--format", "csv",
                        "--database-url", database_url))
    assert [r["recipient_id"] for r in rows] == ["region-skane"]
    rows = csv_rows(run("events", "--kind", "payout_made", "--known-at", "2022-02-16", "--format", "csv",
                        "--database-url", database_url))
    assert [r["recipient_id"] for r in rows] == ["region-skane", "region-stockholm"]


def test_events_known_at_before_anything_was_recorded_is_empty(history, database_url: str):
    assert csv_rows(run("events", "--known-at", "2022-01-09", "--format", "csv", "--database-url", database_url)) == []


def test_events_known_at_an_instant(history, database_url: str):
    rows = json_rows(run("events", "--known-at", "2022-02-15T23:00:00+00:00", "--kind", "payout_made",
                         "--format", "json", "--database-url", database_url))
    assert [r["recipient_id"] for r in rows] == ["region-skane"]


def test_events_filters_combine(history, database_url: str):
    rows = csv_rows(run("events", "--kind", "requisition_received", "--agreement", AGREEMENT, "--as-of",
                        "2021-12-31", "--known-at", "2022-02-15", "--format", "csv", "--database-url", database_url))
    assert [r["event_id"] for r in rows] == [history["requisition"]["event_id"]]


@pytest.mark.parametrize("option", ["--as-of", "--known-at"])
def test_events_refuses_a_time_that_is_not_a_date(history, database_url: str, option: str):
    result = run("events", option, "31/3 2022", "--database-url", database_url)
    assert result.exit_code == 2
    assert "31/3 2022" in said(result)


def test_events_table_is_the_default_format(history, database_url: str):
    result = run("events", "--kind", "payout_made", "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert "Händelser (events)" in said(result)
    assert "agreement_decided" not in said(result)


# --- agreements load --------------------------------------------------------------------------


def test_agreements_load_twice_is_idempotent(database_url: str):
    first = run("agreements", "load", "--database-url", database_url)
    assert first.exit_code == 0, first.output
    app = Ledger(database_config(database_url))
    try:
        app.catch_up()
        head = app.head()
        assert head[0] > 0
        assert f"Recorded {head[0]} new events (loaded)" in said(first)
        second = run("agreements", "load", "--database-url", database_url)
        assert second.exit_code == 0, second.output
        assert "Recorded 0 new events (already loaded)" in said(second)
        app.catch_up()
        assert app.head() == head
        assert app.verify().ok
    finally:
        app.close()


def test_agreements_load_one_then_all_adds_only_the_rest(database_url: str):
    assert run("agreements", "load", AGREEMENT, "--database-url", database_url).exit_code == 0
    app = Ledger(database_config(database_url))
    try:
        app.catch_up()
        assert app.index.agreement_ids() == [AGREEMENT]
        assert run("agreements", "load", "--database-url", database_url).exit_code == 0
        app.catch_up()
        ids = [r["event_id"] for r in app.list_events()]
        assert len(ids) == len(set(ids))
        assert AGREEMENT in app.index.agreement_ids() and len(app.index.agreement_ids()) > 1
    finally:
        app.close()


def test_agreements_load_of_an_unknown_agreement_fails(database_url: str):
    result = run("agreements", "load", "okand-2030", "--database-url", database_url)
    assert result.exit_code == 2
    assert "unknown agreement okand-2030" in said(result)


# --- help -------------------------------------------------------------------------------------


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], bool]]:
    """(path, is a group) for the root and every command below it."""
    subcommands = getattr(command, "commands", None)
    yield path, subcommands is not None
    for name, sub in (subcommands or {}).items():
        yield from command_paths(sub, (*path, name))


COMMANDS = dict(command_paths(typer.main.get_command(cli.app)))


def test_the_core_commands_exist():
    assert {("append",), ("events",), ("verify",), ("agreements", "load"), ("serve",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "ledger")
def test_every_command_has_help(path: tuple[str, ...]):
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in said(result)
    if not COMMANDS[path]:  # every command that does something says where the ledger is
        assert "--database-url" in said(result)


def test_cli_csv_neutralises_spreadsheet_formulas_but_keeps_numbers():
    from ledger.cli import _cell

    assert _cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert _cell("@SUM(A1)") == "'@SUM(A1)" and _cell("-1+1") == "'-1+1"
    assert _cell(-1500) == "-1500" and _cell("Region Skåne") == "Region Skåne"


def test_the_first_keys_are_printed_once_with_a_curl_example_for_the_servers_own_address(ledger: Ledger):
    with cli.console.capture() as first:
        cli.first_run_keys(ledger, "http://127.0.0.1:8765")
    printed = first.get()
    auditor = printed.split("auditor (reads everything, writes nothing):")[1].split()[0]
    assert f"Bearer {auditor}' http://127.0.0.1:8765/v1/balances" in printed
    assert "8000" not in printed
    with cli.console.capture() as again:
        cli.first_run_keys(ledger, "http://127.0.0.1:8765")
    assert again.get() == ""  # keys exist now: nothing is created or shown
