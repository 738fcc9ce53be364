"""Masks, keyed hashes and sealing of citizens' contact data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ------------------------------------------------------------------ free text (issue 11, item 9)
CLEAR_MOBILES = [
    "13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678", "+86-138-1234-5678",
    "0086 138 1234 5678", "(+86)13812345678", "8613812345678", "１３８１２３４５６７８", "138\u20141234\u20145678",
    "1 3 8 1 2 3 4 5 6 7 8", "138\t1234\t5678", "＋８６ １３８－１２３４－５６７８", "138－1234－5678",
    "138\u30001234\u30005678",
]


@pytest.mark.parametrize("phone", CLEAR_MOBILES)
def test_mobile_numbers_in_any_written_form_are_masked(phone: str) -> None:
    for text in (phone, f"电话{phone}请回电", f"请联系 {phone}。", f"phone:{phone}", f"tel{phone}x"):
        out = P.scrub_text(text)
        assert "138****5678" in out, (text, out)
        assert not P.holds_clear_pii(out)
        digits = "".join(c for c in out.translate(P._WIDE) if c.isdigit())
        assert "12345678" not in digits and "1234" not in digits


@pytest.mark.parametrize("text,want", [
    ("座机0311-87654321", "座机0311-****4321"),
    ("(0311)8765 4321", "(0311)**** 4321"),
    ("电话03118765432找王", "电话0311***5432找王"),
    ("身份证130102199001011234", "身份证130102********1234"),
    ("13010219900101123x", "130102********123x"),
    ("130102 19900101 123X", "130102********123X"),
    ("老身份证130102900101123", "老身份证130102*****1123"),
    ("卡号6222021234567890123", "卡号622202*********0123"),
])
def test_landlines_id_numbers_and_long_digit_runs(text: str, want: str) -> None:
    assert P.scrub_text(text) == want


@pytest.mark.parametrize("text", [
    "38.13812345678", "114.5,38.0", "HB-2026-000001", "2026-11-26 13:45", "工单 12345 已受理", "拖欠工资 135000 元",
    "a" * 64, "550e8400-e29b-41d4-a716-446655440000", "ab13812345678cd" + "e" * 40,
    "138****5678", "130102********1234", "12345", "2026年11月26日",
])
def test_what_is_not_a_phone_or_id_is_left_alone(text: str) -> None:
    assert P.scrub_text(text) == text and not P.holds_clear_pii(text)


def test_keyed_hashes_and_sealed_values_survive_scrubbing() -> None:
    h = P.phone_hash("13812345678", KEY)
    token = P.seal({"phone": "13812345678"}, KEY)
    assert P.scrub_text(f'{{"phone_hash":"{h}","sealed":"{token}"}}') == f'{{"phone_hash":"{h}","sealed":"{token}"}}'


def test_the_star_bypass_is_closed() -> None:
    """Any value containing `*` used to count as masked, so "13812345678*" travelled in clear."""
    assert not P.is_masked("13812345678*", "phone") and not P.is_masked("13812345678*")
    assert not P.is_masked("*130102199001011234", "id_number")
    assert not P.is_masked("张三丰*", "name")
    assert P.is_masked("138****5678", "phone") and P.is_masked("+86 138****5678", "phone")
    assert P.is_masked("张**", "name") and P.is_masked("张*丰", "name") and P.is_masked("130102********1234")
    sneaky = {"name": "王小明*", "phone": "13912345678*", "id_number": "130102199001011237*"}
    assert P.carries_clear_pii(sneaky)
    out = P.protect_citizen(sneaky, KEY)
    assert out is not None and "13912345678" not in repr(out) and "小明" not in repr(out)
    assert "19900101" not in repr(out)


def test_may_carry_pii_on_raw_bytes() -> None:
    assert P.may_carry_pii("请回电 138 1234 5678".encode())
    assert P.may_carry_pii(b'{"citizen": {}}')
    assert not P.may_carry_pii(b'{"op":"tick"}') and not P.may_carry_pii(None)
    assert P.may_carry_pii(b"\xff\xfe 13812345678")


_sep = st.sampled_from(["", " ", "-", "\t", "\u2014"])
_prefix = st.sampled_from(["", "+86", "+86 ", "0086", "0086-", "86", "(+86)"])


@st.composite
def written_mobile(draw: st.DrawFn) -> tuple[str, str]:
    digits = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9)))
    a, b = draw(_sep), draw(_sep)
    text = draw(_prefix) + digits[:3] + a + digits[3:7] + b + digits[7:]
    if draw(st.booleans()):
        text = text.translate(str.maketrans("0123456789+-", "０１２３４５６７８９＋－"))
    return digits, text


@given(written_mobile(), st.text(alphabet="请拨打电话联系我，谢谢。 abc:", max_size=8),
       st.text(alphabet="请回电。！ ,", max_size=8))
@settings(max_examples=300, deadline=None)
def test_property_no_written_mobile_survives(m: tuple[str, str], before: str, after: str) -> None:
    digits, written = m
    out = P.scrub_text(before + written + after)
    plain = out.translate(P._WIDE)
    assert digits not in "".join(c for c in plain if c.isdigit() or c == "*")
    assert digits[:3] + "****" + digits[-4:] in plain
    assert P.scrub_text(out) == out  # idempotent


@st.composite
def id_number(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["130102", "130104", "131102", "110105"]))
    year, month, day = draw(st.integers(1930, 2020)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    first17 = f"{region}{year}{month:02d}{day:02d}{draw(st.integers(0, 999)):03d}"
    check = P.id_check_digit(first17)
    return first17 + (check.lower() if draw(st.booleans()) else check)


@given(id_number(), st.sampled_from(["", "身份证号", "ID: ", "证件"]), st.sampled_from(["", "。", " 谢谢"]))
@settings(max_examples=200, deadline=None)
def test_property_no_id_number_survives(idn: str, before: str, after: str) -> None:
    out = P.scrub_text(before + idn + after)
    assert idn[6:14] not in out and idn[:6] + "********" + idn[-4:] in out


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_property_scrub_is_idempotent_and_keeps_text_without_numbers(text: str) -> None:
    out = P.scrub_text(text)
    assert P.scrub_text(out) == out
    if not any(c.isdigit() for c in text):
        assert out == text


def test_scrub_payload_masks_free_text_and_address_in_place() -> None:
    payload = {"title": "讨薪", "content": "请回电 +86 138-1234-5678，身份证130102199001011234",
               "location": {"lat": 38.0, "lon": 114.5, "address": "长安区 0311-87654321 号"}, "topic": "劳资纠纷"}
    assert P.scrub_payload(payload)
    assert payload["content"] == "请回电 138****5678，身份证130102********1234"
    assert payload["location"]["address"] == "长安区 0311-****4321 号" and payload["title"] == "讨薪"
    assert not P.scrub_payload(payload)


def test_full_width_phone_normalises_to_the_same_hash() -> None:
    assert P.normalize_phone("＋８６ １３８－１２３４－５６７８") == "13812345678"
    assert P.phone_hash("１３８１２３４５６７８", KEY) == P.phone_hash("13812345678", KEY)
