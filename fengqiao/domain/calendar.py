"""The Chinese working-day calendar (DESIGN.md section 4, "Counting").

Sources, in order of precedence:

1. the local override file (TOML, one table per year)::

       [2027]
       holidays = [2027-01-01, "2027-02-06"]   # TOML dates or ISO strings
       workdays = [2027-02-14]                 # make-up workdays (调休上班)

   A year that appears in the file is *known*, even if it lists no dates
   (then it is plain Monday–Friday, not estimated). Entries also override the
   package for years it knows (a date listed as holiday is a rest day, a date
   listed as workday is a working day).
2. `chinesecalendar` (State Council arrangements; 1.11 covers 2004–2026; it
   raises NotImplementedError for other years, which we probe once at load).
3. For a year neither knows: Monday–Friday, and every answer that consulted
   such a day says `estimated=True` so callers flag `calendar_estimated`.

Days are handled as proleptic ordinals in a precomputed byte table (2000–2060),
with prefix sums of working and estimated days and the list of working days,
because the streams worker counts deadlines, stage instants and escalation
steps on every event: "n-th working day after d" and "working time between two
instants" are then a few index lookups instead of a walk over the days. Days
outside the table are computed on the fly (walking, as before).
"""

from __future__ import annotations

import tomllib
from array import array
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

DEFAULT_OVERRIDES = "data/calendar_overrides.toml"
_TABLE_FIRST_YEAR = 2000
_TABLE_LAST_YEAR = 2060
# table codes: bit 0 = working day, bit 1 = estimated
_REST, _WORK, _REST_EST, _WORK_EST = 0, 1, 2, 3
_DAY_US = 86_400_000_000


def _clock_us(dt: datetime) -> int:
    """Microseconds since the wall-clock midnight of `dt` (its tzinfo is not consulted)."""
    return ((dt.hour * 60 + dt.minute) * 60 + dt.second) * 1_000_000 + dt.microsecond


class CalendarError(ValueError):
    """A malformed override file; names the path and the field at fault."""

    def __init__(self, path: str, field: str, reason: str, reason_zh: str):
        self.path, self.field = path, field
        super().__init__(
            f"calendar override file {path}: {field}: {reason} / 节假日覆盖文件 {path}：{field}：{reason_zh}"
        )


def _package_data() -> tuple[set[date], set[date], set[int]]:
    """Holidays, make-up workdays and the years chinesecalendar really covers."""
    try:
        import chinese_calendar as cc
        from chinese_calendar import constants
    except ImportError:  # pragma: no cover - dependency declared in pyproject
        return set(), set(), set()
    years: set[int] = set()
    for y in range(_TABLE_FIRST_YEAR - 10, _TABLE_LAST_YEAR + 1):
        try:
            cc.is_workday(date(y, 6, 1))
        except NotImplementedError:
            continue
        years.add(y)
    return set(constants.holidays), set(constants.workdays), years


def _as_date(value: object, path: str, field: str) -> date:
    if isinstance(value, datetime):
        raise CalendarError(path, field, f"{value!r} is a date-time, expected a date", "应为日期（不含时间）")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarError(path, field, f"{value!r} is not a date (YYYY-MM-DD)", "不是合法日期（YYYY-MM-DD）")


def parse_overrides(text: str, path: str) -> dict[int, tuple[set[date], set[date]]]:
    """Parse the override TOML into {year: (holidays, workdays)}; strict about shape."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(path, "(syntax)", str(exc), "TOML 语法错误") from None
    out: dict[int, tuple[set[date], set[date]]] = {}
    for key, table in data.items():
        if not (key.isdigit() and len(key) == 4):
            raise CalendarError(path, key, "top-level keys must be years like [2027]", "顶层键必须是年份，如 [2027]")
        year = int(key)
        if not isinstance(table, dict):
            raise CalendarError(path, key, "must be a table", "必须是表")
        extra = set(table) - {"holidays", "workdays"}
        if extra:
            raise CalendarError(path, f"{key}.{sorted(extra)[0]}", "unknown field (allowed: holidays, workdays)",
                                "未知字段（允许：holidays, workdays）")
        sets: list[set[date]] = []
        for name in ("holidays", "workdays"):
            values = table.get(name, [])
            if not isinstance(values, list):
                raise CalendarError(path, f"{key}.{name}", "must be a list of dates", "必须是日期列表")
            got: set[date] = set()
            for i, v in enumerate(values):
                d = _as_date(v, path, f"{key}.{name}[{i}]")
                if d.year != year:
                    raise CalendarError(path, f"{key}.{name}[{i}]", f"{d} is not in {year}", f"{d} 不属于 {year} 年")
                got.add(d)
            sets.append(got)
        both = sets[0] & sets[1]
        if both:
            raise CalendarError(path, key, f"{min(both)} is both a holiday and a workday", f"{min(both)} 同时是假日和工作日")
        out[year] = (sets[0], sets[1])
    return out


@dataclass(frozen=True, slots=True)
class DayInfo:
    working: bool
    estimated: bool


class WorkCalendar:
    """Answers "is this a working day?" and counts working days, flagging estimates."""

    __slots__ = ("_holidays", "_workdays", "_known", "_base", "_table", "_cum_work", "_cum_est", "_work_index",
                 "source")

    def __init__(self, holidays: Iterable[date], workdays: Iterable[date], known_years: Iterable[int], source: str = ""):
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        self._known = frozenset(known_years)
        self.source = source
        self._base = date(_TABLE_FIRST_YEAR, 1, 1).toordinal()
        last = date(_TABLE_LAST_YEAR, 12, 31).toordinal()
        self._table = bytes(self._compute(o) for o in range(self._base, last + 1))
        # _cum_work[i] / _cum_est[i]: working / estimated days among table days [0, i);
        # _work_index[k]: table index of the (k+1)-th working day of the table
        self._cum_work, self._cum_est, self._work_index = array("i", [0]), array("i", [0]), array("i")
        w = e = 0
        for i, c in enumerate(self._table):
            if c & 1:
                w += 1
                self._work_index.append(i)
            e += (c >> 1) & 1
            self._cum_work.append(w)
            self._cum_est.append(e)

    def _compute(self, ordinal: int) -> int:
        d = date.fromordinal(ordinal)
        working = d in self._workdays or (d.weekday() < 5 and d not in self._holidays)
        if d.year in self._known:
            return _WORK if working else _REST
        return _WORK_EST if d.weekday() < 5 else _REST_EST

    def _code(self, ordinal: int) -> int:
        i = ordinal - self._base
        if 0 <= i < len(self._table):
            return self._table[i]
        return self._compute(ordinal)

    @property
    def known_years(self) -> frozenset[int]:
        return self._known

    def is_known_year(self, year: int) -> bool:
        return year in self._known

    def day(self, d: date) -> DayInfo:
        c = self._code(d.toordinal())
        return DayInfo(bool(c & 1), bool(c & 2))

    def is_workday(self, d: date) -> bool:
        """Working day per the State Council calendar (Mon–Fri for unknown years)."""
        return bool(self._code(d.toordinal()) & 1)

    def is_estimated(self, d: date) -> bool:
        return bool(self._code(d.toordinal()) & 2)

    def nth_workday_after(self, d: date, n: int) -> tuple[date, bool]:
        """The n-th working day strictly after `d` (n ≥ 1) and whether any day was estimated."""
        days, est = self.nth_workdays_after(d, (n,))
        return days[0], est

    def nth_workdays_after(self, d: date, ns: Iterable[int]) -> tuple[list[date], bool]:
        """`nth_workday_after` for each n of an ascending sequence; the flag covers up to the last."""
        i = d.toordinal() - self._base + 1
        ns = list(ns)
        if ns and ns[0] < 1:
            raise ValueError("n must be >= 1")
        if ns and 0 <= i <= len(self._table):
            first, index = self._cum_work[i] - 1, self._work_index
            if first + ns[-1] < len(index):
                base = self._base
                last = index[first + ns[-1]]
                return ([date.fromordinal(base + index[first + n]) for n in ns],
                        self._cum_est[last + 1] > self._cum_est[i])
        out, est = [], False
        for n in ns:  # leaves the table: day by day
            day, e = self._walk(d, n)
            out.append(day)
            est = est or e
        return out, est

    def _walk(self, d: date, n: int) -> tuple[date, bool]:
        """`nth_workday_after` day by day, for answers that leave the table."""
        o = d.toordinal()
        est = False
        code = self._code
        while n:
            o += 1
            c = code(o)
            if c & 2:
                est = True
            if c & 1:
                n -= 1
        return date.fromordinal(o), est

    def working_time(self, start: datetime, end: datetime) -> tuple[int, bool] | None:
        """Working microseconds in [start, end) (end > start), and whether a day from start's date
        to the date of end's last microsecond is estimated; None if one of them is outside the table.

        Only hours on working days count, by wall clock: both instants must be in the same time
        zone (tzinfo is not consulted).
        """
        base, table, cum = self._base, self._table, self._cum_work
        i, j = start.toordinal() - base, end.toordinal() - base
        e_us = _clock_us(end)
        last = j if e_us else j - 1
        if i < 0 or last >= len(table):
            return None
        total = (cum[j] - cum[i]) * _DAY_US
        if table[i] & 1:
            total -= _clock_us(start)
        if e_us and table[j] & 1:
            total += e_us
        return total, self._cum_est[last + 1] > self._cum_est[i]

    def working_instants(self, start: datetime, amounts: Iterable[int]) -> list[datetime]:
        """For each amount, the first instant (start's tzinfo, wall clock) at which that many working
        microseconds have elapsed since `start`; for 0 the first working instant at or after `start`.

        Only for spans `working_time` answered (inside the table, amounts at most its total).
        """
        table, cum, index = self._table, self._cum_work, self._work_index
        i = start.toordinal() - self._base
        s_us = _clock_us(start)
        working = table[i] & 1
        origin = i * _DAY_US + s_us  # start, in wall-clock microseconds since the table's first day
        at0 = cum[i] * _DAY_US + (s_us if working else 0)  # start, on the axis of working time
        out = []
        for us in amounts:
            if not us:
                out.append(start + timedelta(0, 0, 0 if working else index[cum[i]] * _DAY_US - origin))
                continue
            full, rem = divmod(at0 + us, _DAY_US)
            # into the (full+1)-th working day of the table, or 24:00 of the full-th
            wall = index[full] * _DAY_US + rem if rem else (index[full - 1] + 1) * _DAY_US
            out.append(start + timedelta(0, 0, wall - origin))
        return out

    def workdays_between(self, first: date, last: date) -> tuple[list[date], bool]:
        """Working days in [first, last] and the estimated flag."""
        out: list[date] = []
        est = False
        for o in range(first.toordinal(), last.toordinal() + 1):
            c = self._code(o)
            est = est or bool(c & 2)
            if c & 1:
                out.append(date.fromordinal(o))
        return out, est


def load_calendar(override_path: Path | None = None) -> WorkCalendar:
    """chinesecalendar + the override file (default: the packaged one)."""
    if override_path is None:
        return _default_calendar()
    path = Path(override_path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise CalendarError(str(path), "(file)", f"cannot read: {exc.strerror}", "无法读取文件") from None
    return _build(parse_overrides(text, str(path)), str(path))


def _build(overrides: dict[int, tuple[set[date], set[date]]], source: str) -> WorkCalendar:
    hol, work, years = _package_data()
    for year, (h, w) in overrides.items():
        years.add(year)
        hol |= h
        work -= h
        work |= w
        hol -= w
    return WorkCalendar(hol, work, years, source)


@lru_cache(maxsize=1)
def _default_calendar() -> WorkCalendar:
    res = resources.files("fengqiao").joinpath(DEFAULT_OVERRIDES)
    text = res.read_text("utf-8") if res.is_file() else ""
    return _build(parse_overrides(text, DEFAULT_OVERRIDES), DEFAULT_OVERRIDES)


def is_workday(d: date) -> bool:
    """Module-level convenience on the default calendar."""
    return _default_calendar().is_workday(d)


def is_estimated(d: date) -> bool:
    return _default_calendar().is_estimated(d)
