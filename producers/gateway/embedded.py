"""Run the gateway in a background thread on a free port (tests, benchmarks, `fengqiao up`)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from fengqiao.settings import Settings
from producers.gateway.config import GatewaySettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayThread:
    """`with GatewayThread(settings, gw) as g: httpx.post(g.url + "/v1/events", ...)`."""

    def __init__(self, settings: Settings, gw: GatewaySettings | None = None, port: int | None = None,
                 wait_index: bool = True) -> None:
        import uvicorn

        from producers.gateway.app import create_app

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, gw)
        self.wait_index = wait_index
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    @property
    def intake(self) -> Any:
        return self.app.state.intake

    def __enter__(self) -> "GatewayThread":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.05)
        if self.wait_index and not self.intake.index.ready.wait(60):
            raise RuntimeError("duplicate index not rebuilt within 60 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
