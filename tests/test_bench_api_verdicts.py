"""The HTTP benchmark's verdicts (benchmarks/bench_api.py): over several rounds a target is
judged on the median, so one noisy round neither passes nor fails it alone."""

from __future__ import annotations

from benchmarks.bench_api import render, verdicts


def _side(events_per_s: float, p50: float, p99: float) -> dict:
    return {"requests": 10, "requests_planned": 10, "req_per_s": events_per_s, "events_per_s": events_per_s,
            "p50_ms": p50, "p99_ms": p99, "cpu_ms_per_event": 0.1, "load_start": 0.5, "load_end": 0.5,
            "statuses": {"201": 10, "ok": 10}, "errors": []}


def _row(phase: str, round_: int, http: dict, raw: dict, rate: float | None = None, batch: bool = False) -> dict:
    return {"phase": phase, "round": round_, "workers": 16, "batch": batch, "events_per_request": 1,
            "rate": rate, "http": http, "raw": raw}


def _data(rows: list[dict], rounds: int) -> dict:
    return {"args": {"rounds": rounds, "warmup": 50}, "results": [{"backend": "sqlite", "rows": rows}]}


def test_over_several_rounds_each_target_is_judged_on_the_median() -> None:
    rows = []
    for round_, (batch_rate, http_rate, p99) in enumerate([(4_000, 300, 35.0), (6_000, 900, 9.0),
                                                          (5_500, 700, 12.0)], start=1):
        rows.append(_row("batch of 500", round_, _side(batch_rate, 80, 90), _side(6_000, 70, 80), batch=True))
        rows.append(_row("single, 16 clients", round_, _side(http_rate, 20, 40), _side(2_400, 5, 10)))
        rows.append(_row("paced 100 req/s", round_, _side(100, 5, p99), _side(100, 2, 4), rate=100.0))
    text = "\n".join(verdicts(_data(rows, 3)))
    assert "| p99 ≤ 20 ms at 100 req/s | sqlite | p99 median 12.0 ms of 3 rounds (9.0–35.0) | met |" in text
    assert "batch of 500: median 5,500 events/s of 3 rounds (4,000–6,000) | met |" in text
    # raw 2 400 events/s over HTTP 300 / 900 / 700: 8.00×, 2.67×, 3.43×; the median misses
    assert "single, 16 clients: median 3.43× of 3 rounds (2.67–8.00) | **missed** |" in text


def test_one_round_reads_as_before_and_rows_are_not_labelled_with_a_round() -> None:
    rows = [_row("batch of 500", 1, _side(5_040, 80, 90), _side(6_000, 70, 80), batch=True)]
    assert "| batches ≥ 5,000 events/s | sqlite | batch of 500: 5,040 events/s | met |" in verdicts(_data(rows, 1))
    data = {**_data(rows, 1), "machine": {"cpu": "x", "cores": 2, "memory": "1 GB", "python": "3.11",
                                          "versions": {}}, "date": "2026-11-22", "command": "bench",
            "load_start": 0.5, "load_end": 0.5, "seconds": 1}
    data["results"][0].update(journal_length_http=1, journal_length_raw=1, events_generated=1, seconds=1)
    assert "round" not in render(data).split("### sqlite")[1].split("### Targets")[0]
