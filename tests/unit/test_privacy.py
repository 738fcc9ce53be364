"""Masks, keyed hashes and sealing of citizens' contact data."""

from __future__ import annotations

import pytest

from fengqiao import privacy as P

pytestmark = pytest.mark.unit
KEY = "test-secret"


def test_masks() -> None:
    assert P.mask_name("张三丰") == "张**"
    assert P.mask_name("李四") == "李*"
    assert P.mask_phone("13812345678") == "138****5678"
    assert P.mask_phone("+86 138-1234-5678") == "138****5678"
    assert P.mask_id("130102199001011234") == "130102********1234"
    assert "19900101" not in P.mask_id("130102199001011234")


def test_keyed_hash_matches_normalised_and_depends_on_key() -> None:
    a = P.phone_hash("13812345678", KEY)
    assert a == P.phone_hash("+86 138 1234 5678", KEY)
    assert a != P.phone_hash("13812345678", "other-key")
    assert a != P.phone_hash("13812345679", KEY)
    assert len(a) == 64 and "13812345678" not in a
    # the matching key is not a plain hash of the number
    import hashlib
    assert a != hashlib.sha256(b"13812345678").hexdigest()


def test_seal_round_trip_and_wrong_key() -> None:
    token = P.seal({"phone": "13812345678", "name": "张三丰"}, KEY)
    assert "13812345678" not in token and "张" not in token
    assert P.unseal(token, KEY) == {"phone": "13812345678", "name": "张三丰"}
    with pytest.raises(ValueError, match="无法解密"):
        P.unseal(token, "wrong")


def test_protect_citizen_leaves_no_clear_value_and_is_idempotent() -> None:
    clear = {"name": "王小明", "phone": "13912345678", "id_number": "130102199001011237"}
    out = P.protect_citizen(clear, KEY)
    assert out is not None
    text = repr(out)
    for v in clear.values():
        assert v not in text
    assert out["phone"] == "139****5678" and out["name"] == "王**"
    assert out["phone_hash"] == P.phone_hash("13912345678", KEY)
    assert out["id_hash"] == P.id_hash("130102199001011237", KEY)
    assert P.unseal(out["sealed"], KEY)["id_number"] == "130102199001011237"
    assert not P.carries_clear_pii(out)
    assert P.protect_citizen(out, KEY) == out  # passing the door twice changes nothing
    assert P.carries_clear_pii(clear)


def test_id_check_digit() -> None:
    # GB 11643 example: 11010519491231002X
    assert P.id_check_digit("11010519491231002") == "X"
