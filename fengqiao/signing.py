"""Signed operator commands: the worker applies only what the console authenticated.

Anyone who can write to `petitions.commands` could otherwise acknowledge, silence or
escalate in any officer's name. The console (which logged the officer in) signs the exact
bytes of each command it publishes with an HMAC-SHA256 key it shares only with the
streams worker (`FENGQIAO_COMMAND_KEY`); the signature travels in the Kafka header
`fq-signature` as `v1=<hex>`, so the record itself stays the contract's. Because the
officer_id is inside the signed bytes, changing it breaks the signature. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Iterable, Mapping

HEADER = "fq-signature"
SCHEME = "v1"


def signature(key: str, value: bytes) -> bytes:
    """The header value for `value` signed with `key`."""
    if not key:
        raise ValueError("签名密钥为空 the command signing key is empty (set FENGQIAO_COMMAND_KEY)")
    mac = hmac.new(key.encode(), value, hashlib.sha256).hexdigest()
    return f"{SCHEME}={mac}".encode()


def signed_headers(key: str, value: bytes) -> list[tuple[str, bytes]]:
    """Kafka headers to send with a command."""
    return [(HEADER, signature(key, value))]


def header_value(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None, name: str = HEADER) -> bytes | None:
    """One header from a Kafka record's headers (a list of pairs or a mapping), or None."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for k, v in pairs:
        k = k.decode() if isinstance(k, bytes) else k
        if k == name:
            return v.encode() if isinstance(v, str) else v
    return None


def verify(key: str, value: bytes | None, sig: bytes | str | None) -> str | None:
    """None if `sig` is `value`'s signature under `key`; else the bilingual reason it is not."""
    if value is None:
        return "(command): 空消息 empty message"
    if not sig:
        return "(command): 指令未签名，来源未经认证 unsigned command: not from an authenticated console"
    given = sig.encode() if isinstance(sig, str) else sig
    if not given.startswith(f"{SCHEME}=".encode()):
        return f"(command): 签名格式无效 unknown signature scheme (expected {SCHEME}=<hex>)"
    if not key or not hmac.compare_digest(given, signature(key, value)):
        return "(command): 签名不符，指令可能被伪造或篡改 bad signature: forged or altered command"
    return None
