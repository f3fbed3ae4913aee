"""benchmarks/bench_floor.py: the precomputed read hands back exactly the lines it was given,
and the table's medians are the medians of the rows."""

from __future__ import annotations

from benchmarks import bench_floor


def _line(n: int) -> dict:
    line = {column: n for column in bench_floor.LINE_COLUMNS}
    line.update(agreement_id=f"agreement-{n}", part_id=None, recipient_id=f"region-{n}", route="direct")
    return line


def test_precomputed_lines_are_read_back_whole() -> None:
    lines = [_line(n) for n in range(50)]
    assert bench_floor.read_lines(bench_floor.stored_lines(lines)) == lines
    assert bench_floor.precomputed_read_ms(lines, repeats=3) > 0


def test_the_table_gives_each_columns_median() -> None:
    rows = [{"as_of": "2020-01-01", "known_at": "2020-02-01", "lines": 10, "groups": 70, "report_ms": ms,
             "sums_ms": ms / 2, "precomputed_ms": ms / 10, "load": 1.0} for ms in (100.0, 300.0, 200.0)]
    table = bench_floor.render("sqlite:///x", rows)
    assert "| **median** | | | **200** | **100** | **20.0** | |" in table
    assert table.count("\n| 2020-01-01 |") == 3
