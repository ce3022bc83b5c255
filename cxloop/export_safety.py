"""Export safety: stage 8 of the loop (*report*), applied to every cell we write to a file
someone will open in a spreadsheet (register exports, quarantine exports, CSV downloads).

Feedback text, office names, reasons and owners come from outside; a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which spreadsheets strip
before looking) is run as a formula by Excel and LibreOffice ("CSV injection",
``=HYPERLINK(...)``, ``=cmd|...``). ``neutralise_formula`` prefixes such text with an
apostrophe, the spreadsheet convention for "this is text"; the apostrophe is not shown.

Only strings change: numbers, dates, booleans and ``None`` pass through untouched, so a
negative amount stays a number (``-5`` as an ``int`` is not text and runs nothing).
"""

from __future__ import annotations

__all__ = ["FORMULA_PREFIXES", "neutralise_formula", "neutralise_row"]

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula;
    anything else (numbers, dates, ``None``, safe text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_row(values: list[object] | tuple[object, ...]) -> list[object]:
    """:func:`neutralise_formula` applied to every cell of a row (for ``csv.writer``/openpyxl)."""
    return [neutralise_formula(v) for v in values]
