"""Citizens' personal data at the door (DESIGN.md section 4, Personal data).

Pure functions, no I/O. What travels downstream for a citizen:

* masked forms for display: 张**, 138****5678, 130102********1234;
* keyed hashes (HMAC-SHA256) of the normalised phone / ID number, so that
  duplicates can be matched without the clear value (a plain SHA-256 of an
  11-digit phone number would be reversed by brute force in seconds);
* `sealed`: the clear values, encrypted (Fernet: AES-128-CBC + HMAC) with a key
  derived from `settings.pii_key`, so that an officer's audited "reveal" can
  recover them. Without the key they are opaque.

Free text (what people type, notes, error texts) is scrubbed by `scrub_text`: phone
and ID numbers in the forms people write them are masked the same way.

Both sub-keys are derived from the one configured secret with distinct labels,
so the matching key never doubles as the encryption key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

MASK = "*"
CONTACT_FIELDS = ("name", "phone", "id_number")
_PHONE_CLEAN = re.compile(r"[\s\-()+]")


def _subkey(secret: str | SecretStr, label: str) -> bytes:
    """Callers may pass the settings' `SecretStr` as it is: it is unwrapped only here."""
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return hmac.new(raw.encode("utf-8"), label.encode("utf-8"), hashlib.sha256).digest()


# ------------------------------------------------------------------ normalise
def normalize_phone(phone: str) -> str:
    """Digits only (full-width ones too), without the +86 / 0086 country prefix."""
    p = phone.strip()
    p = _PHONE_CLEAN.sub("", p.translate(_WIDE) if _HAS_WIDE.search(p) else p)
    if p.startswith("0086"):
        p = p[4:]
    elif p.startswith("86") and len(p) == 13:
        p = p[2:]
    return p


def normalize_id(id_number: str) -> str:
    return id_number.strip().upper()


# The masked forms this module writes (and the usual ones other systems write). A value merely
# containing `*` is not masked: "13812345678*" still carries the whole number.
_MASKED_FORMS = {
    "name": re.compile(r"[^*\d]?\*+[^*\d]?"),  # 张**, 张*丰, *
    "phone": re.compile(r"\d{0,3}\*+\d{0,4}"),  # 138****5678: at most 7 digits visible
    "id_number": re.compile(r"\d{0,6}\*+[\dXx]{0,4}"),  # 130102********1234
}


def is_masked(value: str | None, kind: str | None = None) -> bool:
    """Whether `value` is a masked form (of `kind`: name, phone, id_number; of any when None)."""
    if not value or MASK not in value:
        return False
    v = value.strip()
    return any(_MASKED_FORMS[k].fullmatch(normalize_phone(v) if k == "phone" else v)
               for k in ((kind,) if kind else _MASKED_FORMS))


# ------------------------------------------------------------------ masks
def mask_name(name: str) -> str:
    """张三 → 张*, 张三丰 → 张**, 欧阳娜娜 → 欧***; a single character stays 某-like masked."""
    name = name.strip()
    if not name:
        return name
    if len(name) == 1:
        return MASK
    return name[0] + MASK * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678; short numbers keep at most their last 2 digits."""
    p = normalize_phone(phone)
    if len(p) >= 7:
        return p[:3] + MASK * (len(p) - 7) + p[-4:] if len(p) > 7 else p[:3] + MASK * 4
    return MASK * max(len(p) - 2, 1) + p[-2:] if len(p) > 2 else MASK * len(p)


def mask_id(id_number: str) -> str:
    """130102199001011234 → 130102********1234 (region kept, birth date hidden)."""
    s = normalize_id(id_number)
    if len(s) >= 15:
        return s[:6] + MASK * (len(s) - 10) + s[-4:]
    if len(s) > 4:
        return MASK * (len(s) - 4) + s[-4:]
    return MASK * len(s)


# ------------------------------------------------------------------ hashes
def keyed_hash(value: str, secret: str, label: str = "match") -> str:
    """HMAC-SHA256 hex of a normalised value with a key derived from `secret`."""
    return hmac.new(_subkey(secret, label), value.encode("utf-8"), hashlib.sha256).hexdigest()


def phone_hash(phone: str, secret: str) -> str:
    return keyed_hash(normalize_phone(phone), secret, "match:phone")


def id_hash(id_number: str, secret: str) -> str:
    return keyed_hash(normalize_id(id_number), secret, "match:id")


def track_token(case_id: str, last4: str, secret: str) -> str:
    """What a citizen's tracking request (case number + the phone's last four digits) is
    checked against: a keyed hash of both, so no digits are kept for it."""
    return keyed_hash(f"{case_id}\x1f{last4}", secret, "track")


# ------------------------------------------------------------------ sealing
def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_subkey(secret, "seal")))


def seal(values: dict[str, str], secret: str) -> str:
    """Encrypt clear contact values (a small JSON object) for an audited reveal."""
    data = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _fernet(secret).encrypt(data).decode("ascii")


def unseal(token: str, secret: str) -> dict[str, str]:
    """Decrypt `seal`'s output; ValueError with a bilingual message on a wrong key."""
    try:
        return json.loads(_fernet(secret).decrypt(token.encode("ascii")))
    except (InvalidToken, ValueError) as exc:
        raise ValueError("cannot unseal contact data (wrong key or damaged) / 无法解密联系信息（密钥错误或数据损坏）") from exc


# ------------------------------------------------------------------ free text
# Phone and ID numbers people type into free text (content, notes, addresses, error texts), in the
# forms they are written: 13812345678, 138 1234 5678, 138-1234-5678, +86 138..., 0086..., (0311)
# 8765-4321 landlines, 18-character ID numbers (X/x check character, optional spaces) and other runs of
# 15-19 digits (old 15-digit IDs, bank cards). Full-width digits count as digits. Long tokens that
# contain letters (hashes, UUIDs, sealed values, keys) are left alone, so a keyed hash is never
# mangled; digits glued to a decimal point (38.13812345678) are a coordinate, not a phone.
_WIDE = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)},
                       "＋": "+", "－": "-", "（": "(", "）": ")", "\u3000": " "})
_S = r"[ \t\-\u2010-\u2015]?"  # one optional separator: space, tab, hyphen or dash
_NUMBER = (
    rf"(?P<id>[1-9]\d{{5}}{_S}(?:18|19|20)\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]){_S}\d{{3}}[\dXx])"
    rf"|(?P<mobile>(?:\(?(?:\+|00){_S}86\)?{_S}|86{_S})?1{_S}[3-9](?:{_S}\d){{9}})"
    r"|(?P<long>\d{14,18}[\dXx])"
    rf"|(?P<land>(?:\(0\d{{2,3}}\)|0\d{{2,3}}){_S}[2-9]\d{{2,3}}{_S}\d{{4}})"
)
_INNER = re.compile(rf"(?<![\d.])(?:{_NUMBER})(?![\d])", re.ASCII)
_TEXT = re.compile(rf"(?P<token>[A-Za-z0-9_\-]{{32,}})|(?<![\d.])(?:{_NUMBER})(?![\d])", re.ASCII)
_CANDIDATE = re.compile(r"\d(?:[ \t\-\u2010-\u2015]?\d){6}", re.ASCII)  # 7 digits: nothing shorter is masked
_HAS_WIDE = re.compile("[\uff10-\uff19\uff0b\uff0d\uff08\uff09\u3000]")  # full-width: fold the text first


def _masked_number(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind == "token":  # a hash, UUID or key: kept, unless it is nothing but digits and dashes
        tok = m.group(0)
        return tok if re.search(r"[A-Za-z_]", tok) else _INNER.sub(_masked_number, tok)
    digits = re.sub(r"[^0-9Xx]", "", m.group(0))
    if kind == "mobile":
        p = digits[-11:]
        return p[:3] + MASK * 4 + p[-4:]
    if kind == "land":
        return _mask_land(m.group(0))
    return digits[:6] + MASK * (len(digits) - 10) + digits[-4:]  # ID numbers, long runs


def _mask_land(text: str) -> str:
    """(0311) 8765-4321 → (0311) ****-4321: the area code stays, the local number is hidden."""
    head = re.match(r"\(?0\d{2,3}\)?", text).group(0)  # type: ignore[union-attr]
    rest = text[len(head):]
    return head + re.sub(r"\d", MASK, rest[:-4]) + rest[-4:]


def scrub_text(text: str | None) -> str:
    """Mask phone and ID numbers in free text (see above); other text is returned unchanged."""
    if not text:
        return ""
    plain = text.translate(_WIDE) if _HAS_WIDE.search(text) else text  # same length: positions agree
    if _CANDIDATE.search(plain) is None:  # one cheap pass for the common case
        return text
    out, last = [], 0
    for m in _TEXT.finditer(plain):
        masked = _masked_number(m)
        if masked != m.group(0):
            out.append(text[last:m.start()])
            out.append(masked)
            last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def holds_clear_pii(text: str | None) -> bool:
    """Whether free text still holds a phone or ID number in clear."""
    return bool(text) and scrub_text(text) != text


FREE_TEXT_FIELDS = ("title", "content", "result", "reason", "comment", "answer")  # what people type


def scrub_payload(payload: dict[str, Any]) -> bool:
    """Scrub an event payload's free text and address in place; True when anything was masked."""
    changed = False
    for k in FREE_TEXT_FIELDS:
        v = payload.get(k)
        if isinstance(v, str) and holds_clear_pii(v):
            payload[k], changed = scrub_text(v), True
    loc = payload.get("location")
    if isinstance(loc, dict) and isinstance(loc.get("address"), str) and holds_clear_pii(loc["address"]):
        loc["address"], changed = scrub_text(loc["address"]), True
    return changed


def may_carry_pii(raw: bytes | None) -> bool:
    """Whether rejected bytes might hold contact data (then a dead letter keeps them sealed)."""
    if not raw:
        return False
    text = raw.decode("utf-8", "replace")
    return '"citizen"' in text or '"name"' in text or holds_clear_pii(text)


# ------------------------------------------------------------------ the door
def protect_citizen(
    citizen: dict[str, Any] | None, secret: str, *, seal_clear: bool = True, case_id: str | None = None
) -> dict[str, Any] | None:
    """Turn clear contact data into what may travel: masks + keyed hashes (+ sealed), and with
    the `case_id` the citizen's `track_token`.

    Idempotent: values that are already masked are left as they are (with the
    hashes and `sealed` they came with), so an event that passed the door once
    can pass it again unchanged.
    """
    if not citizen:
        return citizen
    out: dict[str, Any] = dict(citizen)
    clear: dict[str, str] = {}
    name = citizen.get("name")
    if name and not is_masked(name, "name"):
        clear["name"] = name
        out["name"] = mask_name(name)
    phone = citizen.get("phone")
    if phone and not is_masked(phone, "phone"):
        clear["phone"] = normalize_phone(phone)
        out["phone"] = mask_phone(phone)
        out["phone_hash"] = phone_hash(phone, secret)
        digits = normalize_phone(phone)
        if case_id and len(digits) >= 4 and digits[-4:].isdigit():
            out["track_token"] = track_token(case_id, digits[-4:], secret)
    idn = citizen.get("id_number")
    if idn and not is_masked(idn, "id_number"):
        clear["id_number"] = normalize_id(idn)
        out["id_number"] = mask_id(idn)
        out["id_hash"] = id_hash(idn, secret)
    if clear and seal_clear:
        out["sealed"] = seal(clear, secret)
    elif clear and not seal_clear:
        out.pop("sealed", None)
    return {k: v for k, v in out.items() if v not in (None, "")}


def carries_clear_pii(citizen: dict[str, Any] | None) -> bool:
    """True when a citizen object still holds an unmasked name, phone or ID number."""
    if not citizen:
        return False
    return any(citizen.get(k) and not is_masked(citizen[k], k) for k in CONTACT_FIELDS)


def id_check_digit(first17: str) -> str:
    """GB 11643 check character of an 18-character resident ID number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights))
    return "10X98765432"[total % 11]
