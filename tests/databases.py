"""A database of a test module's own on the test server: made, migrated, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from infrastructure.database import temporary_database
from infrastructure.migrations import migrate


@contextmanager
def migrated_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new database ``<prefix>_<random hex>`` on ``server_url``, migrated; it is
    dropped when the block ends, however it ends."""
    with temporary_database(server_url, f"{prefix}_{secrets.token_hex(4)}") as url:
        migrate(url)
        yield url
