"""The improvement action plan as a PDF, laid out like the CES template (fpdf2, pure Python).

The five columns of the guidance's template (indicator, peer reviewer findings,
improvement required, action undertaken, evidence), then the Signed / Position / Date
block for the plan and for the evidence. DejaVu Sans is used when the machine has it
(Debian: fonts-dejavu-core), so any character prints; otherwise the PDF's built-in
Helvetica, with characters it lacks replaced.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from infrastructure.web.case_view import CaseView, Signature
from infrastructure.web.labels import POSITIONS, STATUSES, day, label

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/local/share/fonts/dejavu"))
HEADINGS = ("Indicator", "Peer reviewer findings", "Improvement required", "Action undertaken", "Evidence")
WIDTHS = (18, 58, 62, 70, 59)
_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                        "\u2014": "-", "\u2026": "...", "\u2022": "-"})


class PlanPdf(FPDF):
    """A landscape A4 document with a page-numbered footer."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.title_text = title
        self.unicode = _add_dejavu(self)
        self.family = "DejaVu" if self.unicode else "Helvetica"
        self.set_auto_page_break(auto=True, margin=14)
        self.set_title(title)
        self.set_creator("pqasso-cases")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.family, size=8)
        self.cell(0, 5, self.text(f"{self.title_text} - page {self.page_no()}"), align="C")

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        value = unicodedata.normalize("NFKC", value.translate(_ASCII))
        return value.encode("latin-1", "replace").decode("latin-1")


def _add_dejavu(pdf: FPDF) -> bool:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return True
    return False


def plan_pdf(view: CaseView) -> bytes:
    """The plan of ``view``'s case as PDF bytes: the template's table, or, when one of its
    rows is too long for a page (a table row cannot break across pages; a text may hold
    4,000 characters), one block per indicator, each column's text under its heading."""
    try:
        return _document(view, _rows_as_table)
    except ValueError as error:  # fpdf2: "The row with index N is too high..."
        if "too high" not in str(error):
            raise
        return _document(view, _rows_as_blocks)


def _document(view: CaseView, rows: Callable[[PlanPdf, CaseView], None]) -> bytes:
    state = view.state
    org = state["organisation"]["name"]
    pdf = PlanPdf(f"Improvement action plan - {org}")
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 15)
    pdf.cell(0, 9, pdf.text("PQASSO Quality Mark: improvement action plan"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, size=10)
    facts = (f"Organisation: {org}    Level: {state['level']}    Site visit: {day(state['visit_date'])}    "
             f"Lead reviewer: {state['lead_reviewer']}    Status: {label(STATUSES, state['status'])}")
    pdf.multi_cell(0, 6, pdf.text(facts), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(pdf.family, size=9)
    rows(pdf, view)
    pdf.ln(5)
    _signatures(pdf, view.plan_signature, view.evidence_signature)
    return bytes(pdf.output())


def _cells(line: Any) -> tuple[str, ...]:
    evidence = "\n".join(f"- {title}" for title in line.evidence)
    return (line.indicator, line.findings, line.improvement_required, line.action_undertaken, evidence)


def _rows_as_table(pdf: PlanPdf, view: CaseView) -> None:
    with pdf.table(col_widths=WIDTHS, headings_style=FontFace(emphasis="BOLD", fill_color=(225, 232, 240)),
                   line_height=4.6, text_align="LEFT", padding=1.2, v_align="TOP") as table:
        table.row([pdf.text(h) for h in HEADINGS])
        for line in view.lines:
            table.row([pdf.text(t) for t in _cells(line)])


def _rows_as_blocks(pdf: PlanPdf, view: CaseView) -> None:
    for line in view.lines:
        for heading, text in zip(HEADINGS, _cells(line), strict=True):
            pdf.set_font(pdf.family, "B", 9)
            pdf.multi_cell(0, 5, pdf.text(heading), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(pdf.family, size=9)
            pdf.multi_cell(0, 4.6, pdf.text(text or "-"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


def _signatures(pdf: PlanPdf, plan: Signature | None, evidence: Signature | None) -> None:
    pdf.set_font(pdf.family, size=10)
    rows = (("", "Plan", "Actions and evidence"),
            ("Signed", *(s.name if s else "" for s in (plan, evidence))),
            ("Position", *(label(POSITIONS, s.position) if s else "" for s in (plan, evidence))),
            ("Date", *(day(s.signed_on) if s else "" for s in (plan, evidence))),
            ("Received", *(day(s.received_on) if s else "" for s in (plan, evidence))))
    with pdf.table(col_widths=(30, 60, 60), width=150, align="LEFT", first_row_as_headings=True,
                   headings_style=FontFace(emphasis="BOLD"), line_height=6, padding=1) as table:
        for row in rows:
            table.row([pdf.text(cell) for cell in row])
