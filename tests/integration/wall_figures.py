"""Every figure the wall, the leadership rankings and the reports show, computed twice: by
`dashboard.queries` from the read model, and by `fengqiao.domain.metrics` from snapshots.
The tests compare the two (not a test module)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterable

from dashboard import queries
from fengqiao.domain import metrics
from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.lifecycle import CaseState, LifecycleError, apply
from fengqiao.domain.policy import Policy
from fengqiao.records import CaseSnapshot
from fengqiao.vocab import TZ
from sinks.rows import COLUMNS, map_case

BY = {"prefecture": lambda s: s.prefecture_code, "county": lambda s: s.region_code,
      "department": lambda s: s.department}


def write(client: Any, db: str, snaps: list[CaseSnapshot]) -> None:
    """What the sink does with snapshots: one column-oriented insert per table."""
    tables: dict[str, list[tuple]] = {}
    for s in snaps:
        out = map_case(s.to_json())
        assert not isinstance(out, str)
        for table, _key, row in out:
            tables.setdefault(table, []).append(row)
    for table, rows in tables.items():
        client.insert(f"{db}.{table}", list(zip(*rows)), column_names=list(COLUMNS[table]), column_oriented=True)


def replay_all(events: Iterable[Any], policy: Policy, cal: WorkCalendar) -> tuple[dict[str, CaseState], int]:
    """What the worker applies: events in arrival order, a rejected one skipped (it goes to
    the DLQ); returns the states and how many were rejected."""
    states: dict[str, CaseState] = {}
    rejected = 0
    for ev in events:
        try:
            states[ev.case_id] = apply(states.get(ev.case_id), ev, policy, cal)
        except LifecycleError:
            rejected += 1
    return states, rejected


def periods(now: datetime) -> list[tuple[date, date]]:
    """The report periods compared: today, this week, the last 28 days."""
    today = now.astimezone(TZ).date()
    return [(today, today), (today - timedelta(days=today.weekday()), today), (today - timedelta(days=27), today)]


def _rates(rates: dict[str, metrics.Rate]) -> dict[str, tuple[int, int]]:
    return {k: (r.num, r.den) for k, r in rates.items()}


def from_domain(snaps: list[CaseSnapshot], now: datetime) -> dict[str, Any]:
    today = now.astimezone(TZ).date()
    monday = today - timedelta(days=today.weekday())
    counted = metrics.cases_of(snaps)
    boards = {k: metrics.board(v, now) for k, v in metrics.group(counted, lambda s: s.prefecture_code).items()}
    counties = {k: metrics.board(v, now) for k, v in metrics.group(counted, lambda s: s.region_code).items()}
    week = metrics.received_in(counted, monday, today)
    out: dict[str, Any] = {
        "intake_today": metrics.intake_by_channel(counted, today),
        "board": {k: (b.open, b.awaiting, b.due24, b.overdue) for k, b in boards.items() if b.open or b.awaiting},
        "county_board": {k: (b.open, b.awaiting, b.overdue) for k, b in counties.items() if b.open or b.awaiting},
        "rates": {"today": (len(metrics.received_in(week, today, today)),
                            _rates(metrics.rates(metrics.received_in(week, today, today), now))),
                  "week": (len(week), _rates(metrics.rates(week, now)))},
        "countdown": [(c, t, due.replace(microsecond=due.microsecond // 1000 * 1000))  # DateTime64(3)
                      for c, t, due in metrics.countdown(counted, now, limit=12)],
        "trend": {h.strftime("%m-%d %H:00"): n for h, n in metrics.intake_by_hour(counted, now).items()},
    }
    for start, end in periods(now):
        cases = metrics.received_in(counted, start, end)
        b = metrics.board(cases, now)
        out[f"totals {start}..{end}"] = (len(cases), b.open, b.awaiting,
                                         sum(c.phase == "closed" for c in cases), b.overdue,
                                         _rates(metrics.rates(cases, now)))
        for by, key in BY.items():
            groups = metrics.group(cases, key)
            out[f"rank {by} {start}..{end}"] = {
                k: (len(v), _rates(metrics.rates(v, now)), metrics.board(v, now).overdue)
                for k, v in groups.items() if k != ""}
        out[f"daily {start}..{end}"] = {
            d: (len(v), sum(c.resolve_status == "met" for c in v))
            for d, v in metrics.group(cases, lambda s: str(metrics.local_date(s.received_at))).items()}
    return out


def from_sql(client: Any, db: str, now: datetime) -> dict[str, Any]:
    board = queries.case_board(client, db, now=now)
    counties: dict[str, tuple[int, int, int]] = {}
    for pref in {r["prefecture_code"] for r in board}:
        for r in queries.county_board(client, db, pref, now=now):
            counties[r["region_code"]] = (r["open"], r["awaiting"], r["overdue"])
    rows = {r["period"]: r for r in queries.rates(client, db, now=now)}
    zero = {"received": 0}
    today, earlier = rows.get("today", zero), rows.get("earlier", zero)
    week = {k: r + queries.rates_of(earlier)[k] for k, r in queries.rates_of(today).items()}
    out: dict[str, Any] = {
        "intake_today": {r["channel"]: r["n"] for r in queries.intake_today(client, db, now=now)},
        "board": {r["prefecture_code"]: (r["open"], r["awaiting"], r["due24"], r["overdue"]) for r in board},
        "county_board": counties,
        "rates": {"today": (today["received"], _rates(queries.rates_of(today))),
                  "week": (today["received"] + earlier["received"], _rates(week))},
        "countdown": [(r["case_id"], r["target"], r["due_at"]) for r in queries.countdown(client, db, limit=12, now=now)],
        "trend": {r["hour"]: r["n"] for r in queries.intake_trend(client, db, now=now)},
    }
    for start, end in periods(now):
        t = queries.period_totals(client, db, start, end, now=now)[0]
        out[f"totals {start}..{end}"] = (t["received"], t["open"], t["awaiting"], t["closed"], t["overdue"],
                                         _rates(queries.rates_of(t)))
        for by in BY:
            out[f"rank {by} {start}..{end}"] = {
                r["key"]: (r["cases"], _rates(queries.rates_of(r)), r["overdue_open"])
                for r in queries.rankings(client, db, by, start, end, now=now)}
        out[f"daily {start}..{end}"] = {str(r["day"]): (r["n"], r["resolved"])
                                        for r in queries.daily_intake(client, db, start, end)}
    return out


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Human-readable differences, figure by figure (empty when they agree)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            av, bv = a.get(k), b.get(k)
            if isinstance(av, dict) and isinstance(bv, dict):
                keys = sorted(x for x in set(av) | set(bv) if av.get(x) != bv.get(x))[:5]
                out.append(f"{k}: " + "; ".join(f"{x}: domain {av.get(x)} sql {bv.get(x)}" for x in keys))
            else:
                out.append(f"{k}: domain {av} sql {bv}")
    return out
