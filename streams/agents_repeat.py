"""Repeat complaints (假性整改): two agents around `fengqiao.domain.repeat`.

* `repeat-subjects` reads the events topic and the case snapshots (both keyed by `case_id`,
  co-partitioned) and remembers per case what it can be matched by: the keyed phone hash the
  door put into the masked citizen block, a keyed hash of the address, the topic. It forwards
  each petition, and each conclusion as resolved the case agent wrote into a snapshot (the
  domain's judgement, `repeat.conclusion_of`), once per match key to the internal `repeat`
  topic, keyed by that match key (a repartition: every fact of one citizen or address meets
  on one partition, whichever case partitions they came from).
* `repeat` keeps one `repeat.Book` per match key and publishes each repeat it reveals as a
  `RepeatRecord` on `petitions.repeats` (key: the repeat petition's case id), which the sink
  stores in `repeats`.

No clear phone travels here: the hash was made at the door where the phone was still clear
(gateway / simulator, `privacy.protect_citizen`). The address hash uses the same PII key as
the phone hash. Messages this agent cannot read are the case agent's dead letters already (it
reads the same bytes), so they are skipped here, not reported twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
import orjson

from broker.topics import internal_topics
from fengqiao.contract import ContractError, PetitionReceived, parse_event
from fengqiao.domain import repeat as rp
from fengqiao.records import CaseSnapshot
from fengqiao.settings import reveal
from streams.tables import ROCKSDB_OPTIONS

_RECEIVED = b'"petition.received"'
_MET = b'"resolve_status":"met"'


def subject_of(ev: PetitionReceived, secret: str) -> dict[str, Any]:
    """What the table keeps of one petition: its match keys and the petition fact."""
    p = ev.payload
    phone = p.citizen.phone_hash if p.citizen is not None else None
    addr = rp.address_hash(p.location.address if p.location is not None else None, secret)
    keys = rp.match_keys(phone, addr, p.topic)
    pet = rp.Petition(case_id=ev.case_id, received_at=ev.occurred_at, region_code=ev.region_code)
    return {"k": [k.encode() for k in keys], "p": pet.to_wire(), "c": None, "sent": None}


def register(rt: Any, also: Callable[[bytes], Awaitable[None]] | None = None) -> None:
    """`also`: another consumer of every events-topic message (the heartbeat's feed), run in this pass."""
    app: faust.App = rt.app
    s = rt.settings
    secret = reveal(s.pii_key)
    repeat_name = internal_topics(s.streams.app_id)["repeat"]
    n = s.topics.partitions
    repeat_topic = app.topic(repeat_name, partitions=n, key_type=str, key_serializer="raw", value_serializer="raw",
                             internal=True)
    out_topic = app.topic(s.topics.repeats, partitions=n, key_serializer="raw", value_serializer="raw")
    subjects = app.Table("repeat-subject", default=None, partitions=n, key_type=str, options=dict(ROCKSDB_OPTIONS))
    books = app.Table("repeat-book", default=None, partitions=n, key_type=str, options=dict(ROCKSDB_OPTIONS))
    cases_name = s.topics.cases

    async def forward(subject: dict[str, Any]) -> None:
        """The petition (once) and the latest conclusion not yet forwarded, to every match key."""
        msgs = []
        if not subject.get("sent_p"):
            msgs.append({"op": "p", "v": subject["p"]})
            subject["sent_p"] = True
        c = subject.get("c")
        if c is not None and c != subject.get("sent"):
            msgs.append({"op": "c", "v": c})
            subject["sent"] = c
        for key in subject["k"]:
            for m in msgs:
                await rt.send(repeat_topic, key.encode(), orjson.dumps(m))

    async def on_event(value: bytes) -> None:
        if also is not None:
            await also(value)
        if value is None or _RECEIVED not in value:
            return
        try:
            ev = parse_event(value)
        except ContractError:
            return  # the case agent dead-letters it
        if not isinstance(ev, PetitionReceived) or subjects.get(ev.case_id) is not None:
            return
        subject = subject_of(ev, secret)
        if not subject["k"]:  # nothing to match it by: a marker, so its conclusions are not kept waiting
            subjects[ev.case_id] = {"k": []}
            return
        pending = subjects.get(f"c|{ev.case_id}")  # a conclusion seen before its petition (replay)
        if pending is not None:
            subject["c"] = pending
            del subjects[f"c|{ev.case_id}"]
        await forward(subject)
        subjects[ev.case_id] = subject

    async def on_snapshot(value: bytes) -> None:
        if value is None or _MET not in value:
            return
        c = rp.conclusion_of(CaseSnapshot.model_validate_json(value))
        if c is None:
            return
        body = c.to_wire()
        subject = subjects.get(c.case_id)
        if subject is None:  # its petition not read yet (the two topics are read independently)
            subjects[f"c|{c.case_id}"] = body
            return
        if not subject["k"]:
            return
        if subject.get("sent") == body:
            return
        subject = {**subject, "c": body}
        await forward(subject)
        subjects[c.case_id] = subject

    @app.agent(app.topic(s.topics.events, cases_name, key_type=str, key_serializer="raw", value_serializer="raw"),
               name="repeat-subjects")
    async def subjects_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, raw = event.message, event.value
            handle = on_snapshot if m.topic == cases_name else on_event
            await rt.guarded(m, raw, lambda: handle(raw))

    async def on_fact(key: str, value: bytes) -> None:
        msg = orjson.loads(value)
        old = books.get(key)
        basis, topic, hashed = key.split("|", 2)
        book = rp.Book.from_dict(old) if old else rp.Book(rp.MatchKey(basis, hashed, topic))  # type: ignore[arg-type]
        if msg["op"] == "p":
            book, found = book.add_petition(rp.Petition.from_wire(msg["v"]))
        else:
            book, found = book.add_conclusion(rp.Conclusion.from_wire(msg["v"]))
        books[key] = book.to_dict()
        for r in found:
            await rt.send(out_topic, r.case_id.encode(), r.to_json())

    @app.agent(repeat_topic, name="repeat")
    async def repeat_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, key, raw = event.message, event.key, event.value
            await rt.guarded(m, raw, lambda: on_fact(key, raw))

    rt.agents.update(repeat_subjects=subjects_agent, repeat=repeat_agent)
