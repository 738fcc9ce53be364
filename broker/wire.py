"""A tiny raw Kafka Metadata request, to tell "the broker answers" quietly.

Client libraries log connection errors and retry with back-off while a broker
is still starting; this sends one Metadata v1 request (supported by every Kafka
from 0.10 to 4.x) on a plain socket and returns the brokers it lists, or None.
"""

from __future__ import annotations

import socket
import struct

_METADATA = 3
_VERSION = 1
_CLIENT_ID = b"fengqiao-probe"


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def metadata_brokers(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]] | None:
    """The (node_id, host, port) list a Metadata request returns, or None if no answer."""
    header = struct.pack(">hhih", _METADATA, _VERSION, 7, len(_CLIENT_ID)) + _CLIENT_ID
    body = struct.pack(">i", 0)  # an empty topic list: brokers only
    request = header + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _read_exact(sock, 4))
            data = _read_exact(sock, size)
    except (OSError, struct.error):
        return None
    try:
        (correlation, count) = struct.unpack_from(">ii", data, 0)
        if correlation != 7:
            return None
        pos = 8
        brokers: list[tuple[int, str, int]] = []
        for _ in range(count):
            (node_id, host_len) = struct.unpack_from(">ih", data, pos)
            pos += 6
            b_host = data[pos:pos + host_len].decode("utf-8", "replace")
            pos += host_len
            (b_port, rack_len) = struct.unpack_from(">ih", data, pos)
            pos += 6 + max(rack_len, 0)
            brokers.append((node_id, b_host, b_port))
        return brokers
    except struct.error:
        return None


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    """`host:port[,host:port]` -> [(host, port)]; a bare host gets 9092."""
    out: list[tuple[str, int]] = []
    for part in bootstrap.split(","):
        part = part.strip()
        if not part:
            continue
        host, _, port = part.rpartition(":")
        if not host:
            host, port = port, "9092"
        out.append((host.strip("[]"), int(port)))
    return out
