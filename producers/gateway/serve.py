"""`fengqiao gateway`: run the intake gateway under uvicorn."""

from __future__ import annotations

import logging

from fengqiao import logs
from fengqiao.settings import Settings


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve until Ctrl-C/SIGTERM (uvicorn handles both and runs the shutdown hook)."""
    import uvicorn

    from producers.gateway.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logs.install()  # an outage of the broker: logged once, then at a bounded rate
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)
