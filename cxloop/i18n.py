"""Report languages: Babel message catalogs, and numbers, dates and quarters the way each reader writes them.

Languages
    ``ru`` (the default), ``en`` and ``fi``. Babel locales: ru_RU, en_GB (the
    report's English is British), fi_FI.

Catalogs
    ``locale/<lang>/LC_MESSAGES/cxloop.po``, one per language, made from the
    template ``locale/cxloop.pot`` that ``pybabel extract -F babel.cfg`` writes
    from the code (``tasks/``, ``cxloop/``, ``flows/``) and the Jinja2 templates.

    *msgids are the English source strings*, with a ``msgctxt`` only where one
    English word needs two renderings (Russian and Finnish decline: "citizens"
    as a heading, as a tag and after "12 in 100 …"). A string shows its meaning
    where it is used, extraction needs no key table, and ``en.po`` holds the
    English text itself (``msgstr`` = ``msgid``), so English wording can be
    edited there without touching code.

    *Every catalog string is a Python %-format string with named placeholders*,
    always formatted, also when it has none (the rule of Jinja2's "newstyle"
    gettext, which the templates use): ``%(name)s`` for a value, ``%%`` for a
    percent sign. The ``python-format`` flag Babel puts on such entries lets
    ``Catalog.check()`` prove every translation keeps the placeholders.

Loading
    The ``.po`` files are read at run time with ``babel.messages.pofile.read_po``
    and compiled in memory (``write_mo`` into a buffer, then
    ``babel.support.Translations``): no compiled ``.mo`` files in the repository
    or on disk, nothing to build at install time. Fuzzy entries are not used.
    A missing translation falls back to the English msgid (the tests make sure
    none is missing).

Adding or changing a string
    Write it in the code as ``_("English text %(x)s", x=...)`` (``_`` being a
    :class:`Translator`; ``_.pgettext(context, text)``, ``_.ngettext(singular,
    plural, n)``; ``N_(text)`` / ``NP_(context, text)`` mark table entries
    translated later with ``_.label``), or in a template as
    ``{{ _("English text %(x)s", x=value) }}``. Then::

        .venv/bin/python -m cxloop.i18n update    # extract -> locale/cxloop.pot, merge into the .po files,
                                                  # copy English msgids into en.po, list what is untranslated
        # translate the new entries in locale/ru/... and locale/fi/... (remove any "fuzzy" flag after review)
        .venv/bin/python -m cxloop.i18n check     # exit 1 if anything is missing, fuzzy or stale

    The same with pybabel alone::

        .venv/bin/pybabel extract -F babel.cfg --no-location --project=cxloop -o locale/cxloop.pot .
        .venv/bin/pybabel update -i locale/cxloop.pot -d locale -D cxloop --ignore-obsolete

Formatting
    :func:`format_number` (decimal comma in ru/fi, grouping by the locale, the
    true minus sign "−" and an explicit "+" for changes), :func:`format_percent`,
    :func:`format_date`, :func:`format_date_range`, :func:`format_quarter`
    ("3-й квартал 2026", "Q3 2026", "3. neljännes 2026"; short forms for tables
    and running text). Quarter names come from the catalogs; numbers and dates
    from Babel's CLDR data.
"""

from __future__ import annotations

import copy
import io
import math
import sys
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, cast

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_interval
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import parse_pattern
from babel.support import Translations

from cxloop.domain import LANGUAGES
from cxloop.paths import LOCALE_DIR, ROOT

DOMAIN = "cxloop"
POT_PATH = LOCALE_DIR / f"{DOMAIN}.pot"
MAPPING_PATH = ROOT / "babel.cfg"

DEFAULT_LANGUAGE = "ru"
#: The Babel (CLDR) locale of each report language.
LOCALES = {"ru": "ru_RU", "en": "en_GB", "fi": "fi_FI"}

MINUS = "\u2212"
#: What a missing number is shown as.
NO_VALUE = "—"


# ---------------------------------------------------------------------------
# Marking strings for extraction.
# ---------------------------------------------------------------------------


class Marked(NamedTuple):
    """A msgid with its msgctxt, kept for translation later (see :func:`NP_`)."""

    context: str
    message: str


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (tables of labels); see ``Translator.label``."""
    return message


def NP_(context: str, message: str) -> Marked:
    """Mark a string with a context (msgctxt) for extraction without translating it."""
    return Marked(context, message)


# ---------------------------------------------------------------------------
# Catalogs.
# ---------------------------------------------------------------------------


def check_language(lang: str) -> str:
    """``lang`` when it is a report language, else ValueError naming the supported ones."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported report language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    return lang


def po_path(lang: str) -> Path:
    return LOCALE_DIR / check_language(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    """A .po or .pot file as a Babel catalog."""
    with open(path, "rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


@cache
def translations(lang: str) -> Translations:
    """The compiled catalog of ``lang``: the .po read with Babel and compiled in memory
    (the object has ``gettext``, ``ngettext``, ``pgettext``, ``npgettext`` and is what
    Jinja2's i18n extension is given). Cached per language for the process."""
    catalog = read_catalog(po_path(lang), locale=LOCALES[lang])
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


class Translator:
    """The translation functions of one language; calling it is ``gettext``.

    Each function looks the msgid up and then always %-formats the result with the
    keyword arguments (see the module docstring), so ``"95 %% CI"`` reads "95 % CI"
    and ``_("Rank %(rank)s", rank=3)`` fills the placeholder in any language. The
    plural functions put the count in ``num`` unless it is given.
    """

    def __init__(self, lang: str) -> None:
        self.lang = check_language(lang)
        self.locale = LOCALES[lang]
        self.translations = translations(lang)

    def __repr__(self) -> str:
        return f"Translator({self.lang!r})"

    def gettext(self, message: str, /, **values: Any) -> str:
        return self.translations.gettext(message) % values

    __call__ = gettext

    def pgettext(self, context: str, message: str, /, **values: Any) -> str:
        # babel annotates pgettext as ``str | object``, but it returns the catalog's str (or the msgid)
        return cast(str, self.translations.pgettext(context, message)) % values

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        values.setdefault("num", n)
        return self.translations.ngettext(singular, plural, n) % values

    def npgettext(self, context: str, singular: str, plural: str, n: int, /, **values: Any) -> str:
        values.setdefault("num", n)
        return self.translations.npgettext(context, singular, plural, n) % values

    def label(self, entry: str | Marked, /, **values: Any) -> str:
        """Translate an entry marked with ``N_`` (a plain msgid) or ``NP_`` (with its context)."""
        if isinstance(entry, Marked):
            return self.pgettext(entry.context, entry.message, **values)
        return self.gettext(entry, **values)

    def labels(self, table: dict[str, str | Marked]) -> dict[str, str]:
        """A table of marked entries (id -> msgid) translated: id -> text."""
        return {key: self.label(entry) for key, entry in table.items()}


@cache
def gettext(lang: str) -> Translator:
    """The :class:`Translator` of ``lang`` (``_ = gettext("fi"); _("Index")`` -> "Indeksi")."""
    return Translator(lang)


# ---------------------------------------------------------------------------
# Vocabulary shared by the report and the pain points' "why this rank" sentences.
# ---------------------------------------------------------------------------

RAY_LABELS: dict[str, str | Marked] = {
    "friendliness": N_("friendliness and partnership"),
    "usefulness": N_("usefulness"),
    "effort": N_("effort minimisation"),
    "personalisation": N_("personalisation"),
    "comfort": N_("external comfort and convenience"),
}

STAGE_LABELS: dict[str, str | Marked] = {
    "first_contact": N_("first contact"),
    "profiling_plan": N_("profiling and plan"),
    "benefits": N_("benefits"),
    "job_matching": N_("job matching"),
    "periodic_meetings": N_("periodic meetings"),
    "training": N_("training"),
    "exit": N_("employment and exit"),
    "employer_onboarding": N_("employer onboarding"),
    "vacancy_posting": N_("vacancy posting"),
    "candidate_selection": N_("candidate selection"),
    "hiring_support": N_("hiring support"),
}

#: Client types in running text and tags (nominative plural, lower case).
CLIENT_TYPE_LABELS: dict[str, str | Marked] = {
    "citizen": NP_("client type, in running text", "citizens"),
    "employer": NP_("client type, in running text", "employers"),
}


# ---------------------------------------------------------------------------
# Numbers, dates, quarters.
# ---------------------------------------------------------------------------


@cache
def _decimal_pattern(lang: str, digits: int):
    """The locale's decimal pattern with exactly ``digits`` fraction digits."""
    locale = Locale.parse(LOCALES[check_language(lang)])
    pattern = copy.copy(parse_pattern(locale.decimal_formats[None].pattern))
    pattern.frac_prec = (digits, digits)
    return locale, pattern


@cache
def _percent_pattern(lang: str, digits: int):
    locale = Locale.parse(LOCALES[check_language(lang)])
    pattern = copy.copy(parse_pattern(locale.percent_formats[None].pattern))
    pattern.frac_prec = (digits, digits)
    return locale, pattern


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _rounded(value: float, digits: int) -> tuple[str, Decimal]:
    """The sign of ``value`` after rounding to ``digits`` ("" for zero) and the rounded magnitude.

    Rounding is Python's own (``f"{x:.1f}"``: the float's exact binary value, halves to
    even), so every number reads as it did before the catalogs, in every language.
    """
    magnitude = Decimal(f"{abs(float(value)):.{digits}f}")
    if magnitude == 0:
        return "", magnitude
    return ("-" if value < 0 else "+"), magnitude


def format_number(value: float | int | None, lang: str = DEFAULT_LANGUAGE, digits: int = 1, sign: bool = False) -> str:
    """A number the way the reader writes it.

    ``digits`` fraction digits (rounded half to even on the float's exact value);
    the locale's decimal and group symbols (ru/fi "1 234,5" with a no-break space,
    en "1,234.5"); the true minus sign "−" in every language, and "+" before a
    positive value when ``sign`` (changes). A value that rounds to zero has no
    sign. None / NaN -> "—".
    """
    if value is None or _is_missing(value):
        return NO_VALUE
    if math.isinf(float(value)):
        return (MINUS if value < 0 else ("+" if sign else "")) + "∞"
    locale, pattern = _decimal_pattern(lang, digits)
    direction, magnitude = _rounded(value, digits)
    text = pattern.apply(magnitude, locale)
    if direction == "-":
        return MINUS + text
    if direction == "+" and sign:
        return "+" + text
    return text


def format_percent(value: float | None, lang: str = DEFAULT_LANGUAGE, digits: int = 0, sign: bool = False) -> str:
    """A value given in percent (38.4, not 0.384) with the locale's percent pattern:
    ru/fi "38,4 %" (no-break space), en "38.4%"; minus and "+" as :func:`format_number`."""
    if value is None or _is_missing(value):
        return NO_VALUE
    locale, pattern = _percent_pattern(lang, digits)
    direction, magnitude = _rounded(value, digits)
    text = pattern.apply(magnitude / 100, locale)  # the pattern multiplies by 100 again
    if direction == "-":
        return MINUS + text
    if direction == "+" and sign:
        return "+" + text
    return text


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def format_date(value: date | datetime | str | None, lang: str = DEFAULT_LANGUAGE, form: str = "long") -> str:
    """A date in the reader's language (CLDR formats): ``form`` "long" (ru "1 октября 2026 г.",
    en "1 October 2026", fi "1. lokakuuta 2026") or "short" for tables (ru "01.10.2026",
    en "01/10/2026", fi "1.10.2026"); None -> "—"."""
    if value is None:
        return NO_VALUE
    if form not in ("short", "medium", "long", "full"):
        raise ValueError(f"date form must be short, medium, long or full, got {form!r}")
    return _babel_format_date(_as_date(value), form, locale=LOCALES[check_language(lang)])


def format_date_range(start: date | str, end: date | str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A span of days the way the locale writes an interval ("1 июл. – 30 сент. 2026 г.",
    "1 Jul – 30 Sept 2026", "1. heinäkuuta – 30. syyskuuta 2026")."""
    return format_interval(_as_date(start), _as_date(end), "yMMMd", locale=LOCALES[check_language(lang)])


_QUARTER_FORMS = {
    # TRANSLATORS: a quarter in headings; %(quarter)s is 1-4, %(year)s the year ("3-й квартал 2026").
    "long": NP_("quarter, long form", "Q%(quarter)s %(year)s"),
    # TRANSLATORS: a quarter in tables and after a preposition: a form that needs no declension ("к 3 кв. 2026").
    "short": NP_("quarter, short form", "Q%(quarter)s %(year)s"),
}


def format_quarter(quarter: Any, lang: str = DEFAULT_LANGUAGE, form: str = "long") -> str:
    """A quarter ("2026Q3" or a ``cxloop.quarters.Quarter``) by name: ``form`` "long"
    (ru "3-й квартал 2026", en "Q3 2026", fi "3. neljännes 2026") or "short"
    (ru "3 кв. 2026", en "Q3 2026", fi "Q3/2026"). Forms come from the catalogs."""
    from cxloop.quarters import Quarter

    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(str(quarter))
    if form not in _QUARTER_FORMS:
        raise ValueError(f"quarter form must be long or short, got {form!r}")
    return gettext(lang).label(_QUARTER_FORMS[form], quarter=q.q, year=q.year)


# ---------------------------------------------------------------------------
# Maintenance: extraction and catalog checks (python -m cxloop.i18n update|check).
# ---------------------------------------------------------------------------


_HEADER = """\
# {title} of the cxloop quarterly report, its e-mail and the pain points' sentences.
# msgids are the English source text; see cxloop/i18n.py for how to add or change a string
# (python -m cxloop.i18n update | check).
#"""


def _set_header(catalog: Catalog, lang: str | None) -> None:
    """The same header fields after every update, so regenerated files differ only where the strings do."""
    name = Locale.parse(lang).english_name if lang else None
    catalog.header_comment = _HEADER.format(title=f"{name} translations" if name else "Message template")
    catalog.project, catalog.version = DOMAIN, "1"
    catalog.copyright_holder = "the cxloop authors"
    catalog.msgid_bugs_address = ""
    if lang:
        catalog.last_translator = catalog.language_team = f"cxloop ({name})"


def extract_catalog(root: Path = ROOT, mapping: Path = MAPPING_PATH) -> Catalog:
    """What ``pybabel extract -F babel.cfg`` finds in ``root``, as a catalog (the .pot's content)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(mapping, encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename=str(mapping))
    catalog = Catalog(project=DOMAIN, domain=DOMAIN, charset="utf-8", fuzzy=False)
    _set_header(catalog, None)
    for _filename, _lineno, message, comments, context in extract_from_dir(
        str(root), method_map, options_map, strip_comment_tags=True
    ):
        catalog.add(message, None, auto_comments=comments, context=context)
    return catalog


class _Placeholders(dict):
    """A mapping that answers every key and remembers which were asked: ``text % p`` lists
    the named placeholders of ``text`` (and fails on a stray ``%``)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __missing__(self, key: str) -> int:
        self.names.add(key)
        return 0


def placeholders(text: str) -> set[str]:
    """The named placeholders of a catalog string; ValueError/TypeError if it is not a valid
    %-format string (every catalog string is formatted, so ``%`` must be written ``%%``)."""
    found = _Placeholders()
    text % found
    return found.names


def message_keys(catalog: Iterable) -> set[tuple[str | None, str | tuple[str, ...]]]:
    """The (msgctxt, msgid) pairs of a catalog, the header left out; a plural msgid is the tuple of its forms."""
    return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)) for m in catalog if m.id}


def catalog_problems(lang: str, template: Catalog | None = None, path: Path | None = None) -> list[str]:
    """Everything wrong with one language's catalog (``path``, default its place under
    ``locale/``) against the template: entries missing or left over, untranslated (any
    plural form empty), fuzzy, or failing Babel's checks (placeholders, number of plural
    forms)."""
    template = template if template is not None else read_catalog(POT_PATH)
    catalog = read_catalog(path or po_path(lang), locale=LOCALES[lang])
    problems: list[str] = []
    have, want = message_keys(catalog), message_keys(template)
    problems += [f"{lang}: missing {key!r}" for key in sorted(want - have, key=repr)]
    problems += [f"{lang}: not in the template {key!r}" for key in sorted(have - want, key=repr)]
    for message in catalog:
        if not message.id:
            continue
        strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
        if not strings or any(not s for s in strings):
            problems.append(f"{lang}: untranslated {message.id!r}")
        if message.fuzzy:
            problems.append(f"{lang}: fuzzy {message.id!r}")
    for message, errors in catalog.check():
        problems += [f"{lang}: {message.id!r}: {error}" for error in errors]
    # Stricter than Babel's check, which lets a translation drop a value: every string is
    # formatted at run time, so each form must be valid and name exactly the msgid's values.
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
        try:
            wanted = set().union(*(placeholders(i) for i in ids))
        except (ValueError, TypeError) as exc:
            problems.append(f"{lang}: msgid {message.id!r} is not a %-format string: {exc}")
            continue
        for text in strings:
            try:
                names = placeholders(text)
            except (ValueError, TypeError) as exc:
                problems.append(f"{lang}: {text!r} is not a %-format string (write % as %%): {exc}")
                continue
            if text and names != wanted:
                problems.append(f"{lang}: {text!r} has placeholders {sorted(names)}, the msgid {sorted(wanted)}")
    return problems


def _fill_english(catalog: Catalog) -> None:
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, str):
            if not message.string:
                message.string = message.id
        elif not any(message.string or ()):
            message.string = tuple(message.id)
        message.flags.discard("fuzzy")


def update_catalogs(root: Path = ROOT) -> dict[str, list[str]]:
    """Extract the template, merge it into every language's .po (new entries empty,
    dropped ones removed), copy the English msgids into en.po; return each language's problems."""
    from babel.messages.pofile import write_po

    def save(path: Path, catalog: Catalog) -> None:
        buffer = io.BytesIO()  # written whole or not at all
        write_po(buffer, catalog, width=100, no_location=True)
        path.write_bytes(buffer.getvalue())

    template = extract_catalog(root)
    if POT_PATH.exists():
        previous = read_catalog(POT_PATH)
        if [(m.context, m.id, m.auto_comments) for m in previous] == [
            (m.context, m.id, m.auto_comments) for m in template
        ]:
            template.creation_date = previous.creation_date  # nothing changed: no new date to commit
    save(POT_PATH, template)
    for lang in LANGUAGES:
        # A fresh template per language: Catalog.update adds the template's own message
        # objects, so filling en.po's new entries with English would fill them in every
        # catalog merged from the same template object.
        template = read_catalog(POT_PATH)
        path = po_path(lang)
        if path.exists():
            catalog = read_catalog(path, locale=LOCALES[lang])
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=LOCALES[lang], domain=DOMAIN, project=DOMAIN, fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if lang == "en":
            _fill_english(catalog)
        _set_header(catalog, lang)
        save(path, catalog)
    return {lang: catalog_problems(lang) for lang in LANGUAGES}


def _main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        problems = update_catalogs()
    elif command == "check":
        template = extract_catalog()
        stale = message_keys(template) ^ message_keys(read_catalog(POT_PATH))
        problems = {"pot": [f"template out of date: {key!r}" for key in sorted(stale, key=repr)]}
        problems.update({lang: catalog_problems(lang) for lang in LANGUAGES})
    else:
        print("usage: python -m cxloop.i18n [update|check]", file=sys.stderr)
        return 2
    count = 0
    for items in problems.values():
        for item in items:
            print(item)
        count += len(items)
    print(f"{count} problem(s)" if count else "catalogs complete: " + ", ".join(LANGUAGES))
    return 1 if count else 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
