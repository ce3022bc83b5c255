"""Learned stem polarity: the text stage's fallback for texts the lexicon finds no sentiment in.

:class:`StemPolarity` holds, per language, how much each word stem leans to high or low
ratings (``¬`` marks a stem under negation) and scores a text by it; it is written to
and read from a reviewable YAML file. :mod:`tasks.text.learn` fits it from rated texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cxloop.config import AppConfig
from cxloop.domain import LANGUAGES
from tasks.text.language import detect_language
from tasks.text.lexicon import lexicon_set
from tasks.text.normalise import TOKEN_RE, normalise, stemmer

__all__ = [
    "NEGATED",
    "STOPWORDS",
    "FeatureStats",
    "Featuriser",
    "StemPolarity",
    "featuriser",
    "features",
    "load_polarity",
]

NEGATED = "¬"  # prefix of a feature inside a negator's scope

# Function words: frequent everywhere, they say nothing a CX analyst can act on, and
# with thousands of texts even a slight imbalance would give them a large z.
STOPWORDS: dict[str, frozenset[str]] = {
    "ru": frozenset(
        "и в во на с со к ко о об от до по за из у для при про через над под а но или ли же бы ль "
        "я мы ты вы он она оно они меня мне мной нас нам нами тебя тебе вас вам его ему им ими её ее ей их "
        "мой моя мое моё мои моего моей моих мою наш наша наше наши свой своя свое своё свои "
        "этот эта это эти этого этой этих тот та то те того той тех такой такая такое такие "
        "который которая которое которые которого которой которых что чтобы как так где когда куда "
        "уже еще ещё только даже вот там тут здесь тоже также был была было были быть есть будет "
        "буду будут всё все весь вся всего всех всем сам сама сами себя себе можно мог могла могли "
        "раз да ну же то-то либо ни".split()
    ),
    "en": frozenset(
        "a an the and or but if of in on at to for from by with about into over after before as than "
        "i me my mine we us our you your he him his she her it its they them their this that these those "
        "is are was were be been being am do does did have has had will would shall should can could may "
        "might must there here what which who whom when where why how all any some such so very just "
        "also only even then than too again still up down out off".split()
    ),
    "fi": frozenset(
        "ja tai että kun jos niin kuin sekä myös vain jo vielä nyt sitten siellä täällä "
        "minä mä minun minulle minua minulla minusta sinä sä sinun hän hänen hänelle se sen sitä siitä "
        "siihen me meidän meille te teidän he heidän heille ne niiden niitä tämä tämän tätä tässä "
        "tuo tuon tuota mikä mitä missä miten miksi kuka joka jonka jota jossa joiden "
        "olla olen olet on olemme olette ovat oli olin olivat ollut olleet ole olisi "
        "kanssa mukaan kautta jälkeen ennen aikana vuoksi takia yli alle koko".split()
    ),
}


@dataclass(frozen=True)
class FeatureStats:
    """One feature's evidence: texts containing it per class, δ (log-odds, > 0 favours
    the first class) and its z-score."""

    first: int
    second: int
    delta: float
    z: float


class Featuriser:
    """Stems with negation marking, per language; stems cached per token."""

    def __init__(self, negators: dict[str, frozenset[str]], scope: dict[str, int]) -> None:
        self.negators = negators
        self.scope = scope
        self._stems: dict[str, dict[str, str]] = {lang: {} for lang in negators}

    def stem(self, language: str, token: str) -> str:
        cache = self._stems[language]
        s = cache.get(token)
        if s is None:
            s = cache[token] = stemmer(language).stemWord(token)
        return s

    def __call__(self, language: str, tokens: Sequence[str]) -> list[tuple[str, str]]:
        """(feature, surface token) for each word token; negators and :data:`STOPWORDS` are
        left out (a stop word still uses up one word of a negation's scope)."""
        negs = self.negators.get(language, frozenset())
        stop = STOPWORDS.get(language, frozenset())
        scope = self.scope.get(language, 3)
        out: list[tuple[str, str]] = []
        left = 0
        for tok in tokens:
            if not tok[0].isalpha():
                left = 0  # punctuation and commas end a negation's scope
                continue
            if tok in negs:
                left = scope
                continue
            if tok in stop or len(tok) < 2:
                if left > 0:
                    left -= 1
                continue
            feat = self.stem(language, tok)
            if left > 0:
                feat = NEGATED + feat
                left -= 1
            out.append((feat, tok))
        return out


def featuriser(config: AppConfig | None, sentiment_path: Path | str | None = None) -> Featuriser:
    """A :class:`Featuriser` with the negators and negation scope of the configured sentiment lexicon."""
    lexicons = lexicon_set(config, sentiment_path).lexicons
    return Featuriser(
        {lang: lex.negators for lang, lex in lexicons.items()}, {lang: lex.scope for lang, lex in lexicons.items()}
    )


def features(text: str, language: str, config: AppConfig | None = None) -> list[str]:
    """The features of a text as :class:`StemPolarity` sees them (stems, ``¬`` when negated)."""
    return [f for f, _ in featuriser(config)(language, TOKEN_RE.findall(normalise(text)))]


@dataclass
class StemPolarity:
    """Learned polarity of stem features per language (see ``tasks/text/README.md``).

    ``stats[lang][feature]`` holds the evidence, ``examples[lang][feature]`` the most
    frequent word form; ``weight`` caps the fallback score. Implements
    :class:`tasks.text.analyser.SentimentFallback`.
    """

    stats: dict[str, dict[str, FeatureStats]]
    examples: dict[str, dict[str, str]]
    negators: dict[str, frozenset[str]]
    scope: dict[str, int]
    weight: float = 0.5
    params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._featurise = Featuriser(self.negators, self.scope)
        self._delta = {lang: {f: s.delta for f, s in feats.items()} for lang, feats in self.stats.items()}

    def contributions(self, language: str, tokens: Sequence[str]) -> list[tuple[str, str, float]]:
        """(feature, word form, δ) of the learned features in a token list, each feature once."""
        deltas = self._delta.get(language)
        if not deltas:
            return []
        seen: set[str] = set()
        out = []
        for feat, tok in self._featurise(language, tokens):
            if feat in deltas and feat not in seen:
                seen.add(feat)
                out.append((feat, tok, deltas[feat]))
        return out

    def score(self, language: str, tokens: Sequence[str]) -> float:
        """Fallback sentiment in [-weight, weight]: Σδ of the text's features, squashed."""
        total = sum(d for _, _, d in self.contributions(language, tokens))
        if total == 0.0:
            return 0.0
        return self.weight * total / (abs(total) + 1.0)

    def explain(self, text: str) -> list[tuple[str, str, float]]:
        """Why :meth:`score` says what it says about ``text``: its learned features and δ."""
        language = detect_language(text)
        if language is None:
            return []
        return self.contributions(language, TOKEN_RE.findall(normalise(text)))

    def top(self, language: str, k: int = 10) -> tuple[list[tuple[str, FeatureStats]], list[tuple[str, FeatureStats]]]:
        """The ``k`` features leaning most to low and to high ratings (by z, then feature)."""
        items = sorted(self.stats.get(language, {}).items(), key=lambda kv: (kv[1].z, kv[0]))
        low = [kv for kv in items if kv[1].z < 0][:k]
        high = [kv for kv in reversed(items) if kv[1].z > 0][:k]
        return low, high

    # ---------------------------------------------------------------- persistence
    def to_yaml(self, path: Path | str) -> None:
        """Write the learned polarity as a reviewable YAML file (stable order)."""
        doc: dict[str, Any] = {
            "method": "log-odds ratio with an informative Dirichlet prior (Monroe et al. 2008), "
            "high- vs low-rated texts; delta > 0 leans to high ratings",
            "weight": self.weight,
            "params": dict(sorted(self.params.items())),
            "languages": {},
        }
        for lang in sorted(self.stats):
            doc["languages"][lang] = {
                "negators": sorted(self.negators.get(lang, ())),
                "scope": self.scope.get(lang, 3),
                "features": {
                    f: {
                        "delta": round(s.delta, 4),
                        "z": round(s.z, 3),
                        "high": s.first,
                        "low": s.second,
                        "example": self.examples.get(lang, {}).get(f, ""),
                    }
                    for f, s in sorted(self.stats[lang].items())
                },
            }
        header = (
            "# Learned stem polarity (python -m tasks.text.learn). "
            "Review before use; delete a line to drop a feature.\n"
        )
        body = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200, default_flow_style=None)
        Path(path).write_text(header + body, encoding="utf-8")


def load_polarity(path: Path | str) -> StemPolarity:
    """Read a file written by :meth:`StemPolarity.to_yaml`."""
    from cxloop.config import ConfigError

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read learned polarity: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("languages"), dict):
        raise ConfigError(f"{path}: top-level key 'languages' missing")
    stats: dict[str, dict[str, FeatureStats]] = {}
    examples: dict[str, dict[str, str]] = {}
    negators: dict[str, frozenset[str]] = {}
    scope: dict[str, int] = {}
    for lang, spec in doc["languages"].items():
        if lang not in LANGUAGES or not isinstance(spec, dict):
            raise ConfigError(f"{path}: languages.{lang}: unknown language or not a mapping")
        negators[lang] = frozenset(spec.get("negators") or ())
        scope[lang] = int(spec.get("scope", 3))
        stats[lang], examples[lang] = {}, {}
        for feat, f in (spec.get("features") or {}).items():
            try:
                stats[lang][str(feat)] = FeatureStats(int(f["high"]), int(f["low"]), float(f["delta"]), float(f["z"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{path}: languages.{lang}.features.{feat}: needs delta, z, high, low ({exc})"
                ) from exc
            examples[lang][str(feat)] = str(f.get("example", ""))
    return StemPolarity(
        stats,
        examples,
        negators,
        scope,
        float(doc.get("weight", 0.5)),
        {k: float(v) for k, v in (doc.get("params") or {}).items()},
    )
