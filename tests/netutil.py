"""Small network helpers the tests share (free ports, is a port still bound)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    """Nothing listens there (SO_REUSEADDR, as servers use: TIME_WAIT leftovers don't count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def three_free_ports() -> int:
    """A port P with P+1 and P+2 free too (a 3-node cluster's client ports)."""
    for _ in range(200):
        p = free_port()
        if p + 2 < 65536 and port_free(p + 1) and port_free(p + 2):
            return p
    raise RuntimeError("no three consecutive free ports")


def prom_samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A Prometheus endpoint parsed by prometheus_client's own parser: (sample name, sorted labels) -> value."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}
