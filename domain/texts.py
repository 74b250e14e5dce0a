"""Bounds on the free texts people key in: required texts are not blank, and none is unbounded."""

from __future__ import annotations

from domain.errors import InvalidInput

NAME_MAX = 200
IDENTIFIER_MAX = 100
TEXT_MAX = 4_000
REPORT_MAX = 50_000


def required_text(value: object, *, field: str, max_length: int = TEXT_MAX) -> str:
    """Return ``value`` unchanged if it is a non-blank string within ``max_length`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.", field=field)
    if not value.strip():
        raise InvalidInput(f"{field} must not be blank.", field=field)
    if len(value) > max_length:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; at most {max_length} are allowed.",
            field=field,
        )
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain a NUL character.", field=field)
    if not is_unicode(value):
        raise InvalidInput(f"{field} must be Unicode text (it has an unpaired surrogate).", field=field)
    return value


def is_unicode(value: str) -> bool:
    """False for a string no UTF-8 can hold (a lone surrogate, as JSON's "\\ud800" decodes to)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
