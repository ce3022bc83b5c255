"""User-editable configuration (``config/``), validated on load.

A region changes YAML and CSV here, never code. Every loader raises
:class:`ConfigError` naming the file and the offending entry.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cxloop.addresses import address_problem
from cxloop.domain import CHANNELS, ITEMS, JOURNEY_STAGES, LANGUAGES, RAYS


class ConfigError(ValueError):
    """A configuration file is missing or invalid; the message names file and entry.

    The message is always one line (a YAML parser's multi-line report is joined with
    "; "), so the CLI's error line and a failed Prefect run's state message carry it whole.
    """

    def __init__(self, message: str) -> None:
        super().__init__("; ".join(line.strip() for line in str(message).splitlines() if line.strip()))


class Office(BaseModel):
    office_code: str
    office_name: str
    region_code: str
    region_name: str


class Theme(BaseModel):
    """One pain-point theme: its star ray, default journey stage, labels and keywords.

    ``ray``, ``stage`` and ``labels`` come from ``config/themes/themes.yaml``;
    ``keywords`` and ``weak_keywords`` (language -> keyword list) are gathered from the
    lexicon files next to it (see :func:`load_themes`). A weak keyword names the theme
    only when no (strong) keyword of another theme is in the same clause: "e-mail" is
    ``contact_reachability`` in "no reply to my e-mail" but not in "reminders by e-mail".
    """

    ray: Literal["friendliness", "usefulness", "effort", "personalisation", "comfort"]
    stage: str
    labels: dict[str, str]
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    weak_keywords: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: str) -> str:
        if v not in JOURNEY_STAGES:
            raise ValueError(f"unknown journey stage {v!r}; expected one of {', '.join(JOURNEY_STAGES)}")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        missing = [lang for lang in LANGUAGES if lang not in v]
        if missing:
            raise ValueError(f"labels missing for {missing}")
        return v


THEMES_DIR = "themes"
THEME_DEFINITIONS = "themes.yaml"
_THEME_ID = re.compile(r"[a-z][a-z0-9_]*")
_KEYWORD_PART = re.compile(r"=[^\W\d_]+|[^\W\d_]+\*?|\*[^\W\d_]+\*")


def keyword_problem(keyword: object) -> str | None:
    """Why ``keyword`` breaks the lexicon syntax, or ``None`` when it is fine.

    The syntax (``config/themes/README.md``): one or more parts separated by spaces or
    hyphens (a phrase of consecutive words); each part is letters, optionally ``word*``
    (prefix), ``*word*`` (substring) or ``=word`` (exact word).
    """
    if not isinstance(keyword, str):
        # YAML reads bare no/yes/on/off as booleans and digits as numbers.
        return f"{keyword!r} is not text (quote it)"
    parts = [p for p in re.split(r"[\s\-]+", keyword.strip()) if p]
    if not parts:
        return "empty keyword"
    for part in parts:
        if not _KEYWORD_PART.fullmatch(part):
            return (
                f"{keyword!r}: part {part!r} must be letters, with an optional '*' at the end (prefix), "
                f"'*' at both ends (substring) or '=' in front (exact word, no '*')"
            )
    return None


def _theme_definitions(path: Path) -> dict[str, Theme]:
    raw = _read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("themes"), dict) or not raw["themes"]:
        raise ConfigError(f"{path}: top-level key 'themes' missing or empty")
    themes: dict[str, Theme] = {}
    for tid, spec in raw["themes"].items():
        if not isinstance(tid, str) or not _THEME_ID.fullmatch(tid):
            raise ConfigError(f"{path}: themes.{tid}: a theme id is lower-case letters, digits and '_'")
        if isinstance(spec, dict) and "keywords" in spec:
            raise ConfigError(
                f"{path}: themes.{tid}.keywords: keywords belong in the lexicon files "
                f"({path.parent}/<language>.yaml), not in {path.name}"
            )
        try:
            themes[tid] = Theme.model_validate(spec)
        except ValidationError as exc:
            problems = "; ".join(
                f"themes.{tid}.{'.'.join(str(p) for p in e['loc']) or '(entry)'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from exc
    return themes


_LEXICON_SECTIONS = ("keywords", "weak")


def _read_lexicon(path: Path, known: dict[str, Theme]) -> tuple[str, dict[str, dict[str, list[str]]]] | None:
    """``(language, {"keywords"|"weak": theme id -> keywords})`` of one lexicon file;
    ``None`` for an empty file."""
    raw = _read_yaml(path)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected the keys 'language', 'keywords' and optionally 'weak'")
    unknown_keys = sorted(str(k) for k in raw if k not in ("language", *_LEXICON_SECTIONS))
    if unknown_keys:
        raise ConfigError(f"{path}: unknown top-level keys {unknown_keys}; expected 'language', 'keywords', 'weak'")
    lang = raw.get("language")
    if lang not in LANGUAGES:
        raise ConfigError(f"{path}: language: {lang!r} must be one of {', '.join(LANGUAGES)}")
    sections: dict[str, dict[str, list[str]]] = {}
    for section in _LEXICON_SECTIONS:
        keywords = raw.get(section) or {}
        if not isinstance(keywords, dict):
            raise ConfigError(f"{path}: {section} must be a mapping theme id -> list of keywords")
        out: dict[str, list[str]] = {}
        for tid, entries in keywords.items():
            if tid not in known:
                raise ConfigError(
                    f"{path}: {section}.{tid}: unknown theme id; themes are defined in "
                    f"{THEME_DEFINITIONS}: {', '.join(sorted(known))}"
                )
            if entries is None:
                continue
            if isinstance(entries, str):
                entries = [entries]
            if not isinstance(entries, list):
                raise ConfigError(f"{path}: {section}.{tid} must be a list of keywords")
            for i, kw in enumerate(entries):
                problem = keyword_problem(kw)
                if problem:
                    raise ConfigError(f"{path}: {section}.{tid}[{i}]: {problem}")
            out[tid] = [kw.strip() for kw in entries]
        sections[section] = out
    return lang, sections


def load_themes(themes_dir: Path | str) -> dict[str, Theme]:
    """The themes of ``config/themes/``: definitions plus every lexicon file.

    ``themes.yaml`` defines the themes (id, ray, stage, labels ru/en/fi). Every other
    ``*.yaml`` in the folder is a lexicon file: ``language``, ``keywords: {theme id:
    [keyword, ...]}`` and optionally ``weak: {theme id: [...]}`` (see :class:`Theme`).
    Files are read in name order and their keywords appended to the theme's lists for
    that language (a repeated keyword is kept once; a keyword that is strong anywhere
    is strong), so a file an analyst drops in extends the shipped
    ``ru.yaml``/``en.yaml``/``fi.yaml``. Every error names the file and the entry.
    """
    themes_dir = Path(themes_dir)
    if not themes_dir.is_dir():
        legacy = themes_dir.parent / THEME_DEFINITIONS
        hint = (
            f" ({legacy} is the old single-file layout: split it as config/themes/README.md says)"
            if legacy.exists()
            else ""
        )
        raise ConfigError(f"{themes_dir}: folder not found{hint}")
    themes = _theme_definitions(themes_dir / THEME_DEFINITIONS)
    merged: dict[str, dict[str, dict[str, list[str]]]] = {
        section: {tid: {lang: [] for lang in LANGUAGES} for tid in themes} for section in _LEXICON_SECTIONS
    }
    for path in sorted(p for p in themes_dir.glob("*.yaml") if p.name != THEME_DEFINITIONS):
        lexicon = _read_lexicon(path, themes)
        if lexicon is None:
            continue
        lang, sections = lexicon
        for section, keywords in sections.items():
            for tid, entries in keywords.items():
                merged[section][tid][lang].extend(entries)
    out: dict[str, Theme] = {}
    for tid, theme in themes.items():
        strong = {lang: list(dict.fromkeys(merged["keywords"][tid][lang])) for lang in LANGUAGES}
        weak = {
            lang: [kw for kw in dict.fromkeys(merged["weak"][tid][lang]) if kw not in set(strong[lang])]
            for lang in LANGUAGES
        }
        out[tid] = theme.model_copy(update={"keywords": strong, "weak_keywords": weak})
    return out


class StarThresholds(BaseModel):
    ratings: dict[int, float]
    min_sample: int = 30

    def stars(self, value: float | None) -> int | None:
        if value is None or value != value:
            return None
        for stars in sorted(self.ratings, reverse=True):
            if value >= self.ratings[stars]:
                return stars
        return 1


class PainPointThresholds(BaseModel):
    """Pain-point detection and priority (tasks/painpoints.py has the formulas)."""

    min_mentions: int = Field(default=5, ge=1)
    top_n_for_measures: int = 3
    min_priority_for_measures: float = 10.0
    #: Quarters before the current one that form the p-chart baseline.
    history_quarters: int = Field(default=6, ge=1)
    #: Fewer baseline quarters with texts -> no p-chart limits and no signal.
    min_baseline_quarters: int = Field(default=3, ge=2)
    #: No signal when the count the baseline share expects this quarter (p̄ x n) is smaller.
    min_expected_mentions: float = Field(default=5.0, ge=0)
    #: Priority factors: p-chart rise / fall, and an open measure already working on it.
    rise_weight: float = Field(default=1.25, gt=0)
    fall_weight: float = Field(default=0.9, gt=0)
    covered_weight: float = Field(default=0.5, gt=0)

    @model_validator(mode="after")
    def _baseline_fits(self) -> PainPointThresholds:
        if self.min_baseline_quarters > self.history_quarters:
            raise ValueError(
                f"min_baseline_quarters ({self.min_baseline_quarters}) cannot exceed "
                f"history_quarters ({self.history_quarters})"
            )
        return self


class EffectThresholds(BaseModel):
    alpha: float = 0.05
    min_units_per_arm: int = 2


class Thresholds(BaseModel):
    star: StarThresholds
    pain_points: PainPointThresholds = PainPointThresholds()
    effects: EffectThresholds = EffectThresholds()


class Kpi(BaseModel):
    metric: str
    target_change: float

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        kind, _, arg = v.partition(":")
        ok = (kind == "item" and arg in ITEMS) or (kind == "ray" and arg in RAYS) or kind == "neg_share"
        if not ok:
            raise ValueError(f"KPI metric {v!r} must be item:<F1..C4>, ray:<ray> or neg_share:<theme>")
        return v


class MeasureTemplate(BaseModel):
    title: str
    description: str = ""
    type: Literal["process_optimisation", "new_experience"]
    kpi: Kpi
    duration_days: int = 90


class OwnerRule(BaseModel):
    owner: str
    region: str | None = None
    theme: str | None = None


class Owners(BaseModel):
    default: str
    rules: list[OwnerRule] = Field(default_factory=list)

    def owner_for(self, region_code: str, region_name: str, theme: str) -> str:
        for rule in self.rules:
            if rule.region in (None, region_code) and rule.theme in (None, theme):
                return rule.owner
        return self.default.format(region_code=region_code, region_name=region_name)


class Playbook(BaseModel):
    owners: Owners
    measures: dict[str, list[MeasureTemplate]]


def _plain_text(value: str, what: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what} contains a control character (line break, tab)")
    return value.strip()


class Recipient(BaseModel):
    """One entry of ``recipients.yaml``: exactly one plain address (see :func:`address_problem`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    email: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _plain_text(v, "name")

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        problem = address_problem(v)
        if problem:
            raise ValueError(problem)
        return v.strip()


class Recipients(BaseModel):
    """``recipients.yaml``: the national list and one list per region of the office registry.

    A region's report goes only to its own list; :func:`load_recipients` refuses an
    entry for a region the registry does not have.
    """

    model_config = ConfigDict(extra="forbid")

    national: list[Recipient] = Field(default_factory=list)
    regions: dict[str, list[Recipient]] = Field(default_factory=dict)

    @field_validator("regions", mode="before")
    @classmethod
    def _region_keys(cls, v: object) -> object:
        if isinstance(v, dict):
            for key in v:
                if not isinstance(key, str):
                    raise ValueError(
                        f'region code {key!r} is not text: quote it ("52"); unquoted, YAML reads 052 as the number 42'
                    )
        return v

    def unknown_regions(self, regions: Iterable[str]) -> list[str]:
        """The region codes of this list that are not in ``regions`` (the office registry)."""
        known = set(regions)
        return [code for code in self.regions if code not in known]


def _entry(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as the YAML entry: ``("regions", "52", 0, "email")`` -> ``regions.52[0].email``."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def load_recipients(path: Path, regions: Iterable[str]) -> Recipients:
    """Read and check ``recipients.yaml`` against the office registry's ``regions``.

    Every entry is exactly one plain address (:func:`address_problem`); a key for a
    region the registry does not have (``"99"``, ``"052"``) is refused. Errors name the
    file and the entry: ``recipients.yaml: regions.52[0].email: ...``.
    """
    data = _read_yaml(path)
    try:
        recipients = Recipients.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_entry(tuple(err['loc']))}: {str(err['msg']).removeprefix('Value error, ')}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
    known = list(dict.fromkeys(regions))
    unknown = recipients.unknown_regions(known)
    if unknown:
        raise ConfigError(
            f"{path}: "
            + "; ".join(f"regions.{code}: unknown region {code!r}" for code in unknown)
            + f"; configured regions (offices.csv): {', '.join(sorted(known))}"
        )
    return recipients


class ChannelMapping(BaseModel):
    """Canonical field -> accepted header aliases (matched case-, space- and ё/е-insensitively)."""

    channel: str
    fields: dict[str, list[str]]
    required: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _required_known(self) -> ChannelMapping:
        unknown = [f for f in self.required if f not in self.fields]
        if unknown:
            raise ValueError(f"required fields {unknown} have no aliases in 'fields'")
        return self


class AppConfig(BaseModel):
    offices: list[Office]
    themes: dict[str, Theme]
    thresholds: Thresholds
    playbook: Playbook
    recipients: Recipients
    channels: dict[str, ChannelMapping]

    @model_validator(mode="after")
    def _cross_checks(self) -> AppConfig:
        unknown = [t for t in self.playbook.measures if t not in self.themes]
        if unknown:
            raise ValueError(f"playbook.yaml names unknown themes {unknown}")
        return self

    @property
    def office_by_code(self) -> dict[str, Office]:
        return {o.office_code: o for o in self.offices}

    @property
    def regions(self) -> dict[str, str]:
        """region_code -> region_name, in registry order."""
        out: dict[str, str] = {}
        for o in self.offices:
            out.setdefault(o.region_code, o.region_name)
        return out


def _read_yaml(path: Path) -> object:
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


_ModelT = TypeVar("_ModelT", bound=BaseModel)


def _validate(model: type[_ModelT], data: object, path: Path) -> _ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


def read_offices_csv(path: Path) -> list[Office]:
    """Read an office registry CSV (office_code, office_name, region_code, region_name)."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"office_code", "office_name", "region_code", "region_name"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing columns {sorted(missing)}")
        offices = []
        for row_no, row in enumerate(reader, start=2):
            values = {k: (row.get(k) or "").strip() for k in need}
            empty = [k for k, v in values.items() if not v]
            if empty:
                raise ConfigError(f"{path}, row {row_no}: empty {', '.join(sorted(empty))}")
            offices.append(Office(**values))
    codes = [o.office_code for o in offices]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ConfigError(f"{path}: duplicate office codes {dupes}")
    return offices


def load_config(config_dir: Path | str) -> AppConfig:
    """Load and validate everything under ``config_dir``."""
    config_dir = Path(config_dir)
    themes = load_themes(config_dir / THEMES_DIR)
    channels: dict[str, ChannelMapping] = {}
    for channel in CHANNELS:
        path = config_dir / "channels" / f"{channel}.yaml"
        channels[channel] = _validate(ChannelMapping, _read_yaml(path), path)
    offices = read_offices_csv(config_dir / "offices.csv")
    data = {
        "offices": offices,
        "themes": themes,
        "thresholds": _validate(Thresholds, _read_yaml(config_dir / "thresholds.yaml"), config_dir / "thresholds.yaml"),
        "playbook": _validate(Playbook, _read_yaml(config_dir / "playbook.yaml"), config_dir / "playbook.yaml"),
        "recipients": load_recipients(config_dir / "recipients.yaml", (o.region_code for o in offices)),
        "channels": channels,
    }
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{config_dir}: {exc.errors()[0]['msg']}") from exc


@lru_cache(maxsize=8)
def _cached(config_dir: str, stamp: tuple[float, ...]) -> AppConfig:
    return load_config(config_dir)


def get_config(config_dir: Path | str | None = None) -> AppConfig:
    """The configuration, reloaded when any file under the folder changes."""
    if config_dir is None:
        from cxloop.settings import get_settings

        config_dir = get_settings().config_dir
    root = Path(config_dir)
    stamp = tuple(sorted(p.stat().st_mtime for p in root.rglob("*") if p.is_file())) if root.exists() else ()
    return _cached(str(root), stamp)
