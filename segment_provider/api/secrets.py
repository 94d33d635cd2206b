"""One process-wide set of secret values, masked in every error text and log line.

Whatever may be secret is registered the moment the process learns it: the Segment token and the Profile API
token (and its HTTP Basic form) when a client is built, every stack secret when the config is read, every
credential setting when a provider sees a resource's inputs, every source write key when an answer from
Segment is parsed. ``mask`` then replaces each of them, wherever it came from, in any text: the message of
every ``SegmentError`` (before Segment's quoted message is shortened, so a cut credential is masked too), the
items of ``ApiError.errors``, the config errors, and every log record of the process (``logging``'s record
factory is wrapped once, at the first registration).

A multi-line value (a PEM private key) is also registered line by line, because a server may quote it
re-wrapped or cut, and with its line breaks escaped (``\\n``) as JSON and reprs write them. Values shorter than
``MIN_LENGTH`` are not registered (they would mask ordinary words); the callers' own masking still covers them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_LENGTH = 8
"""Shorter values are not registered process-wide: masking every "password" or "12345" would garble text."""

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None
_factory_installed = False


# ------------------------------------------------------------------------------------- credential settings

CREDENTIAL_WORDS = frozenset(
    {
        "apikey", "auth", "authorization", "ciphertext", "credential", "credentials", "key", "keys", "pass",
        "passphrase", "passwd", "password", "pwd", "secret", "secrets", "token", "tokens",
    }
)  # fmt: skip
"""A settings key holding one of these words (snake_case, camelCase or kebab-case) is a credential."""
SECRET_OPTION_TYPES = frozenset({"password", "secret"})
"""Types Segment's catalogs give options whose value is a credential (masked when read back)."""
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def is_credential_setting(key: str, option_type: str | None = None) -> bool:
    """Whether the settings key ``key`` (of a catalog option of ``option_type``, when known) holds a credential.

    The one definition: the stack config refuses such keys in plain settings, and the export never writes them.
    ``private_key``, ``apiKey``, ``access_key_id``, ``ssh-key``, ``pwd``, ``authToken``: all are.
    """
    if option_type is not None and option_type.lower() in SECRET_OPTION_TYPES:
        return True
    words = [word.lower() for word in _WORD.findall(key)]
    return any(word in CREDENTIAL_WORDS for word in words) or any(
        "".join(words[i : i + 2]) in CREDENTIAL_WORDS for i in range(len(words) - 1)
    )


# ------------------------------------------------------------------------------------------ the secret set


def register(*values: str | None) -> None:
    """Add ``values`` (and their lines and escaped forms) to the process-wide set."""
    forms = {form for value in values if value for form in _forms(value)}
    forms = {form for form in forms if len(form) >= MIN_LENGTH}
    if not forms:
        return
    global _pattern
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        _pattern = None
    _install_log_masking()


def register_token(token: str | None) -> None:
    """A token, and the forms it travels in: ``Bearer <token>`` and HTTP Basic (``base64(token:)``)."""
    if not token:
        return
    basic = base64.b64encode(f"{token}:".encode()).decode()
    register(token, basic, basic.rstrip("="), base64.b64encode(token.encode()).decode().rstrip("="))


def register_all(values: Iterable[Any]) -> None:
    """Every string inside ``values`` (nested mappings and lists included)."""
    for value in values:
        for text in _strings(value):
            register(text)


def mask(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every registered secret, and every non-empty value of ``extra``, replaced by ``***``."""
    for secret in sorted((s for s in extra if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    pattern = _current_pattern()
    return pattern.sub(MASK, text) if pattern is not None else text


def mask_value(value: Any, extra: Iterable[str] = ()) -> Any:
    """``value`` with every string in it (keys too) masked, for structures quoted in errors."""
    extra = list(extra)
    if isinstance(value, str):
        return mask(value, extra)
    if isinstance(value, dict):
        return {mask_value(k, extra): mask_value(v, extra) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item, extra) for item in value]
    return value


def registered() -> frozenset[str]:
    """The registered values (for tests)."""
    with _lock:
        return frozenset(_values)


def _forms(value: str) -> set[str]:
    text = value.strip()
    forms = {text, value}
    if "\n" in text:
        forms.add(json.dumps(text)[1:-1])
        forms.update(line.strip() for line in text.splitlines() if not line.strip().startswith("-----"))
    return forms


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif hasattr(value, "get_secret_value"):
        yield from _strings(value.get_secret_value())


def _current_pattern() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _values:
            _pattern = re.compile("|".join(re.escape(v) for v in sorted(_values, key=len, reverse=True)))
        return _pattern


def _install_log_masking() -> None:
    """Wrap ``logging``'s record factory once: every record's message is masked as it is made."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
    previous = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format: leave it to logging's own error handling
            return record
        cleaned = mask(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(masked_record)


__all__ = [
    "CREDENTIAL_WORDS",
    "MASK",
    "MIN_LENGTH",
    "SECRET_OPTION_TYPES",
    "is_credential_setting",
    "mask",
    "mask_value",
    "register",
    "register_all",
    "register_token",
    "registered",
]
