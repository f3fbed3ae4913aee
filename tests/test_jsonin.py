"""Strict JSON input (ledger/jsonin.py): one reading or a refusal naming the reason."""

from __future__ import annotations

import pytest

from ledger.jsonin import InputJSONError, loads


@pytest.mark.parametrize("text", [
    b'{"name": "\\ud800"}', '{"name": "\\udfff"}', b'{"name": "x\\uDBFFy"}', '{"name": "\ud800"}',
    b'[{"ok": "\\ud83d\\ude00"}, {"name": "\\ud83d"}]',
], ids=["escape-bytes", "escape-text", "upper-case", "raw-char-in-text", "second-object"])
def test_a_lone_surrogate_is_refused_however_it_is_written(text: str | bytes) -> None:
    with pytest.raises(InputJSONError, match="surrogate"):
        loads(text)


@pytest.mark.parametrize("text, value", [
    (b'{"name": "\\ud83d\\ude00"}', {"name": "\U0001F600"}),  # a pair is one character
    (b'{"name": "\\\\ud800"}', {"name": "\\ud800"}),  # an escaped backslash, then text
    ('{"name": "Region Sk\u00e5ne"}', {"name": "Region Sk\u00e5ne"}),
])
def test_text_without_a_lone_surrogate_is_read(text: str | bytes, value: object) -> None:
    assert loads(text) == value


@pytest.mark.parametrize("text, reason", [
    (b'{"amount": 1, "amount": 2}', "duplicate key"),
    (b'{"amount": NaN}', "not a JSON number"),
    (b'{"name": "\xff"}', "UTF-8"),
    (b'{"amount": ', "not valid JSON"),
])
def test_ambiguous_or_broken_json_is_refused_with_its_reason(text: bytes, reason: str) -> None:
    with pytest.raises(InputJSONError, match=reason):
        loads(text)
