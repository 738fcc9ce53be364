"""The wall during outages (issue 13 item 3): the banner's reasons computed by the functions the
wall page calls, against real dead ports: a broker that stops answering is reported within 10 s
and the banner goes by itself once it answers again; a ClickHouse server that cannot be reached
(server mode, not runnable here: an unreachable URL) gives no numbers and a reason, no password."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from broker.local import free_port
from broker.wire import parse_bootstrap
from dashboard import queries
from dashboard.runtime import BROKER_PROBE_TTL, broker_reason, load_rows
from fengqiao.settings import Settings

pytestmark = pytest.mark.integration


class Relay:
    """A TCP relay on its own port to the real broker: open, the port answers as the broker does;
    closed, the port is dead (the broker 'down' without stopping the shared broker)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.server: socket.socket | None = None

    def open(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def close(self) -> None:
        if self.server is not None:
            try:
                self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept(): the port is dead at once
            except OSError:
                pass
            self.server.close()
            self.server = None

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass


@pytest.fixture
def relay(kafka_bootstrap: str) -> Iterator[Relay]:
    r = Relay(parse_bootstrap(kafka_bootstrap)[0])
    yield r
    r.close()


def _until(check: object, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - t0
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s")


def test_broker_down_banner_within_10_s_and_gone_by_itself(relay: Relay) -> None:
    s = Settings(kafka_bootstrap=f"127.0.0.1:{relay.port}")
    relay.open()
    assert broker_reason(s) == ""
    relay.close()
    said = _until(lambda: broker_reason(s) != "", 10)
    assert said <= BROKER_PROBE_TTL + 2
    reason = broker_reason(s)
    assert "Kafka unreachable" in reason and "消息服务" in reason and str(relay.port) in reason
    relay.open()
    gone = _until(lambda: broker_reason(s) == "", 10)
    print(f"\nwall banner: broker down said after {said:.1f} s, gone {gone:.1f} s after it answered again")


def test_one_node_answering_is_enough(kafka_bootstrap: str) -> None:
    assert broker_reason(Settings(kafka_bootstrap=f"127.0.0.1:{free_port()},{kafka_bootstrap}")) == ""


def test_clickhouse_server_unreachable_gives_no_numbers_and_the_reason_in_time() -> None:
    s = Settings(clickhouse_url=f"http://default:s3cret@127.0.0.1:{free_port()}", clickhouse_database="fq")
    t0 = time.monotonic()
    data, reason = load_rows(s, ["freshness", "case_board"], queries.fetch)
    assert time.monotonic() - t0 < 10
    assert data is None and reason and "s3cret" not in reason
    print(f"\nserver mode, store unreachable: banner reason {reason!r} in {time.monotonic() - t0:.1f} s")
