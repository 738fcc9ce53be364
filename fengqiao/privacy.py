"""Citizens' personal data at the door (DESIGN.md section 4, Personal data).

Pure functions, no I/O. What travels downstream for a citizen:

* masked forms for display: 张**, 138****5678, 130102********1234;
* keyed hashes (HMAC-SHA256) of the normalised phone / ID number, so that
  duplicates can be matched without the clear value (a plain SHA-256 of an
  11-digit phone number would be reversed by brute force in seconds);
* `sealed`: the clear values, encrypted (Fernet: AES-128-CBC + HMAC) with a key
  derived from `settings.pii_key`, so that an officer's audited "reveal" can
  recover them. Without the key they are opaque.

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
_PHONE_CLEAN = re.compile(r"[\s\-()+]")


def _subkey(secret: str | SecretStr, label: str) -> bytes:
    """Callers may pass the settings' `SecretStr` as it is: it is unwrapped only here."""
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return hmac.new(raw.encode("utf-8"), label.encode("utf-8"), hashlib.sha256).digest()


# ------------------------------------------------------------------ normalise
def normalize_phone(phone: str) -> str:
    """Digits only, without the +86 / 0086 country prefix."""
    p = _PHONE_CLEAN.sub("", phone.strip())
    if p.startswith("0086"):
        p = p[4:]
    elif p.startswith("86") and len(p) == 13:
        p = p[2:]
    return p


def normalize_id(id_number: str) -> str:
    return id_number.strip().upper()


def is_masked(value: str | None) -> bool:
    return bool(value) and MASK in value  # type: ignore[operator]


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


# ------------------------------------------------------------------ the door
def protect_citizen(
    citizen: dict[str, Any] | None, secret: str, *, seal_clear: bool = True
) -> dict[str, Any] | None:
    """Turn clear contact data into what may travel: masks + keyed hashes (+ sealed).

    Idempotent: values that are already masked are left as they are (with the
    hashes and `sealed` they came with), so an event that passed the door once
    can pass it again unchanged.
    """
    if not citizen:
        return citizen
    out: dict[str, Any] = dict(citizen)
    clear: dict[str, str] = {}
    name = citizen.get("name")
    if name and not is_masked(name):
        clear["name"] = name
        out["name"] = mask_name(name)
    phone = citizen.get("phone")
    if phone and not is_masked(phone):
        clear["phone"] = normalize_phone(phone)
        out["phone"] = mask_phone(phone)
        out["phone_hash"] = phone_hash(phone, secret)
    idn = citizen.get("id_number")
    if idn and not is_masked(idn):
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
    return any(citizen.get(k) and not is_masked(citizen[k]) for k in ("name", "phone", "id_number"))


def id_check_digit(first17: str) -> str:
    """GB 11643 check character of an 18-character resident ID number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights))
    return "10X98765432"[total % 11]
