"""Reveal on the real broker: the contact appears only after its signed audit record was acknowledged,
and only for an officer whose jurisdiction covers the case (AppTest on seeded chDB data)."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer

from dashboard import auth, queries
from dashboard.seed import CLEAR_PHONE
from fengqiao.regions import prefectures
from fengqiao.settings import Settings, reveal
from fengqiao.signing import header_value, verify
from tests.unit.test_console_reveal import reveal as click_reveal
from tests.unit.test_dashboard_pages import _login, _text, seeded  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


def test_reveal_needs_the_acknowledged_audit_record_and_the_jurisdiction(
        seeded: tuple[Settings, dict], kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, info = seeded
    topic = f"t{uuid.uuid4().hex[:8]}.commands"
    monkeypatch.setenv("FENGQIAO_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("FENGQIAO_TOPICS__COMMANDS", topic)
    case_id = info["case_ids"][0]  # the seeded case with sealed contact data
    region = queries.run(settings, "case_summary", case_id)[0]["region_code"]
    other = next(p.code for p in prefectures() if not auth.User("x", "x", "officer", (p.code,)).covers(region))
    users = settings.data_dir / auth.USERS_FILE
    users.parent.mkdir(parents=True, exist_ok=True)
    users.write_text("".join(
        f'[users.{u}]\nname = "{u}"\nrole = "officer"\nscope = ["{scope}"]\npassword_hash = "{auth.hash_password("pw")}"\n'
        for u, scope in (("near", region), ("far", other))), "utf-8")

    far = click_reveal(_login(settings, "far", "pw"), case_id)
    text = _text(far) + "".join(str(w.value) for w in far.warning)
    assert "不在您的辖区内" in text and "outside your jurisdiction" in text and CLEAR_PHONE not in text

    near = click_reveal(_login(settings, "near", "pw"), case_id)
    assert not near.exception, near.exception
    shown = "".join(str(w.value) for w in near.warning)
    assert CLEAR_PHONE in shown and "联系方式" in shown

    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=3000)
    records = list(consumer)
    consumer.close()
    assert len(records) == 1  # the refused reveal sent nothing
    r = records[0]
    assert verify(reveal(Settings().command_key), r.value, header_value(r.headers)) is None
    assert b'"officer_id":"near"' in r.value and b'"case.reveal_contact"' in r.value and CLEAR_PHONE.encode() not in r.value
