import shutil
from pathlib import Path

import pytest

from cxloop.config import ConfigError, load_config
from cxloop.quarters import Quarter, quarter_range

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_loads(config):
    assert len(config.offices) == 15
    assert set(config.regions) == {"52", "66", "10"}
    assert len(config.themes) == 14
    assert config.thresholds.star.stars(90.0) == 5
    assert config.thresholds.star.stars(89.99) == 4
    assert config.thresholds.star.stars(59.0) == 1


def test_bad_yaml_names_file_and_entry(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    path = tmp_path / "config" / "themes" / "themes.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("ray: effort", "ray: speed", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "config")
    assert "themes.yaml" in str(err.value) and "contact_reachability.ray" in str(err.value)


# ----------------------------------------------------------------- config/themes/


def _themes_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path / "config"


def test_themes_come_from_definitions_and_per_language_lexicons(config):
    waiting = config.themes["waiting_time"]
    assert waiting.ray == "effort" and waiting.stage == "first_contact"
    assert set(waiting.labels) == {"ru", "en", "fi"}
    for tid, theme in config.themes.items():
        for lang in ("ru", "en", "fi"):
            assert theme.keywords[lang], (tid, lang)  # every theme has strong keywords in every language
            assert not set(theme.keywords[lang]) & set(theme.weak_keywords[lang]), (tid, lang)
    assert "очеред*" in waiting.keywords["ru"] and "jono*" in waiting.keywords["fi"]
    assert "wait*" in waiting.weak_keywords["en"]


def test_an_extra_lexicon_file_extends_the_shipped_ones(tmp_path):
    cfg_dir = _themes_copy(tmp_path)
    base = load_config(cfg_dir)
    (cfg_dir / "themes" / "zz_local.yaml").write_text(
        "language: ru\n"
        "keywords:\n"
        '  office_comfort: [кофемашин*, "=батарея", очеред*]\n'
        "weak:\n"
        "  waiting_time: [турникет*]\n",
        encoding="utf-8",
    )
    extended = load_config(cfg_dir)
    ru = extended.themes["office_comfort"].keywords["ru"]
    assert ru[: len(base.themes["office_comfort"].keywords["ru"])] == base.themes["office_comfort"].keywords["ru"]
    assert ru[-3:] == ["кофемашин*", "=батарея", "очеред*"]
    assert extended.themes["waiting_time"].weak_keywords["ru"][-1] == "турникет*"
    # Other languages and themes are untouched; a repeated keyword is kept once.
    assert extended.themes["office_comfort"].keywords["fi"] == base.themes["office_comfort"].keywords["fi"]
    extra = cfg_dir / "themes" / "zz_more.yaml"
    extra.write_text("language: ru\nkeywords:\n  office_comfort: [кофемашин*]\n", encoding="utf-8")
    assert load_config(cfg_dir).themes["office_comfort"].keywords["ru"].count("кофемашин*") == 1
    # An empty file (all commented out) adds nothing and is no error.
    extra.write_text("# nothing yet\n", encoding="utf-8")
    assert load_config(cfg_dir).themes == extended.themes


def test_an_extra_lexicon_file_changes_what_the_analyser_finds(tmp_path):
    from tasks.text.analyser import analyse

    cfg_dir = _themes_copy(tmp_path)
    text = "Сломалась кофемашина в холле"
    assert "office_comfort" not in analyse([text], load_config(cfg_dir))[0].themes
    (cfg_dir / "themes" / "local.yaml").write_text(
        "language: ru\nkeywords:\n  office_comfort: [кофемашин*]\n", encoding="utf-8"
    )
    assert "office_comfort" in analyse([text], load_config(cfg_dir))[0].themes


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("language: ru\nkeywords:\n  queues: [очеред*]\n", "local.yaml: keywords.queues: unknown theme id"),
        ("language: de\nkeywords:\n  waiting_time: [warte*]\n", "local.yaml: language: 'de' must be one of"),
        (
            'language: ru\nkeywords:\n  waiting_time: [очеред*, "оч*редь"]\n',
            "local.yaml: keywords.waiting_time[1]: 'оч*редь': part 'оч*редь' must be letters",
        ),
        (
            "language: en\nkeywords:\n  waiting_time: [queue, no]\n",
            "local.yaml: keywords.waiting_time[1]: False is not text (quote it)",
        ),
        ('language: ru\nweak:\n  waiting_time: "=очередь*"\n', "local.yaml: weak.waiting_time[0]"),
        ("language: ru\nkeyword:\n  waiting_time: [очеред*]\n", "local.yaml: unknown top-level keys ['keyword']"),
        ("language: ru\nkeywords: [очеред*]\n", "local.yaml: keywords must be a mapping"),
        ("- just a list\n", "local.yaml: expected the keys"),
        ("language: ru\nkeywords: {waiting_time: [очеред*\n", "local.yaml: not valid YAML"),
    ],
)
def test_a_bad_lexicon_file_names_file_and_entry(tmp_path, content, expected):
    cfg_dir = _themes_copy(tmp_path)
    (cfg_dir / "themes" / "local.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg_dir)
    assert expected in str(err.value)
    assert str(cfg_dir / "themes" / "local.yaml") in str(err.value)


def test_keywords_in_the_definitions_file_are_refused(tmp_path):
    cfg_dir = _themes_copy(tmp_path)
    path = cfg_dir / "themes" / "themes.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "  waiting_time:\n", "  waiting_time:\n    keywords: {ru: [очеред*]}\n", 1
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"themes\.yaml: themes\.waiting_time\.keywords: keywords belong in the lexicon files"
    ):
        load_config(cfg_dir)


def test_missing_themes_folder_points_to_the_old_layout(tmp_path):
    cfg_dir = _themes_copy(tmp_path)
    shutil.rmtree(cfg_dir / "themes")
    with pytest.raises(ConfigError, match="themes: folder not found"):
        load_config(cfg_dir)
    (cfg_dir / "themes.yaml").write_text("themes: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="old single-file layout"):
        load_config(cfg_dir)


def test_a_theme_without_labels_names_the_theme(tmp_path):
    cfg_dir = _themes_copy(tmp_path)
    path = cfg_dir / "themes" / "themes.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  training_offer:")
    labels = text.index("    labels:", start)
    path.write_text(
        text[:labels] + "    labels: {ru: Обучение}\n" + text[text.index("\n", labels) + 1 :], encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"themes\.training_offer\.labels: .*labels missing for \['en', 'fi'\]"):
        load_config(cfg_dir)


def test_duplicate_office_code_is_refused(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    with (tmp_path / "config" / "offices.csv").open("a", encoding="utf-8") as fh:
        fh.write("52-01,Дубль,52,Нижегородская область\n")
    with pytest.raises(ConfigError, match="duplicate office codes"):
        load_config(tmp_path / "config")


def test_quarters():
    q = Quarter.parse("2026q1")
    assert str(q) == "2026Q1" and str(q.prev()) == "2025Q4" and str(q.next()) == "2026Q2"
    assert q.start.isoformat() == "2026-01-01" and q.end.isoformat() == "2026-03-31"
    assert [str(x) for x in quarter_range(Quarter.parse("2026Q2"), 3)] == ["2025Q4", "2026Q1", "2026Q2"]
    with pytest.raises(ValueError):
        Quarter.parse("2026Q5")
