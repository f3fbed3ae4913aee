"""The benchmarks are scripts, not tests: pytest must never collect them."""

collect_ignore_glob = ["*.py"]
