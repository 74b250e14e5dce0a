"""Whole numbers typed by people or sent in headers: ASCII digits only, and only so many."""

from __future__ import annotations

import pytest

from infrastructure.whole_numbers import whole_number


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("7", 7), ("007", 7), ("123456789", 123456789)])
def test_ascii_digits_are_the_number_they_spell(text, number):
    assert whole_number(text, max_digits=9) == number


@pytest.mark.parametrize("text", [
    "", " 7", "7 ", "-1", "+1", "1.0", "1e3", "1_000", "²", "٣", "７", "1234567890", "9" * 5_000,
], ids=repr)
def test_anything_else_is_no_number(text):
    assert whole_number(text, max_digits=9) is None
