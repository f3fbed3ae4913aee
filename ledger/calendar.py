"""Dates in Europe/Stockholm, Swedish public holidays and deadline policies.

Lag (1930:173) om beräkning av lagstadgad tid: when the last day for an action falls on
a Saturday, Sunday, public holiday (allmän helgdag), midsommarafton, julafton or
nyårsafton, the action may be taken on the next working day. Agreements choose between
that policy and the strict calendar date; it is a term of the agreement, never a
constant here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import Enum
from functools import lru_cache
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


class DeadlinePolicy(str, Enum):
    """How a deadline that falls on a non-working day is treated."""

    STRICT = "strict"  # the printed calendar date, whatever day it is
    NEXT_WORKING_DAY = "next_working_day"  # lag (1930:173)


def stockholm_today(now: datetime | None = None) -> date:
    """Today's date in Stockholm (the business date of an event recorded now)."""
    moment = now or datetime.now(tz=STOCKHOLM)
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in the ledger; give a time zone")
    return moment.astimezone(STOCKHOLM).date()


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian computus)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _saturday_between(start: date, end: date) -> date:
    day = start
    while day.weekday() != 5:
        day += timedelta(days=1)
    assert day <= end
    return day


@lru_cache(maxsize=256)
def public_holidays(year: int) -> dict[date, str]:
    """Swedish public holidays (allmänna helgdagar, lag 1989:253) plus the three eves
    that lag (1930:173) treats like holidays. Sundays are not listed: every Sunday is
    a non-working day anyway."""
    easter = easter_sunday(year)
    midsummer_day = _saturday_between(date(year, 6, 20), date(year, 6, 26))
    all_saints = _saturday_between(date(year, 10, 31), date(year, 11, 6))
    days = {
        date(year, 1, 1): "Nyårsdagen",
        date(year, 1, 6): "Trettondedag jul",
        easter - timedelta(days=2): "Långfredagen",
        easter: "Påskdagen",
        easter + timedelta(days=1): "Annandag påsk",
        date(year, 5, 1): "Första maj",
        easter + timedelta(days=39): "Kristi himmelsfärdsdag",
        easter + timedelta(days=49): "Pingstdagen",
        date(year, 6, 6): "Sveriges nationaldag",
        midsummer_day - timedelta(days=1): "Midsommarafton",
        midsummer_day: "Midsommardagen",
        all_saints: "Alla helgons dag",
        date(year, 12, 24): "Julafton",
        date(year, 12, 25): "Juldagen",
        date(year, 12, 26): "Annandag jul",
        date(year, 12, 31): "Nyårsafton",
    }
    return days


def holiday_name(day: date) -> str | None:
    """The holiday's Swedish name, or None on an ordinary day."""
    return public_holidays(day.year).get(day)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a holiday or one of the three eves."""
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_working_day(day: date) -> date:
    """The day itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def effective_deadline(printed: date, policy: DeadlinePolicy | str) -> date:
    """The last day on which a "received by" deadline is met under the policy."""
    if DeadlinePolicy(policy) is DeadlinePolicy.NEXT_WORKING_DAY:
        return next_working_day(printed)
    return printed


def non_working_reason(day: date) -> str | None:
    """Why a day is not a working day ("lördag", "söndag", a holiday's name), or None."""
    name = holiday_name(day)
    if name:
        return name
    if day.weekday() == 5:
        return "lördag"
    if day.weekday() == 6:
        return "söndag"
    return None
