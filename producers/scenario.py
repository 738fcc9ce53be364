"""The simulator's model: arrivals, surges, duplicates and per-case lifecycles.

`Scenario` is a deterministic discrete-event generator: given a seed, a start
instant and a speed it yields contract events in time order, where time is
seconds after `start`. It has no clock and no I/O; `generate_events` drains it
as fast as it can, `run_simulator` paces it against the wall clock.

* Arrivals: a Poisson process of `rate` new petitions per second, modulated by
  the daily curve (`sim_data.HOURLY_CURVE`, mean 1) read at the *virtual* hour
  `start + t * speed`, so a compressed demo shows nights and morning peaks.
* Lifecycles (`producers.sim_case`): each case's next event is chosen from its
  lifecycle state (`fengqiao.domain.lifecycle.apply` over the events already
  emitted, with the same policy profile as the streams worker), timed by natural
  delays divided by `speed` and by the deadlines that policy sets:
  received → assigned (→ returned → assigned)* → signed (→ escalated → assigned)
  (→ extended) (→ replied resolved=false) → replied → evaluated | callback | nothing
  → [dissatisfied: re-opened → assigned → signed → replied → …] → archived;
  consult cases: received → resolved_online; duplicates: received → merged.
  An event the lifecycle refuses is never sent (`rejected` counts them: 0).
* Returns (假性整改): a share (`repeat_share`) of the citizens whose case was answered as resolved
  petition again on the same topic within 30 days: the repeat detector's matter.
* Surges: now and then one topic in one county gets a burst of similar
  petitions (for the hotspot and class-case detectors).
"""

from __future__ import annotations

import heapq
import logging
import random
import uuid
from datetime import datetime, timedelta
from typing import Any, Iterator

from fengqiao import privacy
from fengqiao.contract import EVENT_ADAPTER, Envelope
from fengqiao.domain.calendar import WorkCalendar, load_calendar
from fengqiao.domain.lifecycle import LifecycleError, apply
from fengqiao.domain.policy import Policy, load_policy
from fengqiao.regions import regions
from fengqiao.settings import DEV_PII_KEY
from fengqiao.vocab import SCHEMA_VERSION
from fengqiao.vocab import TZ as CST
from producers import sim_data as D
from producers.sim_case import DAY, HOUR, MIN, Behaviour, Pace, SimCase, Step, lifecycle, weighted

log = logging.getLogger("fengqiao.simulator")
DEFAULT_START = datetime(2026, 11, 23, 8, 0, tzinfo=CST)  # a Monday morning
DEFAULT_PII_KEY = DEV_PII_KEY  # the built-in development key (fengqiao.settings)


class Scenario:
    """A seeded stream of contract events; see the module docstring."""

    def __init__(
        self,
        seed: int,
        start: datetime = DEFAULT_START,
        speed: float = 1.0,
        rate: float = 1.0,
        *,
        pii_key: str = DEFAULT_PII_KEY,
        protect: bool = True,
        seal: bool = False,
        emit_merges: bool = True,
        surge_every: float | None = None,
        duplicate_share: float = 0.05,
        repeat_share: float = 0.03,
        curve: bool = True,
        policy: Policy | None = None,
        calendar: WorkCalendar | None = None,
        behaviour: Behaviour | None = None,
        dispatch_within: float | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware / 开始时间必须带时区")
        if speed <= 0 or rate <= 0:
            raise ValueError("speed and rate must be positive / speed 和 rate 必须为正数")
        self.rng = random.Random(seed)
        self.ids = random.Random(f"{seed}|{start.isoformat()}")
        self.start = start
        self.speed = speed
        self.rate = rate
        self.pii_key = pii_key
        self.protect = protect
        self.seal = seal
        self.emit_merges = emit_merges
        self.duplicate_share = duplicate_share
        self.repeat_share = repeat_share
        self._returns = random.Random(f"{seed}|returns")  # its own draws: the other cases' stories do not move
        self.curve = curve
        self.policy = policy or load_policy()
        self.calendar = calendar or load_calendar()
        self.pace = Pace(self.rng, speed, behaviour or Behaviour(), dispatch_within)
        self.rejected = 0  # events the lifecycle refused (a simulator bug; never sent)
        mean = sum(D.HOURLY_CURVE) / len(D.HOURLY_CURVE)
        self._curve = [c / mean for c in D.HOURLY_CURVE]
        w = D.county_weights()
        self._codes = list(w)
        self._cum = list(_cumsum([w[c] for c in self._codes]))
        self._topics = list(D.TOPICS)
        self._topic_w = [D.TOPICS[t]["weight"] for t in self._topics]
        self._surge_topics = [t for t in self._topics if D.TOPICS[t].get("surge")]
        self._tag = f"S{seed % 10000}{start.astimezone(CST):%y%m%d%H%M%S}"
        self._n_cases = 0
        self._seq = 0
        self._heap: list[tuple[float, int, str, Any]] = []
        # one surge per 4 virtual hours by default, the first one early
        self.surge_every = surge_every if surge_every is not None else 4 * HOUR / speed
        self._next_surge = self.rng.uniform(0.05, 0.5) * self.surge_every
        self._next_arrival = self._interarrival(0.0)

    # ------------------------------------------------------------ clock helpers
    def at(self, t: float) -> datetime:
        return self.start + timedelta(milliseconds=round(t * 1000))

    def _intensity(self, t: float) -> float:
        if not self.curve:
            return self.rate
        virt = (self.start + timedelta(seconds=t * self.speed)).astimezone(CST)
        h = virt.hour + virt.minute / 60
        i = int(h) % 24
        frac = h - int(h)
        return self.rate * (self._curve[i] * (1 - frac) + self._curve[(i + 1) % 24] * frac)

    def _interarrival(self, t: float) -> float:
        """The next arrival after `t` of the Poisson process with the curve's intensity, by
        thinning (a draw at the night's low rate used to skip a whole day at `speed` 1)."""
        peak = self.rate * (max(self._curve) if self.curve else 1.0)
        while True:
            t += self.rng.expovariate(peak)
            if not self.curve or self.rng.random() * peak <= self._intensity(t):
                return t

    def _push(self, t: float, kind: str, obj: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, obj))

    # ------------------------------------------------------------ public
    def peek_time(self) -> float:
        """Seconds after `start` of the next event."""
        nxt = min(self._next_arrival, self._next_surge)
        return min(nxt, self._heap[0][0]) if self._heap else nxt

    def next_event(self) -> tuple[float, Envelope]:
        """The next event in time order and its offset (seconds after start)."""
        while True:
            if self._heap and self._heap[0][0] <= min(self._next_arrival, self._next_surge):
                t, _, kind, obj = heapq.heappop(self._heap)
                if kind == "arrive":
                    return t, self._arrive(t, **obj)
                ev = self._advance(t, obj)
                if ev is not None:
                    return t, ev
                continue
            if self._next_surge < self._next_arrival:
                t = self._next_surge
                self._schedule_surge(t)
                self._next_surge = t + self.rng.uniform(0.6, 1.4) * self.surge_every
                continue
            t = self._next_arrival
            self._next_arrival = self._interarrival(t)
            return t, self._arrive(t)

    def events(self) -> Iterator[tuple[float, Envelope]]:
        while True:
            yield self.next_event()

    # ------------------------------------------------------------ arrivals
    def _county(self) -> str:
        x = self.rng.random() * self._cum[-1]
        lo, hi = 0, len(self._cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return self._codes[lo]

    def _new_case_id(self) -> str:
        self._n_cases += 1
        return f"{self._tag}-{self._n_cases:07d}"

    def _citizen(self, channel: str, region_code: str) -> dict[str, str] | None:
        rng = self.rng
        if channel in ("web", "app", "open311") and rng.random() < 0.12:
            return None  # anonymous
        c: dict[str, str] = {}
        if rng.random() < 0.85:
            c["name"] = rng.choice(D.SURNAMES) + "".join(rng.choice(D.GIVEN) for _ in range(rng.choice((1, 2, 2))))
        c["phone"] = rng.choice(D.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if channel in ("window", "qrcode") or rng.random() < 0.15:
            birth = datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
            first17 = f"{region_code}{birth:%Y%m%d}{rng.randrange(1000):03d}"
            c["id_number"] = first17 + privacy.id_check_digit(first17)
        return c

    def _slots(self, county: str) -> dict[str, Any]:
        rng = self.rng
        roads = rng.sample(D.ROADS, 2)
        return {
            "town": rng.choice(D.TOWNS), "village": rng.choice(D.VILLAGES), "community": rng.choice(D.COMMUNITIES),
            "company": rng.choice(D.COMPANIES), "road": roads[0], "road2": roads[1], "n": rng.randint(2, 60),
            "months": rng.randint(1, 10), "amount": rng.randrange(2, 200) * 500, "school": county + rng.choice(D.SCHOOLS),
            "hospital": rng.choice(D.HOSPITALS),
        }

    def _arrive(self, t: float, *, region_code: str | None = None, topic: str | None = None,
                channel: str | None = None, citizen: dict | None = None, dup_of: SimCase | None = None,
                surge_slots: dict | None = None) -> Envelope:
        rng = self.rng
        if dup_of is not None:
            region_code, topic, citizen = dup_of.region_code, dup_of.topic, dup_of.citizen
        region_code = region_code or self._county()
        topic = topic or rng.choices(self._topics, weights=self._topic_w)[0]
        spec = D.TOPICS[topic]
        channel = channel or weighted(rng, D.CHANNEL_WEIGHTS)
        category = dup_of.category if dup_of else weighted(rng, spec["categories"])
        county = regions()[region_code].name
        slots = surge_slots or (dup_of.slots if dup_of else self._slots(county))
        case = SimCase(
            case_id=self._new_case_id(), region_code=region_code, channel=channel, category=category, topic=topic,
            urgency="pressing" if surge_slots else weighted(rng, D.URGENCY_WEIGHTS),
            difficulty=weighted(rng, D.DIFFICULTY_WEIGHTS), town=slots["town"],
            citizen=citizen if (citizen is not None or dup_of) else self._citizen(channel, region_code),
            formal=category in ("dispute", "complaint") and rng.random() < 0.03,
            dup_of=dup_of.case_id if dup_of else None, surge=surge_slots is not None, slots=slots,
        )
        title = rng.choice(spec["titles"]).format_map(slots)
        content = rng.choice(spec["contents"]).format_map(slots)
        if dup_of:
            title = ("再次反映：" + title)[:100]
            content = "此前已通过其他渠道反映，至今未解决。" + content
        payload: dict[str, Any] = {
            "category": category, "topic": topic, "urgency": case.urgency, "difficulty": case.difficulty,
            "title": title[:100], "content": content[:4000],
        }
        if case.formal:
            payload["formal_petition"] = True
        if case.citizen:
            payload["citizen"] = (privacy.protect_citizen(case.citizen, self.pii_key, seal_clear=self.seal,
                                                          case_id=case.case_id)
                                  if self.protect else dict(case.citizen))
        if rng.random() < 0.55:
            payload["location"] = self._location(region_code, slots)
        actor = ({"role": "operator", "id": f"op-{rng.randint(1, 80):03d}"} if channel in ("hotline", "window")
                 else {"role": "citizen", "id": "anonymous" if not case.citizen else
                       "c-" + privacy.phone_hash(case.citizen["phone"], self.pii_key)[:16]})
        ev = self._event(t, case, "petition.received", payload, actor, channel)
        self._accept(t, case, ev)
        # a second submission by the same citizen via another channel, within days
        if dup_of is None and not case.surge and case.citizen and rng.random() < self.duplicate_share:
            other = weighted(rng, {k: v for k, v in D.CHANNEL_WEIGHTS.items() if k != channel})
            self._push(t + rng.uniform(1 * HOUR, 4 * DAY) / self.speed, "arrive",
                       {"channel": other, "dup_of": case})
        self._schedule_next(t, (case, lifecycle(case, rng, self.pace, self.emit_merges)))
        return ev

    def _location(self, region_code: str, slots: dict) -> dict[str, Any]:
        r = regions()[region_code]
        p = regions()[r.parent_code] if r.parent_code in regions() else r
        lat = r.seat_lat if r.seat_lat is not None else p.seat_lat or 38.04
        lon = r.seat_lon if r.seat_lon is not None else p.seat_lon or 114.5
        spread = 0.04 if r.seat_lat is not None else 0.35
        return {"lat": round(lat + self.rng.uniform(-spread, spread), 5),
                "lon": round(lon + self.rng.uniform(-spread, spread), 5),
                "address": f"{r.name}{slots['town']}{slots['road']}{self.rng.randint(1, 300)}号"}

    def _schedule_surge(self, t: float) -> None:
        """A burst of 12–40 similar petitions on one topic in one county over 10–30 virtual minutes."""
        rng = self.rng
        region_code = self._county()
        topic = rng.choice(self._surge_topics)
        slots = self._slots(regions()[region_code].name)
        n = rng.randint(12, 40)
        span = rng.uniform(10 * MIN, 30 * MIN) / self.speed
        for off in sorted(rng.uniform(0, span) for _ in range(n)):
            self._push(t + off, "arrive", {"region_code": region_code, "topic": topic, "surge_slots": slots})

    # ------------------------------------------------------------ lifecycles
    def _schedule_next(self, t: float, item: tuple[SimCase, Iterator[Step]]) -> None:
        step = next(item[1], None)
        if step is not None:
            self._push(t + max(step[0], 1e-3), "step", (item[0], item[1], step))

    def _advance(self, t: float, obj: tuple[SimCase, Iterator[Step], Step]) -> Envelope | None:
        case, gen, (_, etype, payload, actor, channel) = obj
        ev = self._event(t, case, etype, payload, actor, channel)
        if not self._accept(t, case, ev):
            gen.close()
            return None
        self._schedule_next(t, (case, gen))
        if etype == "case.replied" and payload.get("resolved") is True:
            self._maybe_return(t, case)
        return ev

    def _maybe_return(self, t: float, case: SimCase) -> None:
        """假性整改: now and then the citizen of a case answered as resolved petitions again on the
        same topic in the same county within 30 days (the repeat detector's matter)."""
        r = self._returns
        if case.citizen and case.dup_of is None and not case.surge and r.random() < self.repeat_share:
            self._push(t + r.uniform(2 * DAY, 25 * DAY) / self.speed, "arrive",
                       {"region_code": case.region_code, "topic": case.topic, "citizen": case.citizen})

    def _accept(self, t: float, case: SimCase, ev: Envelope) -> bool:
        """Apply `ev` to the case's lifecycle state; an event the lifecycle refuses is a
        simulator bug: logged, counted in `rejected`, never sent (the case's story ends)."""
        try:
            case.state = apply(case.state, ev, self.policy, self.calendar)
        except LifecycleError as exc:
            self.rejected += 1
            log.warning("simulator: dropped an event the lifecycle refuses: %s", exc)
            return False
        case.now = self.at(t)
        return True

    def _event(self, t: float, case: SimCase, etype: str, payload: dict, actor: dict | None, channel: str) -> Envelope:
        raw: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "event_id": str(uuid.UUID(int=self.ids.getrandbits(128), version=4)),
            "event_type": etype, "case_id": case.case_id, "occurred_at": self.at(t),
            "region_code": case.region_code, "channel": channel, "payload": payload,
        }
        if actor:
            raw["actor"] = actor
        return EVENT_ADAPTER.validate_python(raw)


def _cumsum(xs: list[float]) -> Iterator[float]:
    s = 0.0
    for x in xs:
        s += x
        yield s
