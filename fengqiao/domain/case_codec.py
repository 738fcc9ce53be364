"""The one codec of a `CaseRecord` (the Faust case table's value) and of its alerts.

On the wire a record is a compact JSON list, positions only here::

    [2, CaseState.to_dict(), partition, [[dedup_key, alert|null, renotify_at, target, round], ...],
     wake_at, dispatched_version, dispatch_version, dispatch_at, overdue]

with an alert as a list in the order of `_ALERT_FIELDS` (its `dedup_key` is the slot's).
`decode` also reads the entries earlier workers wrote (a JSON object
`{"s", "p", "a", "w", "d", "dq", "ov"}` with alert slots `{"r", "n", "t", "rd"}`, `r` the
alert record's JSON), so the table of a running deployment loads after an upgrade; the next
change of each case rewrites it in the new form. Instants are ISO 8601 strings.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson

from fengqiao.domain.alerts import Alert, AlertSlot
from fengqiao.domain.case import CaseRecord, DispatchDue
from fengqiao.domain.lifecycle import CaseState
from fengqiao.records import AlertRecord

FORMAT = 2
_ALERT_FIELDS = ("alert_id", "kind", "severity", "state", "region_code", "raised_at", "updated_at", "message",
                 "stage", "level", "case_id", "case_ids", "department", "target", "due_at", "acknowledged_by",
                 "acknowledged_at", "silenced_until", "note", "version")
_ALERT_TIMES = frozenset({"raised_at", "updated_at", "due_at", "acknowledged_at", "silenced_until"})
_ALERT_TIME_AT = tuple(i for i, f in enumerate(_ALERT_FIELDS) if f in _ALERT_TIMES)
_CASE_IDS_AT = _ALERT_FIELDS.index("case_ids")
assert tuple(f.name for f in fields(Alert)) == (_ALERT_FIELDS[0], "dedup_key", *_ALERT_FIELDS[1:])


class CodecError(ValueError):
    """Bytes that are no case record of any known format."""


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


# ------------------------------------------------------------------ alerts
_alert_values = attrgetter(*_ALERT_FIELDS)
_fromiso = datetime.fromisoformat


def alert_to_list(a: Alert) -> list[Any]:
    out = list(_alert_values(a))
    for i in _ALERT_TIME_AT:
        if out[i] is not None:
            out[i] = out[i].isoformat()
    out[_CASE_IDS_AT] = list(a.case_ids)
    return out


def alert_from_list(dedup_key: str, v: list[Any]) -> Alert:
    """Positional: `_ALERT_FIELDS` is `Alert`'s field order without `dedup_key` (second)."""
    v = list(v)
    for i in _ALERT_TIME_AT:
        if v[i]:
            v[i] = _fromiso(v[i])
    v[_CASE_IDS_AT] = tuple(v[_CASE_IDS_AT])
    return Alert(v[0], dedup_key, *v[1:])


def alert_to_json(a: Alert) -> dict[str, Any]:
    """The alert record's JSON object (the same as `AlertRecord.model_dump(mode="json")`)."""
    out = {f: getattr(a, f) for f in ("dedup_key", *_ALERT_FIELDS)}
    for f in _ALERT_TIMES:
        out[f] = _iso(out[f])
    out["case_ids"] = list(a.case_ids)
    return out


def alert_from_json(d: dict[str, Any]) -> Alert:
    """From an alert record's JSON object (what older table entries and the early table hold)."""
    kw = {f: d.get(f) for f in ("dedup_key", *_ALERT_FIELDS) if f in d}
    for f in _ALERT_TIMES:
        if f in kw:
            kw[f] = _dt(kw[f])
    kw["case_ids"] = tuple(d.get("case_ids") or ())
    return Alert(**kw)


def alert_wire(a: Alert) -> bytes:
    """The record published on `petitions.alerts`, validated by the contract's `AlertRecord`."""
    kw = dict(zip(_ALERT_FIELDS, _alert_values(a)), dedup_key=a.dedup_key, case_ids=list(a.case_ids))
    return AlertRecord(**kw).to_json()  # from the instants themselves: no ISO strings to parse


def slot_from_json(d: dict[str, Any]) -> AlertSlot:
    """An older entry's alert slot `{"r": record json | None, "n": renotify, "t": target, "rd": round}`."""
    r = d.get("r")
    return AlertSlot(alert_from_json(r) if r else None, _dt(d.get("n")), d.get("t") or "", d.get("rd") or 0)


def slot_to_json(s: AlertSlot) -> dict[str, Any]:
    out: dict[str, Any] = {"r": alert_to_json(s.alert) if s.alert is not None else None}
    if s.renotify_at is not None:
        out["n"] = s.renotify_at.isoformat()
    if s.target:
        out["t"], out["rd"] = s.target, s.round
    return out


# ------------------------------------------------------------------ records
def to_list(rec: CaseRecord) -> list[Any]:
    slots = [[dk, alert_to_list(s.alert) if s.alert is not None else None, _iso(s.renotify_at), s.target, s.round]
             for dk, s in rec.alerts.items()]
    dq = rec.dispatch_due
    return [FORMAT, rec.state.to_dict(), rec.partition, slots, _iso(rec.wake_at), rec.dispatched,
            dq.version if dq else None, _iso(dq.at) if dq else None, rec.overdue]


def encode(rec: CaseRecord) -> bytes:
    return orjson.dumps(to_list(rec))


def decode(raw: bytes | str | dict[str, Any] | list[Any]) -> CaseRecord:
    """A record from its bytes, in the current or the earlier (object) format."""
    v = orjson.loads(raw) if isinstance(raw, (bytes, bytearray, memoryview, str)) else raw
    if isinstance(v, list) and v and v[0] == FORMAT:
        _, s, p, slots, w, d, dqv, dqa, ov = v
        alerts = {dk: AlertSlot(alert_from_list(dk, a) if a is not None else None, _dt(n), t, rd)
                  for dk, a, n, t, rd in slots}
        dq = DispatchDue(dqv, datetime.fromisoformat(dqa)) if dqv is not None else None
        return CaseRecord(CaseState.from_dict(s), p, alerts, _dt(w), d, dq, bool(ov))
    if isinstance(v, dict) and "s" in v:
        dq_old = v.get("dq")
        return CaseRecord(
            CaseState.from_dict(v["s"]), v.get("p", 0),
            {dk: slot_from_json(sl) for dk, sl in (v.get("a") or {}).items()}, _dt(v.get("w")), v.get("d"),
            DispatchDue(dq_old[0], datetime.fromisoformat(dq_old[1])) if dq_old else None, bool(v.get("ov")))
    raise CodecError(f"not a case record / 不是案件记录: {str(v)[:80]}")
