"""Writes docs/events.md from the event models and ledger/examples.py.

Run `python docs/generate_events.py` after changing an event; tests/test_docs.py fails
when the file is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.events import EVENT_CLASSES, EventBase  # noqa: E402
from ledger.examples import CATALOGUE_KINDS, EXAMPLES  # noqa: E402

COMMON = set(EventBase.model_fields)

HEADER = """# Events (händelser)

The ledger's public vocabulary. Every fact is one of these events, sent as JSON (one
object, or one per line in a JSON Lines file for `ledger append`). Each is validated
whole; malformed or impossible input is refused with every bad field named, and nothing
is recorded. A fact that breaks an agreement's rule is recorded and raises a finding.

Conventions:
- `amount` and every other money field is **integer öre** (1 kr = 100 öre), always SEK
  (`currency`, where present, must be `"SEK"`). Floats, strings and negatives are refused.
- `effective_date` is when the fact happened in the world (date received, value date,
  decision date), a Europe/Stockholm date; it may not be later than the day of recording.
- The ledger, never the caller, sets the recorded time (`recorded_at`, UTC) and the
  principal (`recorded_by`) and chains each event's SHA-256 hash to the previous one.
- Nothing is edited or deleted: `corrects` names an event this one supersedes, and
  `event_retracted` withdraws one; both stay in the journal.

Fields every event has:

| field | type | required | meaning |
|---|---|---|---|
| `kind` | string | yes | the event kind (the headings below) |
| `event_id` | UUID | yes | unique; a second event with the same id is refused |
| `schema_version` | 1 | no | the event schema version (default 1) |
| `effective_date` | date | yes | when the fact happened (Europe/Stockholm) |
| `reference` | string | no | the caller's own reference, for traceability |
| `corrects` | UUID | no | the recorded event this one corrects and supersedes |
| `note` | string | no | free text |

Agreement-bound events also carry `agreement_id` (must be a decided agreement) and,
where it applies, `part_id` (a part of that agreement) and `recipient_id` (a registered
recipient).
"""


def _type(schema: dict) -> str:
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        return schema["$ref"].split("/")[-1]
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    fmt = schema.get("format")
    return fmt or schema.get("type", "object")


def section(kind: str) -> str:
    cls = EVENT_CLASSES[kind]
    schema = cls.model_json_schema()
    required = set(schema.get("required", []))
    doc = (cls.__doc__ or "").strip()
    lines = [f"## `{kind}`", "", doc, "", "| field | type | required | meaning |", "|---|---|---|---|"]
    for name, prop in schema["properties"].items():
        if name in COMMON or name == "kind":
            continue
        desc = prop.get("description", "")
        lines.append(f"| `{name}` | {_type(prop)} | {'yes' if name in required else 'no'} | {desc} |")
    lines.append("")
    if kind in CATALOGUE_KINDS:
        lines.append("Example: the `agreement` object is a whole catalogue entry, see `ledger/data/agreements/` and "
                     "`ledger/terms.py`; `ledger agreements load` records them.")
    else:
        lines += ["```json", json.dumps(EXAMPLES[kind], ensure_ascii=False, indent=2), "```"]
    return "\n".join(lines) + "\n"


def render() -> str:
    return HEADER + "\n" + "\n".join(section(kind) for kind in EVENT_CLASSES)


if __name__ == "__main__":
    (Path(__file__).parent / "events.md").write_text(render(), encoding="utf-8")
