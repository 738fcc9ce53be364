"""What the officer console shows of the alert queue, decided without Streamlit.

Under load (hundreds of firing alerts, a refresh every few seconds) the list must
not move under the officer's hand: rows keep a fixed order (newest raised first,
then alert_id), alerts that arrive after the officer last looked are held back
and only counted ("N 条新告警") until taken in, the selection is an alert_id (never
a row position), an acknowledgement acked by Kafka shows at once as a local,
provisional state until the store's record replaces it, and the alerts of one
storm (one case's ladder, or one region and topic) form a group that can be
acknowledged at once. Pure: rows in, rows out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from fengqiao.vocab import TZ as SH

Row = Mapping[str, Any]
PENDING_SECONDS = 120.0  # a provisional acknowledgement the store has not confirmed by then is dropped


def order(rows: Iterable[Row]) -> list[Row]:
    """Newest raised first, ties by alert_id: an update (state, updated_at) never moves a row."""
    def key(r: Row) -> tuple[float, str]:
        raised = r.get("raised_at")
        ts = raised.timestamp() if isinstance(raised, datetime) else 0.0
        return (-ts, str(r["alert_id"]))

    return sorted(rows, key=key)


@dataclass(frozen=True)
class Held:
    """The rows to show (only alerts already taken in) and the ids of the newer ones held back."""

    shown: list[Row]
    new_ids: tuple[str, ...]


def hold_back(rows: Iterable[Row], taken_in: set[str] | frozenset[str] | None) -> Held:
    """Split `rows` into those the officer has taken in and the new ones. `taken_in` None
    (the first look) takes in everything."""
    ordered = order(rows)
    if taken_in is None:
        return Held(ordered, ())
    return Held([r for r in ordered if r["alert_id"] in taken_in],
                tuple(str(r["alert_id"]) for r in ordered if r["alert_id"] not in taken_in))


def new_alerts_label(n: int) -> str:
    return f"{n} 条新告警 · 显示 Show {n} new alert{'s' if n != 1 else ''}"


def keep_selection(selected: str | None, ids: Sequence[str]) -> str | None:
    """The officer's choice while it is listed; the first row only when nothing (listed) was chosen."""
    if selected in ids:
        return selected
    return ids[0] if ids else None


def storm_key(r: Row) -> str:
    """One storm: the ladder of one case (same case_id), or an early warning's region and topic
    (hotspot dedup key `hotspot:<region>:<topic>:<window>`); any other alert is its own group."""
    if r.get("case_id"):
        return f"case:{r['case_id']}"
    parts = str(r.get("dedup_key") or "").split(":")
    if r.get("kind") == "hotspot" and len(parts) >= 3:
        return f"topic:{parts[1]}:{parts[2]}"
    return f"alert:{r['alert_id']}"


def groups(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows by storm, in list order (each group ordered as the list is)."""
    out: dict[str, list[Row]] = {}
    for r in order(rows):
        out.setdefault(storm_key(r), []).append(r)
    return out


@dataclass(frozen=True)
class Pending:
    """An acknowledgement the broker acked (acks=all) but the store does not show yet."""

    by: str
    at: float  # epoch seconds
    note: str = ""


def with_pending(rows: Iterable[Row], pending: Mapping[str, Pending], now: float,
                 ttl: float = PENDING_SECONDS) -> tuple[list[dict[str, Any]], dict[str, Pending]]:
    """Rows with the provisional acknowledgements applied, and the pending entries still open.

    An entry ends once the store shows the alert as no longer firing (its record wins), or after `ttl`."""
    out, still = [], {}
    for r in rows:
        row = dict(r)
        p = pending.get(str(row["alert_id"]))
        if p is not None and row.get("state") == "firing" and now - p.at < ttl:
            row.update(state="acknowledged", acknowledged_by=p.by, provisional=True,
                       acknowledged_at=datetime.fromtimestamp(p.at, tz=SH), note=row.get("note") or p.note)
            still[str(row["alert_id"])] = p
        out.append(row)
    listed = {str(r["alert_id"]) for r in out}
    still.update({a: p for a, p in pending.items() if a not in listed and now - p.at < ttl})
    return out, still


def firing_ids(group: Iterable[Row]) -> list[str]:
    """The alerts of a group an acknowledgement still applies to."""
    return [str(r["alert_id"]) for r in group if r.get("state") == "firing"]
