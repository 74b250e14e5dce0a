"""Whole numbers typed by people or sent in headers, read without surprises.

``str.isdigit`` is true of "²" and "٣", which ``int`` then reads or refuses in its own way, and
``int`` refuses text of more than 4,300 digits: a check of one followed by the other turns such
input into a 500. ``whole_number`` takes only ASCII digits, and only so many.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def whole_number(text: str, *, max_digits: int) -> int | None:
    """The number ``text`` spells in 1 to ``max_digits`` ASCII digits, else None."""
    if len(text) > max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)
