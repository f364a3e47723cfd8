"""Keeping secrets out of logs, request logs, exceptions, `raw_json` and delivery errors: the one
definition of a secret-looking key (HaloITSM fields, query parameters, storage options)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?$|secret|token|api_?key|private_?key|credential|authori[sz]ation|^pin$"
    r"|^key$|_key$|sas|session|connection_?string",  # object-store options (s3fs key, adlfs account_key)
    re.IGNORECASE,
)
MASK = "***"


def is_secret_key(key: str) -> bool:
    """True for keys that look like they hold a secret (`password`, `client_secret`, `access_token`...)."""
    return bool(SECRET_KEY.search(key))


def strip_secret_keys(value: Any) -> Any:
    """A copy of a JSON value without secret-looking keys, at any depth."""
    if isinstance(value, Mapping):
        return {k: strip_secret_keys(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [strip_secret_keys(item) for item in value]
    return value


def sanitize_params(params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query parameters for logging, with secret-looking values masked."""
    return {key: MASK if is_secret_key(key) else value for key, value in params}


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every known secret value replaced by a mask (defence in depth for server echoes)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            # Also as a form or query would echo it: URL-encoded.
            for form in {secret, quote_plus(secret), quote(secret, safe="")}:
                text = text.replace(form, MASK)
    return text
