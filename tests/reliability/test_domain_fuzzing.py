"""Point 4: hypothesis on the domain and application (in memory, events transcoded as stored).

Every free text of a case's life is drawn from all of Unicode (controls, lone surrogates, NUL,
blanks, very long strings, SQL and markup): each command is either refused with the domain's
own error (``CaseError``: a 422 at the edge) or recorded, and then what the stored events give
back is exactly what was sent. Nothing else may happen: no other exception, no altered text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.cases import CommandResult, QualityMarkCases
from application.commands import (
    ApprovePlan,
    CommandContext,
    ExtendDeadline,
    HoldSiteVisit,
    JudgeEvidence,
    ProvideFurtherDetails,
    RequestFurtherDetails,
    SubmitEvidence,
    SubmitPlan,
)
from application.views import case_state, history_item
from domain.deadlines import Obligation
from domain.errors import CaseError
from domain.indicators import UnmetIndicator
from domain.participants import Actor, Organisation, Role, Signatory, SignatoryPosition
from domain.plans import EvidenceItem, EvidenceRow, IndicatorJudgement, PlanRow
from domain.texts import NAME_MAX, TEXT_MAX
from projections.audit import event_json
from tests.builders import ADMIN
from tests.integration.support import TODAY

CODES = ("3.1.4", "4.2.7")
ANY_CHARACTER = st.one_of(
    st.characters(exclude_categories=()),  # every code point hypothesis draws, controls too
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.sampled_from("\x00\t\r\n\x0b\x1b\x7f\u202e\u200b\ufeff'\";\\%$`"),
)
HOSTILE = st.sampled_from([
    "'; DROP TABLE cases_events; --", "' OR 1=1 --", "%s %(x)s {0} $1 $$", "<script>", " ", "",
    "a" * TEXT_MAX, "a" * (TEXT_MAX + 1), "é" * NAME_MAX, "😀" * (NAME_MAX + 1), "x\x00y",
])
# Texts any field takes: every code point but NUL and lone surrogates, controls included.
ACCEPTABLE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                     min_size=1, max_size=40).filter(str.strip)
# Anything at all: what one field of a journey may be spoilt with.
ANYTHING = st.one_of(
    HOSTILE,
    st.tuples(ACCEPTABLE, st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "\U0001f600"]),
              ACCEPTABLE).map("".join),  # one odd character inside an acceptable text
    st.text(ANY_CHARACTER, max_size=60),
    st.text(ANY_CHARACTER, min_size=TEXT_MAX - 2, max_size=TEXT_MAX + 2),
)
FIELDS = ("organisation_id", "organisation_name", "lead_reviewer", "findings", "improvement",
          "signatory", "action", "title", "request", "details", "comment", "report", "reason")
OPENING_FIELDS = ("organisation_id", "organisation_name", "lead_reviewer", "findings")
# Acceptable texts everywhere, then at most one field anything at all: so journeys go deep
# and every field meets every kind of text. Drawn with the name of the field spoilt, if any.
TEXTS = st.tuples(st.fixed_dictionaries({name: ACCEPTABLE for name in FIELDS}),
                  st.one_of(st.none(), st.sampled_from(FIELDS)), ANYTHING).map(
    lambda drawn: (drawn[0], None) if drawn[1] is None else ({**drawn[0], drawn[1]: drawn[2]}, drawn[1]))


def strings_in(value: Any) -> Iterator[str]:
    """Every string of a JSON value, its keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def attempt(app: QualityMarkCases, make_command, actor, today: date = TODAY) -> CommandResult | None:
    """Run a command: its result if recorded, None if the domain refused it (and nothing else)."""
    try:
        command = make_command()  # value objects check their texts as they are made
        if isinstance(command, HoldSiteVisit):
            return app.open_case(command, CommandContext(actor, today))
        return app.execute(command, CommandContext(actor, today))
    except CaseError:
        return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_every_text_is_recorded_verbatim_or_refused_by_the_domain(
        drawn: tuple[dict[str, str], str | None]) -> None:
    texts, spoilt = drawn
    app = QualityMarkCases(env={"AGGREGATE_CACHE_MAXSIZE": "0"})  # every read decodes stored events

    def open_case() -> HoldSiteVisit:
        return HoldSiteVisit(
            Organisation(texts["organisation_id"], texts["organisation_name"]), 2, date(2009, 4, 17),
            texts["lead_reviewer"], (UnmetIndicator("3.1.4", texts["findings"]),
                                     UnmetIndicator("4.2.7", "No complaints procedure.")))

    opened = attempt(app, open_case, ADMIN)
    if opened is None:  # only a text the domain refuses stops the journey
        assert spoilt in OPENING_FIELDS, f"the site visit was refused with acceptable texts: {texts}"
        return
    case_id = opened.case_id
    reviewer = Actor(texts["lead_reviewer"], Role.LEAD_REVIEWER)
    signatory = lambda: Signatory(texts["signatory"], SignatoryPosition.CHAIR)  # noqa: E731
    steps = [
        (lambda: ExtendDeadline(case_id, Obligation.PLAN_SUBMISSION, date(2009, 5, 8), texts["reason"]),
         ADMIN, date(2009, 4, 20)),
        (lambda: SubmitPlan(case_id, (PlanRow("3.1.4", texts["findings"], texts["improvement"]),
                                      PlanRow("4.2.7", "No complaints procedure.", "Write one.")),
                            signatory(), date(2009, 4, 30), date(2009, 5, 1)), ADMIN),
        (lambda: ApprovePlan(case_id, date(2009, 5, 20)), reviewer),
        (lambda: SubmitEvidence(case_id, (
            EvidenceRow("3.1.4", texts["action"], (EvidenceItem(texts["title"]),)),
            EvidenceRow("4.2.7", "Written.", (EvidenceItem("Procedure"),))),
            signatory(), date(2009, 6, 20), date(2009, 6, 22)), ADMIN),
        (lambda: RequestFurtherDetails(case_id, date(2009, 6, 25), texts["request"]), reviewer),
        (lambda: ProvideFurtherDetails(case_id, date(2009, 6, 29), texts["details"]), ADMIN),
        (lambda: JudgeEvidence(case_id, date(2009, 7, 1), (
            IndicatorJudgement("3.1.4", True, texts["comment"]),
            IndicatorJudgement("4.2.7", True, "Met.")), texts["report"]), reviewer),
    ]
    for step, (make, actor, *today) in enumerate(steps):
        if not attempt(app, make, actor, *today):
            assert spoilt is not None, f"step {step} was refused with acceptable texts: {texts}"
            break

    # What the stored events give back is what was sent, character for character.
    events = app.history(case_id)
    history = [history_item(event) for event in events]
    for event in events:  # and the read models can hold it:
        data = event_json(event)
        data.encode("utf-8")  # UTF-8 text (a lone surrogate would raise here)
        assert not any("\x00" in text for text in strings_in(json.loads(data)))  # jsonb refuses NUL
    state = case_state(app.get_case(case_id))
    assert state["organisation"] == {"id": texts["organisation_id"], "name": texts["organisation_name"]}
    assert state["lead_reviewer"] == texts["lead_reviewer"]
    assert state["unmet_indicators"][0]["findings"] == texts["findings"]
    recorded = {item["type"]: item["data"] for item in history}
    if "DeadlineExtended" in recorded:
        assert recorded["DeadlineExtended"]["reason"] == texts["reason"]
    if "PlanSubmitted" in recorded:
        assert state["plan"]["rows"][0]["improvement_required"] == texts["improvement"]
        assert state["plan"]["signed_by"]["name"] == texts["signatory"]
    if "EvidenceSubmitted" in recorded:
        assert state["evidence"]["rows"][0]["action_undertaken"] == texts["action"]
        assert state["evidence"]["rows"][0]["evidence"][0]["title"] == texts["title"]
    if "FurtherDetailsRequested" in recorded:
        assert state["further_details"][0]["request"] == texts["request"]
    if "FurtherDetailsProvided" in recorded:
        assert state["further_details"][0]["answer"] == texts["details"]
    if "EvidenceJudged" in recorded:
        assert state["judgements"][0]["comment"] == texts["comment"]
        assert state["report"] == texts["report"]

