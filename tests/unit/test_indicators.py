"""Indicator codes are area.level.number (area 1-12, level 1-3, number from 1), at most the case's level."""

import pytest

from domain.errors import IndicatorRowsMismatch, InvalidIndicatorCode, InvalidInput
from domain.indicators import (
    QUALITY_AREAS,
    UnmetIndicator,
    check_covers_exactly,
    indicator_code,
    quality_area,
    unmet_indicators,
)


@pytest.mark.parametrize("written, canonical", [
    ("4.2.7", "4.2.7"),
    (" 4.2.7 ", "4.2.7"),
    ("04.2.07", "4.2.7"),
    ("12.3.120", "12.3.120"),
    ("1.1.1", "1.1.1"),
])
def test_indicator_codes_are_canonicalised(written, canonical):
    assert indicator_code(written, case_level=3) == canonical


@pytest.mark.parametrize("bad", [
    "", "   ", "4.2", "4.2.7.1", "4-2-7", "a.b.c", "4.2.x", "4..7", "4.02.7", "123.1.1", "4.2.1234",
    None, 4.27, 427,
])
def test_malformed_indicator_code_is_refused(bad):
    with pytest.raises(InvalidIndicatorCode, match="not an indicator code"):
        indicator_code(bad, case_level=3)


@pytest.mark.parametrize("code, reason", [
    ("0.1.1", "area must be 1 to 12"),
    ("13.1.1", "area must be 1 to 12"),
    ("4.0.1", "level must be 1 to 3"),
    ("4.4.1", "level must be 1 to 3"),
    ("4.1.0", "number must be 1 or more"),
    ("4.1.000", "number must be 1 or more"),
])
def test_indicator_code_out_of_pqasso_ranges_is_refused(code, reason):
    with pytest.raises(InvalidIndicatorCode, match=reason):
        indicator_code(code, case_level=3)


def test_indicator_above_the_case_level_is_refused():
    with pytest.raises(InvalidIndicatorCode, match="level 3 indicator; this case is assessed at level 2"):
        indicator_code("4.3.1", case_level=2)


def test_indicator_at_the_case_level_is_accepted():
    assert indicator_code("4.2.1", case_level=2) == "4.2.1"


def test_refused_indicator_code_names_the_field():
    with pytest.raises(InvalidIndicatorCode) as refused:
        indicator_code("nope", case_level=1, field="rows.3.indicator")
    assert refused.value.field == "rows.3.indicator"


def test_invalid_indicator_code_is_an_invalid_input():
    assert issubclass(InvalidIndicatorCode, InvalidInput)


def test_every_area_in_the_third_edition_is_numbered_one_to_twelve():
    assert sorted(QUALITY_AREAS) == list(range(1, 13))
    assert QUALITY_AREAS[3] == "Leadership and management"
    assert quality_area("12.1.3") == 12


def test_rows_covering_exactly_the_unmet_indicators_pass_in_any_order():
    check_covers_exactly(["4.2.7", "3.1.4"], ["3.1.4", "4.2.7"], what="plan")


def test_missing_extra_and_duplicated_rows_are_all_reported():
    with pytest.raises(IndicatorRowsMismatch) as refused:
        check_covers_exactly(["3.1.4", "3.1.4", "9.1.1", "9.1.1"], ["3.1.4", "4.2.7"], what="plan")
    error = refused.value
    assert (error.missing, error.extra, error.duplicated) == (("4.2.7",), ("9.1.1",), ("3.1.4", "9.1.1"))
    assert error.field == "rows"
    assert "one row per unmet indicator (3.1.4, 4.2.7)" in str(error)


def test_on_site_report_rows_are_validated_and_canonicalised():
    assert unmet_indicators([(" 3.1.4", "Out of date.")], case_level=1) == (
        UnmetIndicator("3.1.4", "Out of date."),
    )


def test_on_site_report_listing_an_indicator_twice_is_refused():
    with pytest.raises(IndicatorRowsMismatch) as refused:
        unmet_indicators([("3.1.4", "a"), ("03.1.4", "b")], case_level=1)
    assert refused.value.duplicated == ("3.1.4",)
    assert refused.value.field == "unmet_indicators"


def test_on_site_report_row_without_findings_is_refused():
    with pytest.raises(InvalidInput) as refused:
        unmet_indicators([("3.1.4", "  ")], case_level=1)
    assert refused.value.field == "unmet_indicators.0.findings"
