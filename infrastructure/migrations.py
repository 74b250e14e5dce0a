"""``pqasso db migrate``: numbered, idempotent schema steps, then roles and grants.

Steps run once each, in order, recorded in ``schema_migrations``; future upgrades append
steps to ``STEPS`` (never edit an applied one). Roles and grants are re-applied on every
run, so a hand-made change to privileges is undone by the next migration.

Role model (roles are NOLOGIN groups; log in as a member, e.g. ``GRANT pqasso_service TO app``):
- ``pqasso_service``: SELECT + INSERT on the event store tables, USAGE on the notification
  id sequence, EXECUTE on the lock function, the append functions and the append procedures;
  full DML on projection tables via ``grant_service_on()``; SELECT on ``api_tokens``; SELECT,
  INSERT, UPDATE, DELETE on ``web_sessions`` (the pages' sessions, shared by every process).
- ``pqasso_reporting``: SELECT on the ``reporting`` schema only.
The owner (whoever runs the migration) owns every object; triggers refuse changes to
stored events even for the owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import structlog
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, get_topic
from psycopg import sql

from application.cases import QualityMarkCases
from infrastructure import audit_chain, tokens
from infrastructure.recorder import (
    CasesRecorder,
    append_function_signature,
    append_function_statements,
    append_procedure_name,
    append_procedure_signature,
    append_procedure_statements,
    idempotency_table_name,
    lock_function_name,
)
from infrastructure.settings import eventsourcing_env, redact
from infrastructure.web import sessions_postgres
from projections.runner import ProjectionSupervisor

log = structlog.get_logger(__name__)

SERVICE_ROLE = "pqasso_service"
REPORTING_ROLE = "pqasso_reporting"
REPORTING_SCHEMA = "reporting"
# Serialises concurrent `pqasso db migrate` runs on one database (arbitrary constant).
_ADVISORY_LOCK_KEY = 7_301_926_041


@dataclass(frozen=True)
class Names:
    """Where the application's tables live (the library derives them from the app name)."""

    schema: str
    events: str
    snapshots: str
    idempotency: str
    lock_function: str
    append_procedure: str

    def table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)


Conn = psycopg.Connection


@dataclass(frozen=True)
class Step:
    """One numbered migration step."""

    version: int
    description: str
    apply: Callable[[Conn, str, Names], None]


def _names() -> Names:
    prefix = QualityMarkCases.name.lower()  # as the library's PostgresFactory names tables
    events = f"{prefix}_events"
    return Names("public", events, f"{prefix}_snapshots", idempotency_table_name(events),
                 lock_function_name(events), append_procedure_name(events))


def _event_store(_conn: Conn, url: str, _names: Names) -> None:
    # The library creates its own tables, composite type and functions (plus our idempotency
    # table and lock function) exactly as the application will look for them.
    env = {
        **eventsourcing_env(url, pool_size=1, max_overflow=0),
        "CREATE_TABLE": "y",
        "APPLICATION_RECORDER_TOPIC": get_topic(CasesRecorder),
    }
    with PostgresFactory(Environment(QualityMarkCases.name, env)) as factory:
        factory.application_recorder()
        factory.aggregate_recorder("snapshots")


def _append_only(conn: Conn, _url: str, names: Names) -> None:
    refuse = sql.Identifier(names.schema, "pqasso_refuse_change")
    conn.execute(sql.SQL(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN "
        "RAISE EXCEPTION '% (% refused)', TG_ARGV[0], TG_OP "
        "USING HINT = 'Record a new event instead; stored events are the permanent record.'; "
        "END $body$").format(refuse))
    rules = [
        (names.events, "UPDATE OR DELETE", f"{names.events} is append-only: events are immutable"),
        (names.events, "TRUNCATE", f"{names.events} is append-only: events are immutable"),
        (names.idempotency, "UPDATE OR DELETE",
         f"{names.idempotency} is append-only: first answers are immutable"),
        (names.idempotency, "TRUNCATE",
         f"{names.idempotency} is append-only: first answers are immutable"),
        # Snapshots are a cache of the events: pruning them is fine, rewriting them is not.
        (names.snapshots, "UPDATE", f"{names.snapshots} rows are immutable: delete, never update"),
    ]
    for table, operations, message in rules:
        level = "STATEMENT" if operations == "TRUNCATE" else "ROW"
        trigger = f"{table}_refuse_{operations.lower().replace(' or ', '_')}"
        conn.execute(sql.SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE {} ON {} FOR EACH {} EXECUTE FUNCTION {}({})"
        ).format(sql.Identifier(trigger), sql.SQL(operations), names.table(table),
                 sql.SQL(level), refuse, sql.Literal(message)))


def _reporting_schema(conn: Conn, _url: str, _names: Names) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(REPORTING_SCHEMA)))


def _api_tokens(conn: Conn, _url: str, _names: Names) -> None:
    tokens.create_table(conn)


def _web_sessions(conn: Conn, _url: str, _names: Names) -> None:
    sessions_postgres.create_table(conn)


def _read_models(_conn: Conn, url: str, _names: Names) -> None:
    # The read models create their own tables (and the library's tracking tables).
    env = {**eventsourcing_env(url, pool_size=1, max_overflow=0),
           "APPLICATION_RECORDER_TOPIC": get_topic(CasesRecorder)}
    with ProjectionSupervisor(env) as supervisor:
        supervisor.create_tables()


def _event_hash_chain(conn: Conn, _url: str, names: Names) -> None:
    chained = audit_chain.install(conn, names.schema, names.events)
    log.info("event_hash_chain_installed", events_chained=chained)


def _append_routines(conn: Conn, _url: str, names: Names) -> None:
    # The append functions and procedures. The recorder's create_table() makes them too (a
    # database made by step 1 from now on has them already): CREATE OR REPLACE, so steps 8,
    # 10 and 11 are the same either way.
    for statement in [*append_function_statements(names.schema, names.events),
                      *append_procedure_statements(names.schema, names.events)]:
        conn.execute(statement)


STEPS: tuple[Step, ...] = (
    Step(1, "event store: events, snapshots, idempotency tables and lock function", _event_store),
    Step(2, "append-only triggers on events, idempotency records and snapshots", _append_only),
    Step(3, "reporting schema", _reporting_schema),
    Step(4, "API tokens (hashes only)", _api_tokens),
    Step(5, "read models: deadlines, audit and reporting", _read_models),
    Step(6, "event hash chain: append-only table, and hashes for events recorded before it",
         _event_hash_chain),
    Step(7, "read model: chain heads (for pqasso audit verify)", _read_models),
    Step(8, "event store: append procedure (a save in one call)", _append_routines),
    Step(9, "web sessions, shared by every server process (hashes only)", _web_sessions),
    Step(10, "event store: append functions, and a procedure for one event (a save in one statement)",
         _append_routines),
    Step(11, "event store: a save links to its case's hash at the version just before it, or fails "
             "(no gap in a case's versions)", _append_routines),
)



def migrate(database_url: str) -> list[str]:
    """Apply the pending steps, then (re)create roles and grants; return what was done."""
    names, done = _names(), []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
                "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for step in STEPS:
                if step.version in applied:
                    continue
                with conn.transaction():
                    step.apply(conn, database_url, names)
                    conn.execute("INSERT INTO schema_migrations (version, description) "
                                 "VALUES (%s, %s)", (step.version, step.description))
                done.append(f"applied step {step.version}: {step.description}")
            if not done:
                done.append(f"schema already at step {STEPS[-1].version}")
            done.extend(_ensure_roles(conn))
            with conn.transaction():
                _grant(conn, names)
            done.append(f"grants re-applied for {SERVICE_ROLE} and {REPORTING_ROLE}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
    log.info("database_migrated", url=redact(database_url), did=done)
    return done


def _ensure_roles(conn: Conn) -> list[str]:
    created = []
    for role in (SERVICE_ROLE, REPORTING_ROLE):
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            continue
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            created.append(f"created role {role}")
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # roles are cluster-wide: a migration of another database made it meanwhile
    return created


def _grant(conn: Conn, names: Names) -> None:
    service, reporting = sql.Identifier(SERVICE_ROLE), sql.Identifier(REPORTING_ROLE)
    public = sql.SQL("PUBLIC")
    hashes = audit_chain.event_hashes_table_name(names.events)  # append-only, like the events
    for table in (names.events, names.snapshots, names.idempotency, hashes, "schema_migrations"):
        # Revoke first, so "nothing else" holds even after someone granted more by hand.
        target = names.table(table) if table != "schema_migrations" else sql.Identifier(table)
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}, {}, {}").format(
            target, public, service, reporting))
        if table != "schema_migrations":
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(target, service))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
        sql.Identifier(names.schema), service))
    # The service only authenticates: tokens are issued and revoked by `pqasso tokens` as owner.
    conn.execute(sql.SQL("REVOKE ALL ON api_tokens FROM {}, {}, {}").format(public, service, reporting))
    conn.execute(sql.SQL("GRANT SELECT ON api_tokens TO {}").format(service))
    _grant_sessions(conn, public, service, reporting)
    for seq in _owned_sequences(conn, names.schema, names.events):
        conn.execute(sql.SQL("REVOKE ALL ON SEQUENCE {} FROM {}, {}").format(seq, public, service))
        conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(seq, service))
    function = sql.SQL("{}()").format(sql.Identifier(names.schema, names.lock_function))
    conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM {}, {}").format(function, public, reporting))
    conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(function, service))
    routines = [(kind, signature(names.schema, names.events, one=one))
                for kind, signature in ((sql.SQL("FUNCTION"), append_function_signature),
                                        (sql.SQL("PROCEDURE"), append_procedure_signature))
                for one in (True, False)]
    for kind, routine in routines:
        conn.execute(sql.SQL("REVOKE ALL ON {} {} FROM {}, {}").format(kind, routine, public, reporting))
        conn.execute(sql.SQL("GRANT EXECUTE ON {} {} TO {}").format(kind, routine, service))
    for schema_name, table in _read_model_tables(conn, names):
        grant_service_on(conn, table, schema=schema_name)
    schema = sql.Identifier(REPORTING_SCHEMA)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, reporting))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, reporting))
    # Tables that later migrations create (as this same owner) are readable at once.
    conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
                 .format(schema, reporting))


def _grant_sessions(conn: Conn, public: sql.Composable, service: sql.Composable,
                    reporting: sql.Composable) -> None:
    # Not TRUNCATE (sessions are not disposable like a read model); nothing for anyone else.
    # Skipped before step 9 has made the table (only a test migrates part of the way).
    table = sql.Identifier(sessions_postgres.TABLE)
    if conn.execute("SELECT to_regclass(%s)", (sessions_postgres.TABLE,)).fetchone()[0] is None:
        return
    conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}, {}, {}").format(table, public, service, reporting))
    conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(table, service))


def _read_model_tables(conn: Conn, names: Names) -> list[tuple[str, str]]:
    """Every table but the event store's, the migrations', the tokens' and the sessions': the
    read models."""
    not_read_models = [names.events, names.snapshots, names.idempotency, "schema_migrations", "api_tokens",
                       sessions_postgres.TABLE, audit_chain.event_hashes_table_name(names.events)]
    return [tuple(row) for row in conn.execute(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN (%s, %s) "
        "AND NOT (schemaname = %s AND tablename = ANY(%s)) ORDER BY 1, 2",
        (names.schema, REPORTING_SCHEMA, names.schema, not_read_models)).fetchall()]


def _owned_sequences(conn: Conn, schema: str, table: str) -> list[sql.Composable]:
    rows = conn.execute(
        "SELECT sn.nspname, s.relname FROM pg_class t "
        "JOIN pg_namespace tn ON tn.oid = t.relnamespace "
        "JOIN pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_class'::regclass "
        "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_namespace sn ON sn.oid = s.relnamespace "
        "WHERE tn.nspname = %s AND t.relname = %s", (schema, table)).fetchall()
    return [sql.Identifier(nsp, rel) for nsp, rel in rows]


def grant_service_on(conn: Conn, table: str, *, schema: str = "public") -> None:
    """Give the service role full DML on a projection (read model) table and its sequences.

    TRUNCATE is included because read models are disposable: a rebuild empties them.
    """
    service = sql.Identifier(SERVICE_ROLE)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), service))
    conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {} TO {}").format(
        sql.Identifier(schema, table), service))
    for seq in _owned_sequences(conn, schema, table):
        conn.execute(sql.SQL("GRANT USAGE, SELECT, UPDATE ON SEQUENCE {} TO {}").format(seq, service))
