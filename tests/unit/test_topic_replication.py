"""Replication of a topic the project creates comes from the cluster's configuration, not from
the brokers alive now (issue 13: a process starting while one of three nodes is down must not
create a topic with 2 copies)."""

from __future__ import annotations

import pytest

from broker.topics import ClusterView, Replication, TopicError

pytestmark = pytest.mark.unit


def test_the_brokers_configured_copies_win_over_the_live_count() -> None:
    one_down = ClusterView(registered=3, alive=2, default_factor=3, default_min_insync=2)
    assert one_down.replication() == Replication(3, 2)
    assert ClusterView(1, 1, 1, 1).replication() == Replication(1, 1)  # the single local broker


def test_unconfigured_brokers_give_the_registered_count_fenced_ones_included() -> None:
    assert ClusterView(registered=3, alive=2).replication() == Replication(3, 2)
    assert ClusterView(registered=2, alive=1).replication() == Replication(2, 1)
    # a factor set, min.insync.replicas left at Kafka's default: one fewer than the copies
    assert ClusterView(3, 3, default_factor=3).replication() == Replication(3, 2)


def test_settings_override_the_cluster_and_impossible_values_are_refused() -> None:
    view = ClusterView(3, 3, default_factor=3, default_min_insync=2)
    assert view.replication(factor=2) == Replication(2, 1)
    assert view.replication(factor=3, min_insync=3) == Replication(3, 3)
    with pytest.raises(TopicError, match="exceeds the 3 broker"):
        view.replication(factor=4)
    with pytest.raises(TopicError, match="exceeds the 1 broker"):
        ClusterView(1, 1, default_factor=3).replication()
