"""Report languages (cxloop/i18n.py): the Babel catalogs, and numbers, dates and quarters per language."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from cxloop import i18n
from cxloop.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    POT_PATH,
    catalog_problems,
    extract_catalog,
    format_date,
    format_date_range,
    format_number,
    format_percent,
    format_quarter,
    gettext,
    message_keys,
    po_path,
    read_catalog,
)
from cxloop.quarters import Quarter

ROOT = Path(__file__).resolve().parents[1]
NBSP = "\u00a0"
MINUS = "\u2212"


def russian_plural_form(n: int) -> int:
    """The CLDR rule for Russian, written out here independently of Babel: 0 one, 1 few, 2 many."""
    if n % 10 == 1 and n % 100 != 11:
        return 0
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return 1
    return 2


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "lang, expected",
    [("ru", f"1{NBSP}234{NBSP}567,9"), ("fi", f"1{NBSP}234{NBSP}567,9"), ("en", "1,234,567.9")],
)
def test_numbers_use_the_locale_decimal_and_group_symbols(lang, expected):
    assert format_number(1234567.89, lang) == expected
    assert format_number(84.26, lang) == ("84.3" if lang == "en" else "84,3")
    assert format_number(7, lang, digits=0) == "7"
    assert format_number(0.5, lang, digits=2) == ("0.50" if lang == "en" else "0,50")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_true_minus_explicit_plus_and_no_signed_zero(lang):
    # CLDR gives ru and en a hyphen-minus and fi a true minus; the report writes "−" everywhere.
    assert format_number(-7.04, lang).startswith(MINUS) and "-" not in format_number(-7.04, lang)
    assert format_number(-1234.5, lang, sign=True).startswith(MINUS + "1")
    assert format_number(2.1, lang, sign=True).startswith("+2")
    assert format_number(2.1, lang) == format_number(2.1, lang, sign=True)[1:]
    for tiny in (-0.04, 0.04, -0.0, 0.0):
        assert format_number(tiny, lang, sign=True) in ("0,0", "0.0")  # rounds to zero: no sign at all
    assert format_number(None, lang) == "—" and format_number(float("nan"), lang) == "—"


def test_rounding_is_pythons_own_in_every_language():
    """The figures read as they did before the catalogs: digits equal f"{x:.Nf}" (half to even
    on the float's binary value), only the symbols change."""
    rng = random.Random(20261129)
    for _ in range(2000):
        value = rng.uniform(-5000, 5000) if rng.random() < 0.7 else rng.randint(-400, 400) / 8  # many exact halves
        digits = rng.choice([0, 1, 2])
        plain = f"{abs(value):.{digits}f}"
        expected = plain if float(plain) == 0 else ("−" if value < 0 else "") + plain
        en = format_number(value, "en", digits).replace(",", "")
        ru = format_number(value, "ru", digits).replace(NBSP, "").replace(",", ".")
        assert en == expected and ru == expected, (value, digits)


def test_percent_follows_the_locale_pattern():
    assert format_percent(38.4, "ru", 1) == f"38,4{NBSP}%"
    assert format_percent(38.4, "fi", 1) == f"38,4{NBSP}%"
    assert format_percent(38.4, "en", 1) == "38.4%"
    assert format_percent(38.44, "en") == "38%"
    assert format_percent(-2.5, "ru", 1, sign=True) == f"{MINUS}2,5{NBSP}%"
    assert format_percent(2.5, "en", 1, sign=True) == "+2.5%"
    assert format_percent(None, "fi") == "—"


# --------------------------------------------------------------------------- dates and quarters


def test_dates_in_each_language():
    d = date(2026, 10, 5)
    assert format_date(d, "ru") == "5 октября 2026\u202fг."  # CLDR: narrow no-break space before "г."
    assert format_date(d, "en") == "5 October 2026"
    assert format_date(d, "fi") == "5. lokakuuta 2026"
    assert format_date(d, "ru", "short") == "05.10.2026"
    assert format_date(d, "en", "short") == "05/10/2026"
    assert format_date(d, "fi", "short") == "5.10.2026"
    assert format_date("2026-10-05", "fi", "short") == "5.10.2026"
    assert format_date(None, "ru") == "—"
    with pytest.raises(ValueError, match="date form"):
        format_date(d, "ru", "iso")


def test_date_ranges_name_the_months_once_the_year_once():
    q = Quarter.parse("2026Q3")
    ru, en, fi = (format_date_range(q.start, q.end, lang) for lang in LANGUAGES)
    assert "июл" in ru and "сент" in ru and ru.count("2026") == 1
    assert en.startswith("1 Jul") and "30 Sept 2026" in en and en.count("2026") == 1
    assert fi.startswith("1. heinäkuuta") and fi.endswith("30. syyskuuta 2026") and fi.count("2026") == 1


@pytest.mark.parametrize("q", [1, 2, 3, 4])
def test_quarter_names(q):
    quarter = f"2026Q{q}"
    assert format_quarter(quarter, "ru") == f"{q}-й квартал 2026"
    assert format_quarter(quarter, "ru", "short") == f"{q} кв. 2026"
    assert format_quarter(quarter, "en") == format_quarter(quarter, "en", "short") == f"Q{q} 2026"
    assert format_quarter(quarter, "fi") == f"{q}. neljännes 2026"
    assert format_quarter(quarter, "fi", "short") == f"Q{q}/2026"
    assert format_quarter(Quarter(2026, q), "fi") == format_quarter(quarter, "fi")


def test_unknown_language_or_form_is_refused():
    with pytest.raises(ValueError, match="unsupported report language 'de'"):
        gettext("de")
    with pytest.raises(ValueError, match="unsupported report language"):
        format_number(1.0, "sv")
    with pytest.raises(ValueError, match="quarter form"):
        format_quarter("2026Q3", "ru", "medium")


# --------------------------------------------------------------------------- translations


def test_translator_formats_contexts_and_plurals():
    ru, fi, en = gettext("ru"), gettext("fi"), gettext("en")
    assert ru("95 %% CI") == "95 % ДИ" and en("95 %% CI") == "95 % CI" and fi("95 %% CI") == "95 %:n luottamusväli"
    # one English word, two Russian cases, told apart by the msgctxt
    assert ru.pgettext("client type, in running text", "citizens") == "граждане"
    assert ru.pgettext("who complain: 12 in 100 … who gave feedback", "citizens") == "граждан"
    assert fi.pgettext("who complain: 12 in 100 … who gave feedback", "citizens") == "henkilöasiakkaista"
    singular = "The sample is small (%(num)s respondent): read it as preliminary."
    plural = "The sample is small (%(num)s respondents): read it as preliminary."
    words = ("респондент)", "респондента)", "респондентов)")
    for n in (1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 112, 121):
        text = ru.ngettext(singular, plural, n)
        assert f"({n} {words[russian_plural_form(n)]}" in text, (n, text)
        assert en.ngettext(singular, plural, n).startswith(
            f"The sample is small ({n} respondent{'s' if n != 1 else ''})"
        )
        assert fi.ngettext(singular, plural, n).startswith(f"Otos on pieni ({n} vastaaja{'a' if n != 1 else ''})")


def test_why_sentences_decline_the_office_count():
    from tasks.insight.explain import SENTENCES, why_this_rank

    row = {
        "level": "region",
        "client_type": "citizen",
        "theme": "waiting_time",
        "rank": 1,
        "negative_share": 12.0,
        "ray": "effort",
        "reach_offices": 1,
        "offices_total": 21,
    }
    for total, word in ((1, "офиса"), (2, "офисов"), (5, "офисов"), (21, "офиса"), (11, "офисов")):
        assert why_this_rank({**row, "offices_total": total}, lang="ru").endswith(f"в 1 из {total} {word}.")
    assert "1/21 toimistossa" in why_this_rank(row, lang="fi")
    assert "in 1 of 21 offices" in why_this_rank(row, lang="en")
    assert "in 1 of 1 office." in why_this_rank({**row, "offices_total": 1}, lang="en")
    # the per-language names that the artifact rows look up, now read from the catalogs
    assert SENTENCES["fi"]["country"] == "Koko maa" and SENTENCES["ru"]["stages"]["benefits"] == "пособие"
    assert set(SENTENCES) == set(LANGUAGES)
    with pytest.raises(KeyError):
        SENTENCES["de"]
    with pytest.raises(KeyError):
        why_this_rank(row, lang="de")


# --------------------------------------------------------------------------- the catalogs themselves


def _entries(path: Path, locale: str | None = None):
    with open(path, "rb") as fh:
        return [m for m in read_po(fh, locale=locale) if m.id]


def test_every_msgid_has_a_reviewed_translation_in_every_language():
    template = {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)) for m in _entries(POT_PATH)}
    assert len(template) > 100
    for lang in LANGUAGES:
        entries = _entries(po_path(lang), i18n.LOCALES[lang])
        keys = {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)) for m in entries}
        assert keys == template, (lang, keys ^ template)  # nothing missing, nothing stale
        for m in entries:
            strings = [m.string] if isinstance(m.id, str) else list(m.string)
            assert strings and all(s.strip() for s in strings), (lang, m.id)
            assert not m.fuzzy, (lang, m.id)
            if isinstance(m.id, tuple):
                assert len(strings) == (3 if lang == "ru" else 2), (lang, m.id)
    assert all(catalog_problems(lang) == [] for lang in LANGUAGES)


def test_russian_and_finnish_are_translations_not_copies():
    letters = re.compile(r"[A-Za-z]{3,}")
    for m in _entries(po_path("ru"), "ru_RU"):
        text = m.string if isinstance(m.string, str) else " ".join(m.string)
        source = re.sub(r"%\(\w+\)s", "", m.id if isinstance(m.id, str) else m.id[0])
        if letters.search(source) and source not in ("KPI",):
            assert re.search("[а-яё]", text, re.I), m.id
    same = [m.id for m in _entries(po_path("fi"), "fi_FI") if m.string == m.id]
    assert same == []
    english = {m.id: m.string for m in _entries(po_path("en"), "en_GB")}
    assert all(english[k] == k or isinstance(k, tuple) for k in english)


def test_template_is_in_sync_with_the_code(tmp_path):
    """The .pot holds exactly what extraction finds in the code and templates now: run
    the documented pybabel command and our own extraction, compare the msgid sets."""
    stored = message_keys(read_catalog(POT_PATH))
    assert message_keys(extract_catalog()) == stored
    pybabel = Path(sys.executable).with_name("pybabel")
    if not pybabel.exists():
        pytest.skip("pybabel script not installed next to the interpreter")
    out = tmp_path / "cxloop.pot"
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "babel.cfg", "--no-location", "-o", str(out), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert message_keys(read_catalog(out)) == stored


def test_catalog_checks_catch_missing_fuzzy_and_broken_placeholders(tmp_path):
    catalog = read_catalog(po_path("fi"), locale="fi_FI")
    broken = {
        "Change vs %(quarter)s": "Muutos vrt. edellinen",  # dropped a value
        "95 %% CI": "95 % LV",  # a bare percent breaks %-formatting
        "Index": "",  # untranslated
    }
    for m in catalog:
        if m.id in broken:
            m.string = broken[m.id]
        if m.id == "Trend":
            m.flags.add("fuzzy")
    path = tmp_path / "fi.po"
    with open(path, "wb") as fh:
        write_po(fh, catalog)
    problems = "\n".join(catalog_problems("fi", path=path))
    assert "Muutos vrt. edellinen" in problems and "95 % LV" in problems
    assert "untranslated 'Index'" in problems and "fuzzy 'Trend'" in problems


def test_catalogs_are_read_from_po_and_no_compiled_file_is_kept():
    assert not list(LOCALE_DIR.rglob("*.mo"))
    assert (ROOT / "babel.cfg").is_file()
    # compiled in memory from the .po: a translation read back from the file is what the report uses
    entry = next(m for m in _entries(po_path("fi"), "fi_FI") if m.id == "Client-centricity star")
    assert gettext("fi")("Client-centricity star") == entry.string == "Asiakaslähtöisyyden tähti"
