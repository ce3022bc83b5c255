"""Row 4 of issue 14, other separators: an answer cell holding two numbers ("4-5", "4..5",
"4 5") is not read as its first number (that would truncate it silently); "4/5" and
"4 из 5" (a score out of a maximum) still are."""

import pytest

from tasks.collect.staging import parse_number


@pytest.mark.parametrize("value", ["4-5", "4 - 5", "4..5", "4 5", "4–5", "3;4", "4,5,6", "4:5"])
def test_two_numbers_in_one_cell_are_not_a_number(value):
    assert parse_number(value) is None


@pytest.mark.parametrize(
    "value,expected",
    [("4/5", 4.0), ("4 / 5", 4.0), ("4 из 5", 4.0), ("5 звёзд", 5.0), ("4,0", 4.0), ("4.5 звезды", 4.5), ("-1", -1.0)],
)
def test_a_number_with_a_suffix_is_read(value, expected):
    assert parse_number(value) == expected
