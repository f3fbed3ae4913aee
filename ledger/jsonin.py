"""Strict JSON for input (the API's request bodies and ``ledger append``'s JSON Lines).

A ledger must not record something whose meaning depends on which parser read it, so
input JSON has exactly one reading or is refused, with the reason:

- a key repeated in one object (``{"amount": 1, "amount": 2}``) is refused, never
  "last one wins";
- ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON) are refused;
- strings must be valid Unicode: an unpaired UTF-16 surrogate (``"\\ud800"``) is refused;
- nesting deeper than Python's parser can follow, and integers longer than it reads
  (4 300 digits), are refused instead of failing inside the parser.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Where a lone surrogate can come from: an escape (backslash-u D800 to DFFF) in bytes or
# text, or in text (not bytes, which must be valid UTF-8) the character itself. Only input
# with one of these takes the full check in ``loads``; an escaped backslash before "uD8"
# matches too, and then the full check decides.
_ESCAPE = r"\\u[dD][89abcdefABCDEF]"
_MAYBE_SURROGATE_BYTES = re.compile(_ESCAPE.encode())
_MAYBE_SURROGATE_TEXT = re.compile(_ESCAPE + "|[\ud800-\udfff]")


class InputJSONError(ValueError):
    """The text is not one unambiguous JSON value; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InputJSONError(f"duplicate key {key!r} in a JSON object: send each key once")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise InputJSONError(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """Parse one JSON value strictly; raises InputJSONError naming the problem."""
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except InputJSONError:
        raise
    except json.JSONDecodeError as exc:
        raise InputJSONError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    except UnicodeDecodeError as exc:
        raise InputJSONError("not valid UTF-8") from exc
    except RecursionError as exc:
        raise InputJSONError("JSON nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer longer than the parser's digit limit
        raise InputJSONError(f"not valid JSON ({exc})") from exc
    if not (_MAYBE_SURROGATE_BYTES if isinstance(text, bytes) else _MAYBE_SURROGATE_TEXT).search(text):  # type: ignore[arg-type]
        return value  # text that is valid UTF-8 holds no surrogate unless one is escaped
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputJSONError("a string holds an unpaired UTF-16 surrogate: not valid Unicode") from exc
    except RecursionError as exc:
        raise InputJSONError("JSON nested too deeply") from exc
    return value
