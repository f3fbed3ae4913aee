"""What every rendering states about its report: the clocks, when it was made, what from."""

from __future__ import annotations

import datetime as dt

from ledger.calendar import STOCKHOLM
from projections.labels import label
from projections.reports import Report


def moment(value: dt.datetime) -> str:
    """A UTC instant as ISO 8601 with its Stockholm local time beside it."""
    utc = value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    local = value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"{utc} ({local})"


def meta_lines(report: Report) -> list[tuple[str, str]]:
    """(label, value) pairs: as_of, known_at, made at, journal position and head hash, subject."""
    meta, lang = report.meta, report.lang
    lines = [
        (label("meta.as_of", lang), meta.as_of.isoformat()),
        (label("meta.known_at", lang), moment(meta.known_at)),
        (label("meta.generated_at", lang), moment(meta.generated_at)),
        (label("meta.position", lang), str(meta.position)),
        (label("meta.head_hash", lang), meta.head_hash),
    ]
    if meta.digest:
        lines.append((label("meta.merkle_root", lang), f"{meta.digest['root_hash']} (tree size {meta.digest['tree_size']})"))
        if meta.digest.get("signature"):
            lines.append((label("meta.digest_signature", lang), f"{meta.digest['signature']} (key {meta.digest['key_id'][:16]})"))
    if meta.agreement_id:
        lines.append((label("meta.agreement", lang), meta.agreement_id))
    if meta.recipient_id:
        lines.append((label("meta.recipient", lang), f"{meta.subject} ({meta.recipient_id})"))
    lines.append((label("meta.currency", lang), "SEK (kr)"))
    return lines
