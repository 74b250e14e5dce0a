"""Every read model of the cases application, and how to open one outside the supervisor.

``read_model(env, "deadlines")`` is what a query needs (``pqasso overdue``, ``pqasso
report``, the HTTP API): the view alone, with a small pool, no application and no threads.
``create_read_models(env)`` creates every table (``pqasso db migrate``, as their owner) and
names them, so the migration can grant the service role what it needs on each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from projections.audit import AuditProjection, PostgresAuditView
from projections.base import CaseProjection, PostgresReadModel, Table
from projections.chain_heads import ChainHeadsProjection, PostgresChainHeadsView
from projections.deadlines import DeadlinesProjection, PostgresDeadlinesView
from projections.reporting import PostgresReportingView, ReportingProjection


@dataclass(frozen=True)
class ProjectionSpec:
    """A projection and the class of its read model."""

    projection_class: type[CaseProjection[Any]]
    view_class: type[PostgresReadModel]

    @property
    def name(self) -> str:
        return self.projection_class.name

    def open_view(self, env: Mapping[str, str], *, create_table: bool | None = None) -> Any:
        """The read model on the database of ``env`` (env keys may be prefixed with the
        projection's name, e.g. ``DEADLINES_POSTGRES_POOL_SIZE``), with a small pool."""
        settings = {**env, **pool_env(self.name.upper(), 1)}
        if create_table is not None:
            settings[f"{self.name.upper()}_CREATE_TABLE"] = "y" if create_table else "n"
        factory = InfrastructureFactory.construct(Environment(self.name, settings))
        return factory.tracking_recorder(self.view_class)


# Deadlines first: reporting.obligations is a view of its table.
ALL = (
    ProjectionSpec(DeadlinesProjection, PostgresDeadlinesView),
    ProjectionSpec(AuditProjection, PostgresAuditView),
    ProjectionSpec(ReportingProjection, PostgresReportingView),
    ProjectionSpec(ChainHeadsProjection, PostgresChainHeadsView),  # for `pqasso audit verify`
)


def read_model(env: Mapping[str, str], name: str) -> Any:
    """The read model called ``name`` (``deadlines``, ``audit``, ``reporting``, ...);
    close it with ``view.datastore.close()``."""
    for spec in ALL:
        if spec.name == name:
            return spec.open_view(env, create_table=False)
    raise KeyError(name)


def create_read_models(env: Mapping[str, str]) -> list[Table]:
    """Create every read model's tables, views and indexes (idempotent); return the tables
    (with the tracking tables) as (schema, name), for grants."""
    tables: list[Table] = []
    for spec in ALL:
        view = spec.open_view(env, create_table=True)
        try:
            tables += [*view.tables, (view.datastore.schema, view.tracking_table_name)]
        finally:
            view.datastore.close()
    return tables


def pool_env(prefix: str, size: int) -> dict[str, str]:
    """Pool settings for one application or read model (``<PREFIX>_POSTGRES_...``)."""
    return {f"{prefix}_POSTGRES_POOL_SIZE": str(size), f"{prefix}_POSTGRES_MAX_OVERFLOW": "2"}
