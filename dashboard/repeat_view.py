"""The repeat-complaint link every screen shows beside a case (重复投诉 · 关联 <earlier case id>).

One place for the wall, the console and the desks: the earlier case a petition repeats comes
from the read model's `repeats` table (written by the streams worker's repeat agent,
`fengqiao.domain.repeat`); the label is the domain's `link_label`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from dashboard import queries
from fengqiao.domain.repeat import link_label

log = logging.getLogger("fengqiao.wall")


def labels(settings: Any, case_ids: Iterable[str]) -> dict[str, str]:
    """case id → its link label, for the repeats among `case_ids` (cached like the wall's queries)."""
    ids = tuple(dict.fromkeys(case_ids))
    if not ids:
        return {}
    try:
        rows = queries.fetch(settings, "repeat_links", ids)
    except Exception:  # noqa: BLE001 - a missing link must not take a screen down; the screen's own query says why
        log.warning("repeat links unavailable", exc_info=True)
        return {}
    return {r["case_id"]: link_label(r["earlier_case_id"]) for r in rows}


def label(settings: Any, case_id: str) -> str:
    """The link label of one case ('' when it is not a repeat)."""
    return labels(settings, [case_id]).get(case_id, "")
