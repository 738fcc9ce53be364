"""Start-up guards and deployment choices: the faust patch check, replication, topic specs, acks."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

from broker.topics import Replication, TopicError, choose_replication, internal_topics, project_topics
from fengqiao.settings import PROJECT_ROOT, Settings, StreamsSettings, Topics
from streams import app as app_mod, faust_fixes

pytestmark = pytest.mark.unit


def test_faust_patch_refuses_a_method_it_was_not_written_for() -> None:
    from faust.transport.producer import ProducerBuffer

    faust_fixes.before_build()
    original = ProducerBuffer._fengqiao_original  # type: ignore[attr-defined]
    faust_fixes.check_patchable(original)  # the installed faust: the patch applies

    async def _handle_pending(self: object) -> None:  # a faust whose loop changed
        while True:
            await self.pending.get()  # type: ignore[attr-defined]

    with pytest.raises(faust_fixes.FaustPatchError, match="pyproject.toml"):
        faust_fixes.check_patchable(_handle_pending)
    with pytest.raises(faust_fixes.FaustPatchError, match="拒绝启动"):
        faust_fixes.check_patchable(original, known=frozenset({"0" * 64}))


def test_faust_is_pinned_to_the_tested_range() -> None:
    text = (PROJECT_ROOT / "pyproject.toml").read_text("utf-8")
    assert re.search(r'"faust-streaming>=0\.15\.2,<0\.16"', text)
    major, minor, *_ = (int(x) for x in version("faust-streaming").split(".")[:3])
    assert (major, minor) == (0, 15)


@pytest.mark.parametrize("brokers, want", [(1, (1, 1)), (2, (2, 1)), (3, (3, 2)), (6, (3, 2))])
def test_replication_follows_the_broker_count(brokers: int, want: tuple[int, int]) -> None:
    rep = choose_replication(brokers)
    assert (rep.factor, rep.min_insync) == want
    assert rep.topic_configs() == {"min.insync.replicas": str(want[1])}


def test_replication_from_settings_and_clear_refusals() -> None:
    assert choose_replication(5, factor=2) == Replication(2, 1)
    assert choose_replication(3, factor=3, min_insync=3) == Replication(3, 3)
    with pytest.raises(TopicError, match="exceeds"):
        choose_replication(1, factor=3)
    with pytest.raises(TopicError, match="min.insync.replicas 3 exceeds"):
        choose_replication(3, factor=2, min_insync=3)
    assert Replication.from_settings(Settings()) == Replication(1, 1)  # no broker asked: one local broker
    s = Settings(topics=Topics(replication_factor=3, min_insync_replicas=2))
    assert Replication.from_settings(s) == Replication(3, 2)


def test_one_topic_spec_for_every_process() -> None:
    s = Settings(topics=Topics(partitions=6), streams=StreamsSettings(app_id="w"))
    specs = {t.name: t for t in project_topics(s, worker=True)}
    assert set(specs) == {*s.all_topics(), *internal_topics("w").values()}
    assert {t.name for t in project_topics(s)} == set(s.all_topics())  # the internal ones: the worker's own
    assert {t.partitions for t in specs.values()} == {6}
    assert [n for n, t in specs.items() if t.configs.get("cleanup.policy") == "compact"] == [s.topics.cases]


def test_producers_wait_for_all_in_sync_replicas(tmp_path: Path) -> None:
    from producers.kafka_out import producer_config

    assert producer_config(Settings())["acks"] == "all"
    app = app_mod.build_app(Settings(streams=StreamsSettings(app_id="acks-test")), workdir=tmp_path / "w",
                            store="memory://", replication_factor=3)
    assert app.conf.producer_acks == -1 and app.conf.topic_replication_factor == 3


def test_no_test_only_branches_in_the_worker() -> None:
    """Tests inject the sender, the partitions and the source topic; production code does not ask
    whether it runs in a test (issue 10: `live` in runtime.py, sniffing `b'{"op"'` in agents_case.py)."""
    import inspect

    from streams import agents_case, runtime

    assert "live" not in {f.name for f in runtime.Runtime.__dataclass_fields__.values()}
    assert "startswith(b'{\"op\"'" not in inspect.getsource(agents_case)
    assert not re.search(r"\bif not self\.live\b|test context", inspect.getsource(runtime))
