"""The demo's phrase bank and emerging-topic wording, now data (``demo/data/*.yaml``).

The generator picks clauses by position from seeded streams, so the loaded bank must
have the shape the code indexes: every theme with neg/pos clauses in ru, fi and en.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from cxloop.config import load_config
from demo import phrases

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("ru", "fi", "en")


def test_every_theme_has_clauses_for_every_sentiment_and_language() -> None:
    assert set(phrases.THEMES) == set(load_config(ROOT / "config").themes)  # one bank entry per configured theme
    for theme, by_sentiment in phrases.PHRASES.items():
        assert set(by_sentiment) == {"neg", "pos"}, theme
        for sentiment, by_lang in by_sentiment.items():
            assert set(by_lang) == set(LANGS), (theme, sentiment)
            for clauses in by_lang.values():
                assert clauses and isinstance(clauses, tuple)
                assert all(isinstance(c, str) and c and not c.endswith(".") for c in clauses)
    assert set(phrases.EMPLOYER_PHRASES) <= set(phrases.THEMES)
    assert set(phrases.ITEM_THEME.values()) <= set(phrases.THEMES)


def test_openings_closings_and_joints_cover_every_case() -> None:
    assert all(len(phrases.MONTHS[lang]) == 12 for lang in LANGS)
    for lang in LANGS:
        for client in ("citizen", "employer"):
            assert all(p.endswith(" ") for p in phrases.PREFIX[(lang, client)])
        for sentiment in ("neg", "pos"):
            assert all(s.startswith(" ") for s in phrases.SUFFIX[(lang, sentiment)])
        assert phrases.BUT[lang] and phrases.YET[lang] and phrases.ALSO[lang]
    assert ", но " in phrases.BUT["ru"]  # leading and trailing spaces survive YAML


def test_emerging_wording_has_the_shape_the_generator_reads() -> None:
    wording = yaml.safe_load((ROOT / "demo" / "data" / "emerging.yaml").read_text(encoding="utf-8"))
    assert list(wording) == ["openers", "actions", "outcomes", "demands"]
    assert wording["openers"] and all(len(o) == 2 and o[1] in ("pl", "m", "f") for o in wording["openers"])
    assert len(wording["actions"]) >= 2 and all(len(a) == 2 for a in wording["actions"])  # two distinct drawn
    assert all(isinstance(s, str) and s for s in wording["outcomes"] + wording["demands"])


def test_yaml_files_ship_as_package_data() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["tool"]["setuptools"]["package-data"]["demo"] == ["data/*.yaml"]
    assert {p.name for p in (ROOT / "demo" / "data").glob("*.yaml")} == {"phrases.yaml", "emerging.yaml"}
