"""The ``reporting`` schema's tables and views: what the reporting job may read.

Tables are kept by ``projections.reporting``; the views summarise them. ``reporting.obligations``
is a view of the deadline view's obligation rows (rebuilding both together keeps them in step;
views run with their owner's rights, so the reporting role needs nothing outside the schema). The role
``pqasso_reporting`` gets SELECT on all of them and nothing else (migrations grant USAGE on
the schema and default privileges; ``PostgresReportingView`` grants SELECT on what it creates).
"""

from __future__ import annotations

from psycopg.sql import SQL, Composed, Identifier

SCHEMA = "reporting"  # as infrastructure.migrations.REPORTING_SCHEMA
REPORTING_ROLE = "pqasso_reporting"  # as infrastructure.migrations.REPORTING_ROLE
TABLES = ("cases", "unmet_indicators")
OBLIGATION_COLUMNS = (
    "case_id", "seq", "obligation", "owed_by", "organisation_id", "organisation_name",
    "lead_reviewer", "level", "opened_on", "due_on", "closed_on", "closure",
)

CASE_COLUMNS = (
    ("case_id", "uuid"), ("organisation_id", "text"), ("organisation_name", "text"),
    ("level", "smallint"), ("lead_reviewer", "text"), ("status", "text"), ("visit_date", "date"),
    ("recommendation", "text"), ("outcome_on", "date"), ("awarded_on", "date"),
    ("plan_submissions", "integer"), ("version", "integer"),
)
INDICATOR_COLUMNS = (
    ("case_id", "uuid"), ("indicator", "text"), ("quality_area", "smallint"),
    ("quality_area_name", "text"), ("indicator_level", "smallint"), ("level", "smallint"),
    ("still_unmet", "boolean"),
)

_TABLES = {
    "cases": "CREATE TABLE IF NOT EXISTS {} (case_id uuid PRIMARY KEY, organisation_id text, "
    "organisation_name text, level smallint, lead_reviewer text, status text, visit_date date, "
    "recommendation text, outcome_on date, awarded_on date, plan_submissions integer, "
    "version integer, days_to_outcome integer GENERATED ALWAYS AS (outcome_on - visit_date) STORED) "
    # Room on each page, so updates (status, outcome...) are HOT: no index writes.
    "WITH (fillfactor = 70)",
    # still_unmet: null until the evidence is judged; true for a gap or when the case lapsed.
    "unmet_indicators": "CREATE TABLE IF NOT EXISTS {} (case_id uuid NOT NULL, indicator text "
    "NOT NULL, quality_area smallint, quality_area_name text, indicator_level smallint, "
    "level smallint, still_unmet boolean, PRIMARY KEY (case_id, indicator)) WITH (fillfactor = 80)",
}

# name -> SELECT; each becomes "reporting.<name>". Counts are int and averages float8, so
# report() rows are plain JSON numbers.
VIEWS = {
    "cases_by_status_level": """
        SELECT status, level, count(*)::int AS cases
        FROM reporting.cases GROUP BY status, level ORDER BY status, level""",
    "outcomes": """
        SELECT level, recommendation, count(*)::int AS cases,
               round(avg(days_to_outcome), 1)::float8 AS mean_days_to_outcome,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY days_to_outcome) AS median_days_to_outcome,
               max(days_to_outcome) AS max_days_to_outcome,
               count(awarded_on)::int AS awarded,
               round(avg(plan_submissions), 2)::float8 AS mean_plan_submissions
        FROM reporting.cases WHERE recommendation IS NOT NULL
        GROUP BY level, recommendation ORDER BY level, recommendation""",
    # A lead reviewer's evidence judgement obligation is also met by asking for further
    # details (domain/case.py, FurtherDetailsRequested): that answers within the window too.
    "reviewer_timeliness": """
        SELECT lead_reviewer,
               count(*) FILTER (WHERE obligation = 'plan_review' AND closure = 'met')::int
                   AS plan_reviews,
               count(*) FILTER (WHERE obligation = 'plan_review' AND closure = 'met'
                                AND closed_on <= due_on)::int AS plan_reviews_on_time,
               count(*) FILTER (WHERE obligation = 'evidence_judgement' AND closure = 'met')::int
                   AS evidence_judgements,
               count(*) FILTER (WHERE obligation = 'evidence_judgement' AND closure = 'met'
                                AND closed_on <= due_on)::int AS evidence_judgements_on_time,
               count(*) FILTER (WHERE closure IS NULL AND due_on < current_date)::int
                   AS overdue_now
        FROM reporting.obligations WHERE owed_by = 'lead_reviewer'
        GROUP BY lead_reviewer ORDER BY lead_reviewer""",
    "most_unmet_indicators": """
        SELECT indicator, quality_area, quality_area_name, count(*)::int AS cases,
               count(*) FILTER (WHERE still_unmet)::int AS still_unmet_after_evidence
        FROM reporting.unmet_indicators
        GROUP BY indicator, quality_area, quality_area_name ORDER BY cases DESC, indicator""",
    "most_unmet_areas": """
        SELECT quality_area, quality_area_name, count(*)::int AS unmet_indicators,
               count(DISTINCT case_id)::int AS cases,
               count(*) FILTER (WHERE still_unmet)::int AS still_unmet_after_evidence
        FROM reporting.unmet_indicators
        GROUP BY quality_area, quality_area_name ORDER BY unmet_indicators DESC, quality_area""",
}


def table_statements() -> list[Composed]:
    return [SQL(ddl).format(Identifier(SCHEMA, name)) for name, ddl in _TABLES.items()]


def view_statements(obligations: Identifier) -> list[Composed]:
    """``reporting.obligations`` over the deadline view's table, then the summaries."""
    # The SELECTs are constants of this module (no data); CREATE OR REPLACE keeps grants.
    return [
        SQL("CREATE OR REPLACE VIEW {} AS SELECT {} FROM {}").format(
            Identifier(SCHEMA, "obligations"),
            SQL(", ").join(map(Identifier, OBLIGATION_COLUMNS)), obligations),
        *(SQL("CREATE OR REPLACE VIEW {} AS " + select).format(Identifier(SCHEMA, name))  # noqa: S608
          for name, select in VIEWS.items()),
    ]


def select_view(name: str) -> Composed:
    if name not in VIEWS:
        raise KeyError(name)
    return SQL("SELECT * FROM {}").format(Identifier(SCHEMA, name))
