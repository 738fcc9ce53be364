"""Citizen tracking (DESIGN.md section 1, "citizens"): the status of one's own petition by
its number and the last four digits of one's phone, nothing else.

* The token: where the clear phone is seen for the last time (the gateway's door,
  `privacy.protect_citizen(..., case_id=)`), a keyed hash of (case id, last four digits),
  `privacy.track_token`, goes into the masked citizen block; the worker keeps it in
  `CaseState.track_token`. No digits are stored anywhere new.
* `citizen_view`: what a citizen sees: the status in their words (zh-CN first), the
  stages passed with their dates, the current deadline. No contact data, no department,
  no staff, no event payloads: only the snapshot's instants.

Pure: the HTTP side (the check, rate limits, the page) is `track_page.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from fengqiao.domain.phase import Phase
from fengqiao.records import CaseSnapshot
from fengqiao.vocab import TZ as CST

Last4 = Annotated[str, Field(pattern=r"^\d{4}$", description="the last four digits of the phone / 手机号后四位")]


# ------------------------------------------------------------------ what a citizen sees
STATUS = {  # lifecycle status -> (zh-CN, en), in the citizen's words
    "received": ("已受理", "received"),
    "returned": ("已受理，正在重新转办", "received, being passed on again"),
    "assigned": ("已转交承办单位", "passed to the responsible office"),
    "signed": ("办理中", "in progress"),
    "replied": ("办理中", "in progress"),
    "reopened": ("重新办理中", "being handled again"),
    "evaluated": ("已评价", "rated"),
}
PHASE = {Phase.awaiting_evaluation: ("已答复，待评价", "answered, awaiting your rating"),
         Phase.closed: ("已办结", "concluded"), Phase.merged: ("已合并办理", "handled together with another petition")}
STAGES = (("received_at", "已受理", "received"), ("assigned_at", "已转办", "passed on"),
          ("signed_at", "已签收", "accepted by the office"), ("replied_at", "已答复", "answered"),
          ("closed_at", "已办结", "concluded"))


class Stage(BaseModel):
    stage: str
    name_zh: str
    name_en: str
    at: datetime


class Tracking(BaseModel):
    """The answer to a citizen: nothing here names a person or a department."""

    case_id: str
    status: str = Field(description="lifecycle status code")
    status_zh: str
    status_en: str
    stages: list[Stage]
    deadline: datetime | None = Field(None, description="when the case is due to be concluded / 承诺办结时间")
    updated_at: datetime


def citizen_view(snap: CaseSnapshot) -> Tracking:
    rated = snap.status == "evaluated" and snap.phase is Phase.awaiting_evaluation  # rated, not yet archived
    zh, en = (None if rated else PHASE.get(snap.phase)) or STATUS.get(snap.status, ("办理中", "in progress"))
    stages = [Stage(stage=f.removesuffix("_at"), name_zh=z, name_en=e, at=getattr(snap, f).astimezone(CST))
              for f, z, e in STAGES if getattr(snap, f) is not None]
    stages.sort(key=lambda s: s.at)
    open_round = snap.phase is Phase.open and snap.resolve_due_at is not None
    return Tracking(case_id=snap.case_id, status=snap.status, status_zh=zh, status_en=en, stages=stages,
                    deadline=snap.resolve_due_at.astimezone(CST) if open_round and snap.resolve_due_at else None,
                    updated_at=snap.updated_at.astimezone(CST))
