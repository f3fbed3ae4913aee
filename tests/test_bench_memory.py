"""The projection benchmark's peak memory is the measuring process's own, not its parent's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_measuring_child_does_not_report_the_memory_its_parent_held() -> None:
    held = bytearray(400 * 1024 * 1024)
    held[::4096] = b"\x01" * len(held[::4096])  # touch every page: resident, not just reserved
    code = "from benchmarks.bench_projections import rss_mb; print(rss_mb())"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    child_mb = float(done.stdout.strip())
    assert 5 < child_mb < 200, child_mb  # its own interpreter and imports, not the parent's 400 MB
    del held
