"""Citizen tracking, the pure parts: the token, what a citizen sees, the check and its limits."""

from __future__ import annotations

from typing import Any

import asyncio
import time

import pytest

from fengqiao import privacy
from fengqiao.privacy import track_token as token_of
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import CaseState, replay, snapshot
from fengqiao.domain.policy import load_policy
from producers.gateway.errors import HttpError
from producers.gateway.readback import ReadbackUnavailable
from producers.gateway.track import citizen_view
from producers.gateway.track_page import Tracker, render, result_html
from domain_factory import archived, assigned, evaluated, received, replied, signed

pytestmark = pytest.mark.unit
KEY = "test-pii-key"
P, CAL = load_policy(), load_calendar()


def _case(cid: str, *more: str) -> CaseState:
    evs = [received(cid, "2026-09-28T09:00:00+08:00", citizen={"name": "张*", "phone": "138****5678",
                                                                  "track_token": token_of(cid, "5678", KEY)})]
    steps = {"assigned": assigned(cid, "2026-09-28T09:30:00+08:00", department="正定县住建局"),
             "signed": signed(cid, "2026-09-28T10:00:00+08:00", department="正定县住建局"),
             "replied": replied(cid, "2026-09-29T15:00:00+08:00", department="正定县住建局"),
             "evaluated": evaluated(cid, "2026-09-29T18:00:00+08:00"),
             "archived": archived(cid, "2026-09-30T09:00:00+08:00")}
    return replay(evs + [steps[m] for m in more], P, CAL)


def token(case_id: str | None, phone: str, key: str = KEY) -> str | None:
    return (privacy.protect_citizen({"phone": phone}, key, case_id=case_id) or {}).get("track_token")


def test_token_is_the_same_for_every_way_of_writing_the_phone_and_holds_no_digits() -> None:
    forms = ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "１３８１２３４５６７８"]
    assert len({token("C-1", f) for f in forms}) == 1
    tok = token("C-1", "13812345678")
    assert tok == token_of("C-1", "5678", KEY) and "5678" not in tok and len(tok) == 64
    assert tok != token("C-2", "13812345678") != token_of("C-1", "5679", KEY)
    assert tok != token("C-1", "13812345678", "another key")
    assert tok != privacy.phone_hash("13812345678", KEY) and token("C-1", "123") is None
    assert token(None, "13812345678") is None and token("C-1", "138****5678") is None  # no case, or masked already


def test_the_case_state_keeps_the_token_from_the_citizen_block() -> None:
    st = _case("T-1")
    assert st.track_token == token_of("T-1", "5678", KEY)
    assert CaseState.from_dict(st.to_dict()).track_token == st.track_token
    assert replay([received("T-0", "2026-09-28T09:00:00+08:00")], P, CAL).track_token == ""


@pytest.mark.parametrize("steps, zh, stages, has_deadline", [
    ((), "已受理", ["received"], True),
    (("assigned",), "已转交承办单位", ["received", "assigned"], True),
    (("assigned", "signed"), "办理中", ["received", "assigned", "signed"], True),
    (("assigned", "signed", "replied"), "已答复，待评价", ["received", "assigned", "signed", "replied"], False),
    (("assigned", "signed", "replied", "evaluated"), "已评价", ["received", "assigned", "signed", "replied"], False),
    (("assigned", "signed", "replied", "evaluated", "archived"), "已办结",
     ["received", "assigned", "signed", "replied", "closed"], False),
])
def test_citizen_view_speaks_the_citizens_words(steps: tuple[str, ...], zh: str, stages: list[str],
                                                has_deadline: bool) -> None:
    t = citizen_view(snapshot(_case("V-1", *steps)))
    assert t.status_zh == zh and [s.stage for s in t.stages] == stages
    assert (t.deadline is not None) == has_deadline
    assert t.stages[0].at.isoformat() == "2026-09-28T09:00:00+08:00" and t.stages[0].name_zh == "已受理"
    text = t.model_dump_json() + result_html(t)
    assert "住建局" not in text and "department" not in text and "138" not in text and "张" not in text


class View:
    """A stand-in for the worker's case view (the HTTP client is tested on the real worker)."""

    def __init__(self, cases: dict[str, CaseState], down: bool = False) -> None:
        self.cases, self.down, self.calls = cases, down, 0

    def tracked(self, case_id: str) -> tuple[dict[str, Any], str] | None:
        self.calls += 1
        if self.down:
            raise ReadbackUnavailable("down")
        st = self.cases.get(case_id)
        return (snapshot(st).model_dump(mode="json"), st.track_token) if st is not None else None


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _refused(tr: Tracker, cid: str, last4: str, client: str = "1.2.3.4") -> HttpError:
    with pytest.raises(HttpError) as e:
        tr.find(cid, last4, client)
    return e.value


def test_wrong_phone_unknown_case_and_no_token_give_one_answer() -> None:
    bare = replay([received("N-1", "2026-09-28T09:00:00+08:00")], P, CAL)
    tr = Tracker(View({"K-1": _case("K-1", "assigned"), "N-1": bare}), KEY, 0, 1, 0)
    assert tr.find("K-1", "5678", "c").status_zh == "已转交承办单位"
    answers = [_refused(tr, "K-1", "0000"), _refused(tr, "U-1", "5678"), _refused(tr, "N-1", "5678")]
    assert {a.status for a in answers} == {404} and len({str(a.body()) for a in answers}) == 1
    assert tr.view.calls == 4  # an unknown case is looked up and hashed like a known one


def test_rate_limits_per_client_and_per_case_number() -> None:
    clock = Clock()
    tr = Tracker(View({"K-1": _case("K-1")}), KEY, per_minute=6, burst=2, case_per_hour=3,
                 clock=clock)
    tr.find("K-1", "5678", "a")
    assert _refused(tr, "X-1", "5678", "a").status == 404
    limited = _refused(tr, "K-1", "5678", "a")
    assert limited.status == 429 and limited.headers == {"Retry-After": "10"}
    tr.find("K-1", "5678", "b")  # another address: its own bucket; the case number's second attempt
    assert _refused(tr, "K-1", "5678", "c").status == 429  # the case number's bucket is empty, whoever asks
    clock.t = 1200.0  # 20 minutes: a token back for the case, the clients full again
    assert tr.find("K-1", "5678", "c").case_id == "K-1"


def test_case_view_down_is_503_and_the_page_escapes_what_it_echoes() -> None:
    assert _refused(Tracker(View({}, down=True), KEY, 0, 1, 0), "K-1", "5678").status == 503
    out = render("", '"><script>alert(1)</script>')
    assert "<script>alert" not in out and "&quot;&gt;&lt;script&gt;" in out


def test_every_answer_takes_at_least_the_floor() -> None:
    tr = Tracker(View({"K-1": _case("K-1")}), KEY, 0, 1, 0, floor=0.05)
    for cid, last4 in (("K-1", "5678"), ("K-1", "0000"), ("U-1", "5678")):
        start = time.monotonic()
        try:
            asyncio.run(tr.answer(cid, last4, "c"))
        except HttpError as e:
            assert e.status == 404
        assert time.monotonic() - start >= 0.05
