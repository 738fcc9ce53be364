"""Gateway settings: the `gateway` group of `fengqiao.settings.Settings`
(`FENGQIAO_GATEWAY__*` variables), read once by the entry point."""

from __future__ import annotations

from typing import Any

from fengqiao.settings import CHANNELS, INTAKE_CHANNELS, ApiKey, GatewaySettings, KeyRole, Settings, exposure_problem

__all__ = ["CHANNELS", "INTAKE_CHANNELS", "ApiKey", "GatewaySettings", "KeyRole", "gateway_settings", "streams_base"]


def streams_base(gw: GatewaySettings, settings: Settings) -> str:
    """Where the streams worker's case view answers."""
    return (gw.streams_url or f"http://127.0.0.1:{settings.streams.web_port}").rstrip("/")


def gateway_settings(settings: Settings | None = None, **overrides: Any) -> GatewaySettings:
    """`settings.gateway`, with `overrides` applied (tests, benchmarks)."""
    base = settings.gateway if settings is not None else GatewaySettings()
    return base.model_copy(update=overrides) if overrides else base


def exposure(settings: Settings, host: str) -> str | None:
    """Why `fengqiao gateway --host <host>` must not start (dev keys or the built-in personal-data
    key beyond loopback), or None."""
    dev = ["FENGQIAO_GATEWAY__API_KEYS"] if settings.gateway.dev_keys else []
    return exposure_problem(host, settings.default_secrets() + dev)
