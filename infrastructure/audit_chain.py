"""Tamper evidence beyond the triggers: a hash chain over each case's stored events.

Every stored event gets a row in ``<prefix>_event_hashes`` (``cases_event_hashes``), written
in the same transaction as the event::

    digest = sha256("pqasso.event.v1" NUL || case id (16 bytes) || version (int64, big-endian)
                    || len(topic) (int32) || topic (UTF-8) || len(state) (int64) || state)
    hash   = sha256(digest || previous hash)        -- previous hash of the first event: 32 zero bytes

``state`` is the bytes exactly as stored (compressed and encrypted, when the cipher is on), so
checking needs no key. The digest is computed here; the link to the previous hash is made by
PostgreSQL inside the insert transaction (by the recorder's append procedure, in the same call
as the events), from the case's latest hash row. The table is append-only (triggers, and the service role may only insert).

``verify()`` (``pqasso audit verify [CASE_ID]``) recomputes every case's chain from its stored
events and compares it with the stored hashes and with the chain heads that the ``chain``
projection recorded as the events were recorded (projections/chain_heads.py). So a change made
with the triggers disabled, even by a superuser, shows up as:

- ``altered``: an event's topic or state is not what was recorded (or a hash row was changed);
- ``deleted``: a version is missing, a case's later events are gone (the projected head is
  ahead of the store), or a whole case is gone;
- ``reordered``: an event sits at another version than the one it was recorded at, or the
  store's notification order disagrees with the case's version order;
- ``inserted``: an event that no hash row accounts for (added outside the service).

Someone who can write the database and knows this scheme can forge a consistent chain and heads
too: keep the digest ``pqasso audit verify --json`` prints somewhere the database's owners
cannot write (docs/reliability.md, "Tamper evidence").
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

GENESIS = bytes(32)
_TAG = b"pqasso.event.v1\x00"
_GENESIS_LITERAL = sql.SQL("'\\x" + "00" * 32 + "'::bytea")  # a constant, never data
CHAIN_VIEW = "chain"  # the projection that records chain heads (tables chain_heads, chain_tracking)
HEADS_TABLE = f"{CHAIN_VIEW}_heads"
APPLICATION_NAME = "cases"  # the upstream application name the chain view tracks


def event_hashes_table_name(events_table_name: str) -> str:
    """``cases_events`` -> ``cases_event_hashes``."""
    return f"{events_table_name.removesuffix('_events')}_event_hashes"


# ---- the hash -----------------------------------------------------------------------------

def _id_bytes(originator_id: UUID | str) -> bytes:
    return originator_id.bytes if isinstance(originator_id, UUID) else str(originator_id).encode()


def event_digest(originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """The digest of one stored event's identity and content (not yet chained)."""
    topic_bytes = topic.encode("utf-8")
    return hashlib.sha256(b"".join((
        _TAG, _id_bytes(originator_id), int(version).to_bytes(8, "big", signed=True),
        len(topic_bytes).to_bytes(4, "big"), topic_bytes, len(state).to_bytes(8, "big"), state,
    ))).digest()


def link(digest: bytes, previous: bytes) -> bytes:
    """The chained hash: ``sha256(digest || previous)`` (PostgreSQL's ``sha256()`` does the same)."""
    return hashlib.sha256(digest + previous).digest()


def event_hash(originator_id: UUID | str, version: int, topic: str, state: bytes,
               previous: bytes) -> bytes:
    return link(event_digest(originator_id, version, topic, state), previous)


# ---- writing: used by CasesRecorder inside the insert transaction ----------------------------

class EventChain:
    """The SQL that creates and appends to ``<prefix>_event_hashes``."""

    def __init__(self, schema: str, events_table_name: str, *, originator_id_type: str = "uuid"):
        self.table_name = event_hashes_table_name(events_table_name)
        self.id_type = sql.SQL("uuid" if originator_id_type == "uuid" else "text")
        self.table = sql.Identifier(schema, self.table_name)
        self.create_statement = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            "originator_id {} NOT NULL, "
            "originator_version bigint NOT NULL, "
            "previous_hash bytea NOT NULL CHECK (octet_length(previous_hash) = 32), "
            "hash bytea NOT NULL CHECK (octet_length(hash) = 32), "
            "PRIMARY KEY (originator_id, originator_version))"
        ).format(self.table, self.id_type)

    def previous(self, originator_id: str, version: str, *, table: sql.Composable | None = None
                 ) -> sql.Composed:
        """SQL for the hash a new event at ``version`` links to, from the hash table or another
        ``table`` with the same three columns: the case's hash at exactly ``version - 1``;
        genesis for a case's first event. Where the case has hashes but not that one (a gap: a
        save decided on a version the store does not hold, as after a crash lost events another
        process had already read), an empty value, which the hash table's CHECK on
        ``previous_hash`` refuses: the save fails as on a version taken, and the command runs
        again on the case as it is stored. One index probe."""
        return sql.SQL(
            "coalesce((SELECT CASE WHEN h.originator_version = {version} - 1 THEN h.hash "
            "ELSE ''::bytea END FROM {table} h WHERE h.originator_id = {id} "
            "AND h.originator_version < {version} "
            "ORDER BY h.originator_version DESC LIMIT 1), {genesis})"
        ).format(table=self.table if table is None else table, id=sql.SQL(originator_id),
                 version=sql.SQL(version), genesis=_GENESIS_LITERAL)

    def plpgsql(self, ids: str, versions: str, digests: str, count: str
                ) -> tuple[sql.Composed, sql.Composed]:
        """(declarations, statements) of a PL/pgSQL block appending the hash rows of a batch,
        given the names of its arrays (case ids, versions, ``digest()`` of each; any order)
        and of the batch's size. The recorder's append function runs it in the events'
        transaction (infrastructure/recorder.py).

        Rows are taken sorted by (case, version): the first row of each case links to the
        case's latest stored hash, every other row to the row before it (linear in the
        batch's size). A command saves one event: one INSERT, without the loop."""
        declarations = sql.SQL(
            "chain_row record; chain_previous bytea; chain_hash bytea; chain_case {id_type};"
        ).format(id_type=self.id_type)
        statements = sql.SQL(
            "IF {count} = 1 THEN {one} "
            "ELSIF {count} > 1 THEN "
            "FOR chain_row IN SELECT b.id, b.version, b.digest "
            "FROM unnest({ids}, {versions}, {digests}) AS b (id, version, digest) "
            "ORDER BY b.id, b.version LOOP "
            "IF chain_case IS NOT DISTINCT FROM chain_row.id THEN chain_previous := chain_hash; "
            "ELSE chain_previous := {next}; END IF; "
            "chain_hash := pg_catalog.sha256(chain_row.digest || chain_previous); "
            "INSERT INTO {table} (originator_id, originator_version, previous_hash, hash) "
            "VALUES (chain_row.id, chain_row.version, chain_previous, chain_hash); "
            "chain_case := chain_row.id; "
            "END LOOP; "
            "END IF;"
        ).format(count=sql.SQL(count), table=self.table, ids=sql.SQL(ids),
                 versions=sql.SQL(versions), digests=sql.SQL(digests),
                 one=self.plpgsql_one(f"{ids}[1]", f"{versions}[1]", f"{digests}[1]"),
                 next=self.previous("chain_row.id", "chain_row.version"))
        return declarations, statements

    def plpgsql_one(self, originator_id: str, version: str, digest: str) -> sql.Composed:
        """The statement appending the hash row of one event, given the expressions of its case
        id, version and ``digest()``, linked to the case's latest stored hash: one INSERT
        (a separate lookup first costs PostgreSQL a statement more per save)."""
        return sql.SQL(
            "INSERT INTO {table} (originator_id, originator_version, previous_hash, hash) "
            "SELECT {id}, {version}, link.previous, pg_catalog.sha256({digest} || link.previous) "
            "FROM (SELECT {previous} AS previous) AS link;"
        ).format(previous=self.previous(originator_id, version), table=self.table,
                 id=sql.SQL(originator_id), version=sql.SQL(version), digest=sql.SQL(digest))

    @staticmethod
    def digest(event: StoredEvent) -> bytes:
        return event_digest(event.originator_id, event.originator_version, event.topic, event.state)


# ---- the migration step: table, triggers, hashes for events recorded before it ---------------

def install(conn: psycopg.Connection[Any], schema: str, events_table_name: str) -> int:
    """Create the hash table (if the recorder has not), make it append-only, and chain every
    event that has no hash yet; return how many were chained. Runs in the caller's transaction."""
    chain = EventChain(schema, events_table_name)
    table = sql.Identifier(schema, chain.table_name)
    conn.execute(chain.create_statement)
    refuse = sql.Identifier(schema, "pqasso_refuse_change")  # migration step 2's function
    message = f"{chain.table_name} is append-only: the hash chain is the record's seal"
    for operations, level in (("UPDATE OR DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
        trigger = f"{chain.table_name}_refuse_{operations.lower().replace(' or ', '_')}"
        conn.execute(sql.SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE {} ON {} FOR EACH {} EXECUTE FUNCTION {}({})"
        ).format(sql.Identifier(trigger), sql.SQL(operations), table, sql.SQL(level), refuse,
                 sql.Literal(message)))
    # No writer may slip an event in while the old ones are chained.
    conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
        sql.Identifier(schema, events_table_name)))
    events = sql.SQL(
        "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {} e "
        "WHERE NOT EXISTS (SELECT 1 FROM {} h WHERE h.originator_id = e.originator_id) "
        "ORDER BY e.originator_id, e.originator_version"
    ).format(sql.Identifier(schema, events_table_name), table)
    chained, rows = 0, []
    with conn.cursor(name="pqasso_chain_backfill") as cursor:
        cursor.execute(events)
        for _, group in itertools.groupby(cursor, key=lambda row: row[0]):
            previous = GENESIS
            for originator_id, version, topic, state in group:
                digest = event_hash(originator_id, version, topic, bytes(state), previous)
                rows.append((originator_id, version, previous, digest))
                previous = digest
            if len(rows) >= 5000:
                chained += _insert_rows(conn, table, rows)
                rows = []
    return chained + _insert_rows(conn, table, rows)


def _insert_rows(conn: psycopg.Connection[Any], table: sql.Identifier, rows: list[tuple]) -> int:
    if rows:
        with conn.cursor() as cursor:
            cursor.executemany(sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, previous_hash, hash) "
                "VALUES (%s, %s, %s, %s)").format(table), rows)
    return len(rows)


# ---- verifying -----------------------------------------------------------------------------

Kind = Literal["altered", "deleted", "reordered", "inserted"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a case's record."""

    kind: Kind
    version: int | None
    detail: str


@dataclass
class CaseReport:
    """What verifying one case found."""

    case_id: UUID
    events: int = 0
    head_version: int | None = None
    head_hash: bytes | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": str(self.case_id), "events": self.events, "intact": self.intact,
            "head_version": self.head_version,
            "head_hash": self.head_hash.hex() if self.head_hash else None,
            "findings": [{"kind": f.kind, "version": f.version, "detail": f.detail}
                         for f in self.findings],
        }


@dataclass
class Verification:
    """Every case checked, and a digest over all their chain heads."""

    cases: list[CaseReport]
    heads_projected: bool
    projected_position: int | None

    @property
    def damaged(self) -> list[CaseReport]:
        return [case for case in self.cases if not case.intact]

    @property
    def ok(self) -> bool:
        return not self.damaged

    @property
    def digest(self) -> str:
        """sha256 over every case's (id, head version, head hash), in case id order: record it
        off-site; the same store verifies to the same digest (plus whatever was added since)."""
        digest = hashlib.sha256(b"pqasso.heads.v1\x00")
        for case in sorted(self.cases, key=lambda c: c.case_id):
            digest.update(_id_bytes(case.case_id))
            digest.update(int(case.head_version or 0).to_bytes(8, "big", signed=True))
            digest.update(case.head_hash or GENESIS)
        return digest.hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "cases": len(self.cases), "damaged": len(self.damaged),
            "events": sum(case.events for case in self.cases),
            "heads_projected": self.heads_projected, "projected_position": self.projected_position,
            "digest": self.digest, "reports": [case.as_dict() for case in self.damaged],
        }


@dataclass(frozen=True)
class _Event:
    version: int
    topic: str
    state: bytes
    notification_id: int


@dataclass(frozen=True)
class _Hash:
    version: int
    previous: bytes
    hash: bytes


def verify(database_url: str, case_id: UUID | None = None, *, schema: str = "public",
           events_table_name: str = "cases_events") -> Verification:
    """Check every case's stored events (or one case's) against its chain and projected head."""
    hashes_table = event_hashes_table_name(events_table_name)
    where = sql.SQL("WHERE originator_id = %s") if case_id is not None else sql.SQL("")
    params = (case_id,) if case_id is not None else ()
    with psycopg.connect(database_url, autocommit=False) as conn:
        # One snapshot for every read, so a write meanwhile cannot look like damage.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        heads, position = _projected_heads(conn, schema, case_id)
        events_cursor = conn.cursor(name="pqasso_verify_events")
        events_cursor.itersize = 2000
        events_cursor.execute(sql.SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id FROM {} {} "
            "ORDER BY originator_id, originator_version").format(
                sql.Identifier(schema, events_table_name), where), params)
        hashes_cursor = conn.cursor(name="pqasso_verify_hashes")
        hashes_cursor.itersize = 2000
        hashes_cursor.execute(sql.SQL(
            "SELECT originator_id, originator_version, previous_hash, hash FROM {} {} "
            "ORDER BY originator_id, originator_version").format(
                sql.Identifier(schema, hashes_table), where), params)
        events = ((row[0], _Event(row[1], row[2], bytes(row[3]), row[4])) for row in events_cursor)
        hashes = ((row[0], _Hash(row[1], bytes(row[2]), bytes(row[3]))) for row in hashes_cursor)
        reports = []
        for originator_id, case_events, case_hashes in _merge(events, hashes):
            head = heads.pop(originator_id, None)
            reports.append(_check_case(originator_id, case_events, case_hashes, head, position))
        for originator_id, head in heads.items():  # projected, but nothing stored any more
            reports.append(_check_case(originator_id, [], [], head, position))
        conn.rollback()
    return Verification(reports, position is not None, position)


def _projected_heads(conn: psycopg.Connection[Any], schema: str, case_id: UUID | None
                     ) -> tuple[dict[Any, tuple[int, bytes | None]], int | None]:
    tables = conn.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)), "
        "to_regclass(format('%%I.%%I', %s::text, %s::text))",
        (schema, HEADS_TABLE, schema, f"{CHAIN_VIEW}_tracking")).fetchone()
    if tables is None or tables[0] is None or tables[1] is None:
        return {}, None
    row = conn.execute(sql.SQL("SELECT notification_id FROM {} WHERE application_name = %s").format(
        sql.Identifier(schema, f"{CHAIN_VIEW}_tracking")), (APPLICATION_NAME,)).fetchone()
    position = row[0] if row else 0
    where = sql.SQL("WHERE case_id = %s") if case_id is not None else sql.SQL("")
    rows = conn.execute(sql.SQL("SELECT case_id, version, hash FROM {} {}").format(
        sql.Identifier(schema, HEADS_TABLE), where), (case_id,) if case_id is not None else ())
    return {r[0]: (r[1], bytes(r[2]) if r[2] is not None else None) for r in rows}, position


def _merge(events: Iterable[tuple[Any, _Event]], hashes: Iterable[tuple[Any, _Hash]]
           ) -> Iterator[tuple[Any, list[_Event], list[_Hash]]]:
    """Join two streams sorted by case id into (case id, its events, its hash rows)."""
    first = lambda item: item[0]  # noqa: E731
    event_groups = ((k, [e for _, e in g]) for k, g in itertools.groupby(events, key=first))
    hash_groups = ((k, [h for _, h in g]) for k, g in itertools.groupby(hashes, key=first))
    next_event, next_hash = next(event_groups, None), next(hash_groups, None)
    while next_event is not None or next_hash is not None:
        if next_hash is None or (next_event is not None and next_event[0] < next_hash[0]):
            assert next_event is not None
            yield next_event[0], next_event[1], []
            next_event = next(event_groups, None)
        elif next_event is None or next_hash[0] < next_event[0]:
            yield next_hash[0], [], next_hash[1]
            next_hash = next(hash_groups, None)
        else:
            yield next_event[0], next_event[1], next_hash[1]
            next_event, next_hash = next(event_groups, None), next(hash_groups, None)


def _check_case(case_id: Any, events: list[_Event], hashes: list[_Hash],
                head: tuple[int, bytes | None] | None, position: int | None) -> CaseReport:
    report = CaseReport(case_id, events=len(events))
    found = report.findings
    by_version = {h.version: h for h in hashes}
    stored_versions = {e.version for e in events}

    if not events:
        if hashes:
            found.append(Finding("deleted", None, f"every event is gone: "
                                 f"{_versions(hashes[0].version, hashes[-1].version)} recorded"))
        elif head is not None:
            found.append(Finding("deleted", None, f"the case is gone: its chain head was at "
                                 f"version {head[0]}"))
        return report

    for version in sorted(set(by_version) - stored_versions):
        found.append(Finding("deleted", version, f"version {version} was recorded but is not "
                             "in the store"))
    expected = list(range(1, events[-1].version + 1))
    for version in sorted(set(expected) - stored_versions - set(by_version)):
        found.append(Finding("deleted", version, f"version {version} is missing (the case's "
                             "versions must run 1, 2, 3...)"))

    previous_event: _Event | None = None
    previous_hash = GENESIS
    for event in events:
        row = by_version.get(event.version)
        digest = event_digest(case_id, event.version, event.topic, event.state)
        if row is None:
            found.append(Finding("inserted", event.version, f"version {event.version} "
                                 f"({_short(event.topic)}) has no hash: it was not recorded "
                                 "by the service"))
        elif link(digest, row.previous) != row.hash:
            moved = _recorded_as(case_id, event, hashes)
            if link(digest, previous_hash) == row.hash:
                found.append(Finding("altered", event.version, f"the hash record of version "
                                     f"{event.version} was changed (the event itself matches)"))
            elif moved is not None:
                found.append(Finding("reordered", event.version, f"the event at version "
                                     f"{event.version} was recorded as version {moved}"))
            else:
                found.append(Finding("altered", event.version, f"version {event.version} "
                                     f"({_short(event.topic)}) is not what was recorded"))
        elif row.previous != previous_hash and previous_event is not None \
                and previous_event.version == event.version - 1:
            found.append(Finding("altered", event.version, f"the hash chain is broken before "
                                 f"version {event.version} (a hash record was changed)"))
        elif row.previous != GENESIS and event.version == 1:
            found.append(Finding("altered", 1, "the first event's hash does not start the chain"))
        if previous_event is not None and event.notification_id < previous_event.notification_id:
            found.append(Finding("reordered", event.version, f"version {event.version} comes "
                                 f"before version {previous_event.version} in the store's order"))
        previous_event = event
        previous_hash = row.hash if row is not None else link(digest, previous_hash)

    last = events[-1]
    last_row = by_version.get(last.version)
    report.head_version = last.version
    report.head_hash = last_row.hash if last_row is not None else None
    if head is not None:
        head_version, head_hash = head
        if head_version > last.version:
            found.append(Finding("deleted", last.version + 1, f"{_versions(last.version + 1, head_version)} "
                                 "recorded (the projected chain head says so) but not in the store"))
        elif head_hash is not None and by_version.get(head_version) is not None \
                and by_version[head_version].hash != head_hash:
            found.append(Finding("altered", head_version, f"the hash of version {head_version} "
                                 "differs from the chain head projected when it was recorded"))
    elif position is not None and last.notification_id <= position:
        found.append(Finding("inserted", None, "the case is in the store but was never seen by "
                             "the chain projection"))
    return report


def _recorded_as(case_id: Any, event: _Event, hashes: list[_Hash]) -> int | None:
    """The version whose hash row this event's content matches, if another one does."""
    for row in hashes:
        if row.version != event.version and event_hash(
                case_id, row.version, event.topic, event.state, row.previous) == row.hash:
            return row.version
    return None


def _versions(first: int, last: int) -> str:
    return f"version {first} was" if first == last else f"versions {first}-{last} were"


def _short(topic: str) -> str:
    return topic.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
