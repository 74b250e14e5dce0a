"""Encryption at rest of the stored events, and the start-up check that the key fits them.

With ``PQASSO_CIPHER_KEY`` set, every event's state (organisations' and signatories' names,
findings, plans, evidence, reports: every free text) is encrypted with AES-GCM by the
eventsourcing library's cipher before it is stored (settings.eventsourcing_env). Case ids,
versions and event type names stay readable, so the store can be ordered, chained and checked
(``pqasso audit verify``) without the key.

A wrong key must fail loudly, not show up as a 500 on the first read: ``check_key()`` decodes
the first stored event when the service starts and raises ``CipherKeyMismatch`` if it cannot.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import ProgrammingError


class CipherKeyMismatch(RuntimeError):
    """The stored events cannot be decoded with the configured key (or without one)."""


def check_key(app: Application[Any], *, key_given: bool) -> None:
    """Decode the first stored event with ``app``'s mapper; raise ``CipherKeyMismatch`` if that fails."""
    try:
        notifications = app.recorder.select_notifications(start=None, limit=1)
    except ProgrammingError:  # no event store yet (not migrated): nothing to decode
        return
    if not notifications:
        return
    try:
        app.mapper.to_domain_event(notifications[0])
    except Exception as error:  # ValueError (GCM tag), UnicodeDecodeError, JSONDecodeError...
        if key_given:
            reason = ("PQASSO_CIPHER_KEY does not decrypt the stored events: it is not the key "
                      "they were encrypted with, or they were stored unencrypted")
        else:
            reason = ("the stored events cannot be decoded: they look encrypted, and "
                      "PQASSO_CIPHER_KEY is not set")
        raise CipherKeyMismatch(
            f"{reason} (first event: {notifications[0].originator_id} version "
            f"{notifications[0].originator_version}; {type(error).__name__}). "
            "Refusing to start rather than fail on every read."
        ) from None
