"""The PDF's layout: what the body shows and what continues in an appendix.

Management reads the body in five minutes, so ``report_layout`` cuts long lists
(the register groups, the office league table) after a fixed number of rows and
moves the rest to appendices, or, when too long to print, to a CSV attached to
the PDF. ``tasks.reports.render`` lays out every context before rendering it.
"""

from __future__ import annotations

from tasks.reports.attachments import REGISTER_CSV_KEY, league_csv_name, register_csv_name
from tasks.reports.context_measures import REGISTER_GROUPS
from tasks.reports.strings import fmt_num, layout_text, layout_texts

#: Rows of the office league table kept in the body; the rest continue in an appendix.
LEAGUE_BODY_ROWS = 30
#: Rows kept in the body per register group; the rest continue in an appendix.
REGISTER_BODY_ROWS = 15
#: An appendix takes at most this many rows (about six pages). A longer rest — the
#: national report's 2,400 offices, a national register of hundreds of measures — is
#: not printed: the whole list is a CSV file attached to the PDF, which a reader sorts
#: and filters in a spreadsheet (the register's is attached anyway).
APPENDIX_MAX_ROWS = 200


def report_layout(
    context: dict, *, league_rows: int = LEAGUE_BODY_ROWS, register_rows: int = REGISTER_BODY_ROWS
) -> dict:
    """What the body shows and what continues in an appendix; returns a new context
    (``context`` itself is not changed).

    Management reads the body in five minutes, so a long list stops after a fixed
    number of rows, with a note saying where it goes on: each register group (new, in
    progress, …: ``REGISTER_GROUPS``) after ``register_rows`` rows — Appendix 1, group by
    group — and the office league table after ``league_rows`` rows — the next
    appendix; the top of the ranking stays in the body, the rest (offices with too
    small a sample come last) continues there. Rows are moved, not copied: body rows +
    appendix rows are the whole list in its order. The register headings keep the full
    counts (``register["totals"]``). When the register CSV is embedded, a note under
    the register heading says so.

    A rest longer than ``APPENDIX_MAX_ROWS`` is not printed at all: the note says the
    whole list is in a CSV attached to the PDF (the register's own CSV; for the office
    ranking ``appendix["league_csv"]`` = {name, rows}, which ``render_report_pdf``
    attaches). The national report's 2,400 offices would otherwise be ~60 pages.
    """
    lang = context.get("lang", "ru")
    words = layout_texts(lang)
    register = dict(context["register"])
    for key in REGISTER_GROUPS:  # a context made without one of the groups has it empty
        register[key] = list(register.get(key, []))
    league = dict(context["league"])
    more = {"league": "", **dict.fromkeys(REGISTER_GROUPS, "")}
    register["totals"] = {key: len(register[key]) for key in REGISTER_GROUPS}
    number = 0

    register_csv_attached = bool(context.get(REGISTER_CSV_KEY))
    register_appendix = None
    rest_rows = sum(max(0, len(register[key]) - register_rows) for key in REGISTER_GROUPS)
    if rest_rows > APPENDIX_MAX_ROWS and register_csv_attached:
        # Too long to print: the body keeps each group's first rows, the attached CSV has all.
        for key in REGISTER_GROUPS:
            rows = list(register[key])
            if len(rows) > register_rows:
                register[key] = rows[:register_rows]
                more[key] = layout_text(
                    lang,
                    "more_csv",
                    shown=register_rows,
                    total=fmt_num(len(rows), lang, 0),
                    name=register_csv_name(context["quarter"]),
                )
    elif rest_rows:
        number += 1
        rest: dict[str, list] = {}
        rows_text: dict[str, str] = {}
        for key in REGISTER_GROUPS:
            rows = list(register[key])
            rest[key] = rows[register_rows:]
            rows_text[key] = layout_text(lang, "rows", first=register_rows + 1, last=len(rows)) if rest[key] else ""
            if rest[key]:
                register[key] = rows[:register_rows]
                more[key] = layout_text(lang, "more", shown=register_rows, total=len(rows), number=number)
        register_appendix = {"number": number, "rest": rest, "rows_text": rows_text}

    league_appendix = None
    league_csv = None
    offices = list(league["offices"])
    if len(offices) - league_rows > APPENDIX_MAX_ROWS:
        league["offices"] = offices[:league_rows]
        name = league_csv_name(context["quarter"], context["scope"])
        more["league"] = layout_text(
            lang, "more_csv", shown=league_rows, total=fmt_num(len(offices), lang, 0), name=name
        )
        league_csv = {"name": name, "rows": offices}
    elif len(offices) > league_rows:
        number += 1
        league["offices"] = offices[:league_rows]
        more["league"] = layout_text(lang, "more", shown=league_rows, total=len(offices), number=number)
        league_appendix = {
            "number": number,
            "rows": offices[league_rows:],
            "rows_text": layout_text(lang, "rows", first=league_rows + 1, last=len(offices)),
        }

    csv_note = (
        layout_text(lang, "register_csv", name=register_csv_name(context["quarter"])) if register_csv_attached else ""
    )
    appendix = {
        "words": words,
        "more": more,
        "register": register_appendix,
        "league": league_appendix,
        "register_csv": csv_note,
        "league_csv": league_csv,
    }
    return {**context, "register": register, "league": league, "appendix": appendix}
