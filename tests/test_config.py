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
    path = tmp_path / "config" / "themes.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("ray: effort", "ray: speed", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "config")
    assert "themes.yaml" in str(err.value) and "ray" in str(err.value)


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
