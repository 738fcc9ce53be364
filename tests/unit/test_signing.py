"""Command signatures (fengqiao.signing): only the console's key makes a command the worker applies."""

from __future__ import annotations

import json

import pytest

from fengqiao.signing import HEADER, header_value, signature, signed_headers, verify

pytestmark = pytest.mark.unit

KEY = "k-" + "x" * 30
CMD = json.dumps({"type": "alert.acknowledge", "officer_id": "officer", "alert_id": "A-1"}).encode()


def test_a_signed_command_verifies() -> None:
    headers = signed_headers(KEY, CMD)
    assert headers[0][0] == HEADER and verify(KEY, CMD, header_value(headers)) is None


def test_an_unsigned_command_is_refused_with_a_bilingual_reason() -> None:
    reason = verify(KEY, CMD, header_value(None))
    assert reason and "未签名" in reason and "unsigned" in reason


@pytest.mark.parametrize("sig", [b"v1=" + b"0" * 64, b"v2=abc", signature("another-key", CMD)])
def test_a_wrong_signature_is_refused(sig: bytes) -> None:
    reason = verify(KEY, CMD, sig)
    assert reason and "(command)" in reason


def test_changing_the_officer_breaks_the_signature() -> None:
    sig = signature(KEY, CMD)
    forged = CMD.replace(b'"officer"', b'"director"')
    reason = verify(KEY, forged, sig)
    assert reason and "伪造" in reason and "forged" in reason


def test_headers_are_read_in_both_kafka_forms() -> None:
    sig = signature(KEY, CMD)
    assert header_value([("other", b"1"), (HEADER, sig)]) == sig
    assert header_value({HEADER: sig}) == sig and header_value({b"fq-signature": sig}.items()) == sig
    assert header_value([("other", b"1")]) is None


def test_an_empty_key_never_signs() -> None:
    with pytest.raises(ValueError):
        signature("", CMD)
    assert verify("", CMD, signature(KEY, CMD))
