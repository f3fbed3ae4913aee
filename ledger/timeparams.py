"""The two clocks of a query: ``as_of`` (effective date) and ``known_at`` (recorded time).

``as_of`` is a Europe/Stockholm calendar date. ``known_at`` is an instant; a bare date
means the end of that day in Stockholm ("what the ledger knew on 2022-04-01"). Recorded
times are kept as UTC ISO 8601 with microseconds, so they compare as text in SQL.
"""

from __future__ import annotations

import datetime as dt

from ledger.calendar import STOCKHOLM


class TimeParamError(ValueError):
    """An as_of or known_at that is not a date or time."""


def format_recorded(moment: dt.datetime) -> str:
    """The one text form of a recorded time: UTC, microseconds, offset."""
    if moment.tzinfo is None:
        raise TimeParamError("a recorded time needs a time zone")
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def parse_as_of(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise TimeParamError(f"as_of: {value!r} is not a date (YYYY-MM-DD)") from exc


def parse_known_at(value: str | dt.datetime) -> dt.datetime:
    """An instant in UTC. A date alone means the last microsecond of that Stockholm day."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            if len(value) == 10:
                day = dt.date.fromisoformat(value)
                moment = dt.datetime.combine(day, dt.time.max, tzinfo=STOCKHOLM)
            else:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise TimeParamError(f"known_at: {value!r} is not a date or an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)  # a time without zone is read as Stockholm time
    try:
        return moment.astimezone(dt.timezone.utc)
    except OverflowError as exc:
        raise TimeParamError(f"known_at: {value!r} is outside the years 1–9999") from exc


def known_at_text(value: str | dt.datetime) -> str:
    return format_recorded(parse_known_at(value))
