"""A measure's rollout office by office: the quarter each office in its scope started.

A measure reaches its offices either all at once (its ``implemented_on`` date) or
office by office. ``Measure.office_starts`` holds the offices that started in a
quarter of their own, stored as ``office:quarter`` pairs sorted by office and
comma-separated (``52-03:2026Q2,52-04:2026Q3``); an office of the scope without a
pair started in the quarter of ``implemented_on``. Like ``implemented_on``, an
office's start quarter is partly before and partly after: the effects stage leaves
that office's start quarter out and counts "after" from the next quarter.

People write the pairs as they like (``52-03 2026Q2; 52-04=2026 Q3``, or a mapping);
:func:`normalise_office_starts` gives the stored form or a ``ValueError`` naming the
item. :func:`start_quarters` gives every office of a measure its start quarter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cxloop.quarters import Quarter

_ITEM_SPLIT_RE = re.compile(r"[,;\n]+")
_PAIR_RE = re.compile(r"^\s*(?P<office>[^\s:=]+)\s*(?:[:=]\s*|\s+)(?P<quarter>\S.*?)\s*$")


def _quarter(office: str, text: Any) -> Quarter:
    try:
        return Quarter.parse(re.sub(r"\s+", "", str(text)).upper())
    except ValueError:
        raise ValueError(f"office {office}: start {str(text).strip()[:20]!r} is not a quarter (e.g. 2026Q2)") from None


def parse_office_starts(value: Any) -> dict[str, Quarter]:
    """Office -> start quarter from a mapping or text of ``office:quarter`` pairs (see the module docstring).

    Blank gives ``{}``. Raises ``ValueError`` for an item that is not a pair, a start that is
    not a quarter, or an office given two different starts."""
    if value is None:
        return {}
    pairs: list[tuple[str, Any]]
    if isinstance(value, Mapping):
        pairs = [(str(k).strip(), v) for k, v in value.items()]
    else:
        pairs = []
        for item in _ITEM_SPLIT_RE.split(str(value)):
            if not item.strip():
                continue
            m = _PAIR_RE.match(item)
            if m is None:
                raise ValueError(f"office start {item.strip()[:40]!r} is not 'office:quarter' (e.g. 52-03:2026Q2)")
            pairs.append((m["office"], m["quarter"]))
    starts: dict[str, Quarter] = {}
    for office, text in pairs:
        if not office:
            raise ValueError(f"office start {text!r} names no office")
        q = _quarter(office, text)
        if starts.get(office, q) != q:
            raise ValueError(f"office {office} is given two starts: {starts[office]} and {q}")
        starts[office] = q
    return starts


def format_office_starts(starts: Mapping[str, Quarter]) -> str:
    """The stored form: ``office:quarter`` pairs sorted by office, comma-separated."""
    return ",".join(f"{office}:{starts[office]}" for office in sorted(starts))


def normalise_office_starts(value: Any) -> str:
    """Any accepted way of writing the pairs, as the register stores them."""
    return format_office_starts(parse_office_starts(value))


def check_office_starts(office_starts: str, offices: str, implemented_quarter: Quarter | None) -> list[str]:
    """What is wrong with a measure's office starts given its scope and implementation quarter.

    An office with a start must be in the scope; no office starts before the quarter the
    measure was implemented in (``implemented_on`` is when it first went live). Out: the
    problems as sentences (empty when consistent)."""
    starts = parse_office_starts(office_starts)
    scope = {o for o in offices.split(",") if o}
    problems = []
    outside = sorted(set(starts) - scope)
    if outside:
        problems.append(f"office start(s) for {', '.join(outside)} outside the measure's offices")
    if implemented_quarter is not None:
        early = sorted(o for o, q in starts.items() if q < implemented_quarter)
        if early:
            problems.append(
                f"office(s) {', '.join(early)} start before the measure's implementation quarter {implemented_quarter}"
            )
    return problems


def start_quarters(offices: str, office_starts: str, implemented_quarter: Quarter | None) -> dict[str, Quarter]:
    """Every office of the scope with the quarter it started in: its own start, else the
    implementation quarter; offices with neither are left out (not started)."""
    starts = parse_office_starts(office_starts)
    out: dict[str, Quarter] = {}
    for office in sorted(o for o in offices.split(",") if o):
        q = starts.get(office, implemented_quarter)
        if q is not None:
            out[office] = q
    return out
