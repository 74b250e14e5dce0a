"""Point 6: personal data encrypted at rest with a key from the environment.

With PQASSO_CIPHER_KEY set, the stored rows hold no plaintext: not the organisation's name, not
the signatory's, not one free text. The service reads its cases back with the key; with a wrong
key, or none, it refuses to start, saying why, instead of failing on every read. The hash chain
is over the stored (encrypted) bytes, so it is checked without the key.
"""

from __future__ import annotations

import base64
import os

import psycopg
import pytest

from application.cases import QualityMarkCases
from infrastructure.bootstrap import application_env, bootstrap
from infrastructure.encryption import CipherKeyMismatch
from infrastructure.settings import Settings
from tests.integration.support import run_example
from tests.reliability.support import pqasso

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERSONAL = ("Riverside Community Trust", "J Smith", "Employers' liability insurance",
            "complaints procedure", "board minutes", "Minutes enclosed", "All now met")


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def stored_bytes(url: str) -> bytes:
    """Every byte of every row the event store keeps (events, hashes, idempotency records)."""
    with psycopg.connect(url) as conn:
        rows = [*conn.execute("SELECT * FROM cases_events"),
                *conn.execute("SELECT * FROM cases_event_hashes"),
                *conn.execute("SELECT * FROM cases_idempotency"),
                *conn.execute("SELECT * FROM cases_snapshots")]
    return b"\n".join(value if isinstance(value, bytes) else str(value).encode()
                      for row in rows for value in row)


def test_with_a_key_no_stored_row_holds_plaintext(migrated_database) -> None:
    url, key = migrated_database().url, new_key()
    settings = Settings(database_url=url, cipher_key=key)
    app = QualityMarkCases(env=application_env(url, settings))
    try:
        case_id, _ = run_example(app)
        state = app.get_case(case_id)
    finally:
        app.close()

    stored = stored_bytes(url)
    assert stored.count(b"\n") > 10  # the rows were read
    for text in PERSONAL:
        assert text.encode() not in stored, text
        assert text.encode("utf-16-le") not in stored, text
    # Read back, with the key, from a fresh application: the texts are all there.
    with_key = QualityMarkCases(env={**application_env(url, settings), "AGGREGATE_CACHE_MAXSIZE": "0"})
    try:
        assert with_key.get_case(case_id).organisation == state.organisation
        assert with_key.get_case(case_id).plan_signed_by.name == "J Smith"
    finally:
        with_key.close()
    shown = pqasso("case", str(case_id), "--json", env={"PQASSO_DATABASE_URL": url, "PQASSO_CIPHER_KEY": key})
    assert shown.returncode == 0 and "Riverside Community Trust" in shown.stdout, shown.stderr
    # The chain is over the ciphertext: verifiable without the key.
    verified = pqasso("audit", "verify", env={"PQASSO_DATABASE_URL": url})
    assert verified.returncode == 0, verified.stdout


def test_without_a_key_the_same_rows_are_plaintext(migrated_database) -> None:
    url = migrated_database().url
    app = QualityMarkCases(env=application_env(url))
    try:
        run_example(app)
    finally:
        app.close()
    assert b"Riverside Community Trust" in stored_bytes(url)  # the scan above would have seen it


def test_a_wrong_key_or_none_fails_loudly(migrated_database, tmp_path) -> None:
    url, key = migrated_database().url, new_key()
    app = QualityMarkCases(env=application_env(url, Settings(database_url=url, cipher_key=key)))
    try:
        case_id, _ = run_example(app)
    finally:
        app.close()

    with pytest.raises(CipherKeyMismatch, match="PQASSO_CIPHER_KEY does not decrypt"):
        bootstrap(Settings(database_url=url, cipher_key=new_key()), migrate_first=False,
                  configure_logs=False)
    with pytest.raises(CipherKeyMismatch, match="PQASSO_CIPHER_KEY is not set"):
        bootstrap(Settings(database_url=url), migrate_first=False, configure_logs=False)
    # Below the start-up check, the library refuses too: AES-GCM's tag does not verify.
    wrong = QualityMarkCases(env={**application_env(url, Settings(database_url=url, cipher_key=new_key())),
                                  "AGGREGATE_CACHE_MAXSIZE": "0"})
    try:
        with pytest.raises(ValueError, match="Cipher text is damaged"):
            wrong.get_case(case_id)
    finally:
        wrong.close()

    served = pqasso("serve", "--port", "1", env={"PQASSO_DATABASE_URL": url, "PQASSO_CIPHER_KEY": new_key()},
                    timeout=60)
    assert served.returncode != 0 and "PQASSO_CIPHER_KEY does not decrypt the stored events" in served.stderr
    bad = pqasso("case", str(case_id), env={"PQASSO_DATABASE_URL": url, "PQASSO_CIPHER_KEY": "bm90IGEga2V5"})
    assert bad.returncode != 0 and "PQASSO_CIPHER_KEY" in bad.stderr and "bm90IGEga2V5" not in bad.stderr
