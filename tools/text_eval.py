"""``make eval``: how well the text analytics (:mod:`tasks.text.analyser`) read real feedback.

The labelled set is ``tests/data/text_eval/eval.jsonl`` (how it was written, the labelling
guidelines and the split rule are in the README next to it): hand-written client texts in
Russian, Finnish and English, each with its language, the pain-point themes a CX analyst
would tag and the overall sentiment (negative / neutral / positive).

    python -m tools.text_eval                 # dev, test and all: tables and targets
    python -m tools.text_eval --split test    # one split only
    python -m tools.text_eval --errors        # also the dev split's errors (redacted texts)
    python -m tools.text_eval --json          # the same figures as JSON

**Splits.** ``dev`` (~40 %) may be looked at and used to tune the lexicons in
``config/themes/`` and ``config/sentiment.yaml``; ``test`` (~60 %) is held out: its
figures are reported, its errors are never listed. The split is a fixed function of the
item id (:func:`split_for`), so it cannot drift when texts are added.

**Metrics** (:func:`evaluate`):

* *Themes* are a multi-label task. Per theme: TP/FP/FN over texts, precision
  TP/(TP+FP), recall TP/(TP+FN), F1, support (gold texts with the theme) and the number
  of texts predicted with it; a ratio with a zero denominator is 0 (as scikit-learn's
  ``zero_division=0``). *Macro-F1* is the mean F1 over the 14 theme ids (plus any theme
  seen in the gold labels or the predictions); a theme with neither support nor
  predictions in the evaluated items has no F1 and is left out of the macro (the report
  names it), whereas a theme predicted but never in the gold labels counts with F1 = 0.
  *Micro*-P/R/F1 pool TP/FP/FN over all themes.
* *Sentiment*: the analyser's score ``s`` in [-1, 1] becomes a class with a neutral band
  of half-width :data:`NEUTRAL_BAND`: ``|s| < 0.1`` → neutral, ``s <= -0.1`` → negative,
  ``s >= 0.1`` → positive (:func:`sentiment_class`). The band was chosen before looking at
  any figure: it is a tenth of the scale, so a single weak cue does not flip a neutral
  text, and the product's own rule (``s < 0`` is negative) stays within it. *Sentiment
  accuracy* is the share of texts whose class equals the gold label. *Binary accuracy*
  looks only at texts whose gold label is negative or positive and asks whether the sign
  of ``s`` agrees (``s == 0`` counts as wrong: no polarity found).
* *Language accuracy*: the share of texts whose detected language equals the gold one
  (``None`` counts as wrong).

Every figure is given for the items evaluated and per language. Targets printed next to
them (never failing the exit code): theme macro-F1 ≥ 0.80, sentiment accuracy ≥ 0.85.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.text.analyser import analyse as _text_analyse
from tasks.validate.redaction import redact

__all__ = [
    "DEFAULT_PATH",
    "EvalError",
    "EvalItem",
    "EvalReport",
    "EvalSetError",
    "NEUTRAL_BAND",
    "Scores",
    "THEME_IDS",
    "ThemeScore",
    "evaluate",
    "format_errors",
    "format_report",
    "known_theme_ids",
    "load_eval_set",
    "main",
    "sentiment_class",
    "split_for",
]

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "text_eval" / "eval.jsonl"

# The 14 pain-point themes of the domain (stable ids, as in config/themes/themes.yaml).
THEME_IDS: tuple[str, ...] = (
    "contact_reachability",
    "reminders_notifications",
    "process_clarity",
    "online_service_usability",
    "waiting_time",
    "staff_attitude",
    "staff_competence",
    "plan_personalisation",
    "vacancy_relevance",
    "benefit_payment",
    "documents_effort",
    "office_comfort",
    "training_offer",
    "candidate_quality",
)
EVAL_LANGUAGES: tuple[str, ...] = ("ru", "fi", "en")
SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SPLITS: tuple[str, ...] = ("dev", "test")
NEUTRAL_BAND = 0.1
TARGET_MACRO_F1 = 0.80
TARGET_SENTIMENT_ACCURACY = 0.85

_FIELDS = ("id", "lang", "text", "themes", "sentiment", "split")
_ID = re.compile(r"^(ru|fi|en)-(\d{3,})$")
# Positions 1 and 3 of every block of five ids go to dev: 2/5 = 40 %.
_DEV_RESIDUES = frozenset({1, 3})


class EvalSetError(ValueError):
    """The evaluation file is missing or a line is invalid; the message names file, line and field."""


@dataclass(frozen=True)
class EvalItem:
    """One labelled text. ``themes`` is the gold theme set (possibly empty)."""

    id: str
    lang: str
    text: str
    themes: frozenset[str]
    sentiment: str
    split: str


# ------------------------------------------------------------------------ the set


def split_for(item_id: str) -> str:
    """The split of an item, from its id alone: ``dev`` when the id's number is 1 or 3 mod 5.

    Ids are ``<lang>-<number>`` and numbered consecutively within a language, so in id
    order this alternates test/dev/test/dev/test… with exactly two dev items in every five
    (40 %), stratified by language and spread evenly over the file. A new text appended
    with the next number never moves an existing one between splits.
    """
    m = _ID.match(item_id)
    if m is None:
        raise ValueError(f"not an evaluation item id (<lang>-<number>): {item_id!r}")
    return "dev" if int(m.group(2)) % 5 in _DEV_RESIDUES else "test"


def known_theme_ids() -> frozenset[str]:
    """The 14 domain themes plus any theme the configuration defines (``config/themes/``).

    Only the theme ids are read from the configuration; when it cannot be loaded the 14
    ids are used.
    """
    from cxloop.config import ConfigError, get_config

    try:
        configured = set(get_config().themes)
    except ConfigError:
        configured = set()
    return frozenset(THEME_IDS) | configured


def load_eval_set(path: Path | str | None = None, *, theme_ids: Iterable[str] | None = None) -> list[EvalItem]:
    """Read and validate the labelled set (JSON lines), in file order.

    Every non-blank line must be an object with exactly the fields ``id``, ``lang``,
    ``text``, ``themes``, ``sentiment`` and ``split``: a unique id ``<lang>-<number>`` whose
    prefix is its ``lang`` (ru/fi/en), a non-empty text, a list of distinct known theme
    ids (``theme_ids``, default :func:`known_theme_ids`), a sentiment label
    (negative/neutral/positive) and the split :func:`split_for` gives the id. Anything
    else raises :class:`EvalSetError` naming the file, the line and the field.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    known = frozenset(theme_ids) if theme_ids is not None else known_theme_ids()
    try:
        raw_lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalSetError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise EvalSetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None

    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(raw_lines, start=1):
        if not line.strip():
            continue

        def fail(field_name: str | None, problem: str, _n: int = line_no) -> EvalSetError:
            where = f"{path}, line {_n}" + (f", field '{field_name}'" if field_name else "")
            return EvalSetError(f"{where}: {problem}")

        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise fail(None, f"not valid JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(rec, dict):
            raise fail(None, f"expected a JSON object, got {type(rec).__name__}")
        for name in _FIELDS:
            if name not in rec:
                raise fail(name, "missing")
        for name in rec:
            if name not in _FIELDS:
                raise fail(name, f"unknown field (expected {', '.join(_FIELDS)})")

        item_id, lang, text = rec["id"], rec["lang"], rec["text"]
        themes, sentiment, split = rec["themes"], rec["sentiment"], rec["split"]
        if lang not in EVAL_LANGUAGES:
            raise fail("lang", f"{lang!r} is not one of {', '.join(EVAL_LANGUAGES)}")
        if not isinstance(item_id, str) or _ID.match(item_id) is None:
            raise fail("id", f"{item_id!r} is not of the form <lang>-<number> (e.g. ru-001)")
        if not item_id.startswith(f"{lang}-"):
            raise fail("id", f"{item_id!r} does not start with its language {lang!r}")
        if item_id in seen:
            raise fail("id", f"{item_id!r} already used on line {seen[item_id]}")
        if not isinstance(text, str) or not text.strip():
            raise fail("text", "must be a non-empty string")
        if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
            raise fail("themes", "must be a list of theme ids")
        unknown = [t for t in themes if t not in known]
        if unknown:
            raise fail("themes", f"unknown theme id {unknown[0]!r}")
        if len(set(themes)) != len(themes):
            raise fail("themes", "a theme is listed twice")
        if sentiment not in SENTIMENT_LABELS:
            raise fail("sentiment", f"{sentiment!r} is not one of {', '.join(SENTIMENT_LABELS)}")
        if split not in SPLITS:
            raise fail("split", f"{split!r} is not one of {', '.join(SPLITS)}")
        expected = split_for(item_id)
        if split != expected:
            raise fail("split", f"{split!r}, but the split rule gives {expected!r} for {item_id!r}")
        seen[item_id] = line_no
        items.append(EvalItem(item_id, lang, text, frozenset(themes), sentiment, split))
    if not items:
        raise EvalSetError(f"{path}: no items")
    return items


# ----------------------------------------------------------------------- metrics


def sentiment_class(score: float, band: float = NEUTRAL_BAND) -> str:
    """negative / neutral / positive for a score in [-1, 1]: ``|score| < band`` is neutral."""
    if score <= -band:
        return "negative"
    if score >= band:
        return "positive"
    return "neutral"


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


@dataclass
class ThemeScore:
    """Counts for one theme over the evaluated texts, and the ratios derived from them."""

    theme: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def predicted(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "predicted": self.predicted,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class Scores:
    """All figures for one set of texts (a split, or one language within it)."""

    n: int
    themes: dict[str, ThemeScore]
    macro_f1: float
    macro_themes: list[str]
    excluded_themes: list[str]
    micro_precision: float
    micro_recall: float
    micro_f1: float
    sentiment_accuracy: float
    sentiment_confusion: dict[str, dict[str, int]]
    binary_n: int
    binary_accuracy: float
    language_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "themes": {t: s.to_dict() for t, s in self.themes.items()},
            "macro_f1": self.macro_f1,
            "macro_themes": self.macro_themes,
            "excluded_themes": self.excluded_themes,
            "micro_precision": self.micro_precision,
            "micro_recall": self.micro_recall,
            "micro_f1": self.micro_f1,
            "sentiment_accuracy": self.sentiment_accuracy,
            "sentiment_confusion": self.sentiment_confusion,
            "binary_n": self.binary_n,
            "binary_accuracy": self.binary_accuracy,
            "language_accuracy": self.language_accuracy,
        }


@dataclass
class EvalError:
    """A dev-split text the analyser got wrong in any respect; ``text`` is redacted."""

    id: str
    lang: str
    text: str
    gold_themes: list[str]
    predicted_themes: list[str]
    gold_sentiment: str
    predicted_sentiment: str
    score: float
    predicted_lang: str | None

    @property
    def missing_themes(self) -> list[str]:
        return [t for t in self.gold_themes if t not in self.predicted_themes]

    @property
    def extra_themes(self) -> list[str]:
        return [t for t in self.predicted_themes if t not in self.gold_themes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lang": self.lang,
            "text": self.text,
            "gold": {"themes": self.gold_themes, "sentiment": self.gold_sentiment, "lang": self.lang},
            "predicted": {
                "themes": self.predicted_themes,
                "sentiment": self.predicted_sentiment,
                "score": self.score,
                "lang": self.predicted_lang,
            },
            "missing_themes": self.missing_themes,
            "extra_themes": self.extra_themes,
        }


@dataclass
class EvalReport:
    """:func:`evaluate`'s result: figures overall and per language, and the dev errors."""

    overall: Scores
    by_language: dict[str, Scores]
    errors: list[EvalError] = field(default_factory=list)
    neutral_band: float = NEUTRAL_BAND

    def to_dict(self) -> dict[str, Any]:
        return {
            "neutral_band": self.neutral_band,
            "targets": {
                "macro_f1": {"target": TARGET_MACRO_F1, "met": self.overall.macro_f1 >= TARGET_MACRO_F1},
                "sentiment_accuracy": {
                    "target": TARGET_SENTIMENT_ACCURACY,
                    "met": self.overall.sentiment_accuracy >= TARGET_SENTIMENT_ACCURACY,
                },
            },
            "overall": self.overall.to_dict(),
            "by_language": {lang: s.to_dict() for lang, s in self.by_language.items()},
            "errors": [e.to_dict() for e in self.errors],
        }


@dataclass(frozen=True)
class _Prediction:
    lang: str | None
    themes: frozenset[str]
    score: float


def _scores(pairs: Sequence[tuple[EvalItem, _Prediction]], theme_ids: Sequence[str], band: float) -> Scores:
    universe = list(theme_ids)
    for item, pred in pairs:
        for t in sorted(item.themes | pred.themes):
            if t not in universe:
                universe.append(t)
    per_theme = {t: ThemeScore(t) for t in universe}
    confusion = {g: dict.fromkeys(SENTIMENT_LABELS, 0) for g in SENTIMENT_LABELS}
    sent_ok = lang_ok = bin_n = bin_ok = 0
    for item, pred in pairs:
        for t in item.themes | pred.themes:
            ts = per_theme[t]
            if t in item.themes and t in pred.themes:
                ts.tp += 1
            elif t in pred.themes:
                ts.fp += 1
            else:
                ts.fn += 1
        cls = sentiment_class(pred.score, band)
        confusion[item.sentiment][cls] += 1
        sent_ok += cls == item.sentiment
        if item.sentiment != "neutral":
            bin_n += 1
            bin_ok += (pred.score < 0) if item.sentiment == "negative" else (pred.score > 0)
        lang_ok += pred.lang == item.lang
    macro_themes = [t for t, s in per_theme.items() if s.support or s.predicted]
    excluded = [t for t in per_theme if t not in macro_themes]
    tp = sum(s.tp for s in per_theme.values())
    fp = sum(s.fp for s in per_theme.values())
    fn = sum(s.fn for s in per_theme.values())
    n = len(pairs)
    return Scores(
        n=n,
        themes=per_theme,
        macro_f1=sum(per_theme[t].f1 for t in macro_themes) / len(macro_themes) if macro_themes else 0.0,
        macro_themes=macro_themes,
        excluded_themes=excluded,
        micro_precision=_ratio(tp, tp + fp),
        micro_recall=_ratio(tp, tp + fn),
        micro_f1=_ratio(2 * tp, 2 * tp + fp + fn),
        sentiment_accuracy=_ratio(sent_ok, n),
        sentiment_confusion=confusion,
        binary_n=bin_n,
        binary_accuracy=_ratio(bin_ok, bin_n),
        language_accuracy=_ratio(lang_ok, n),
    )


def evaluate(
    items: Sequence[EvalItem],
    analyse: Callable[[list[str]], Sequence[Any]] = _text_analyse,
    *,
    theme_ids: Sequence[str] = THEME_IDS,
    neutral_band: float = NEUTRAL_BAND,
) -> EvalReport:
    """Run ``analyse`` on the items' texts and score it against the gold labels.

    ``analyse`` takes a list of texts and returns, in order, objects with ``language``
    (str or None), ``themes`` (a set of theme ids) and ``sentiment`` (float in [-1, 1]) —
    :func:`tasks.text.analyser.analyse` by default. Figures are computed over all ``items`` and per
    language (see the module docstring for the definitions); ``errors`` lists only the
    items of the ``dev`` split with a wrong theme set, sentiment class or language, with
    their texts redacted. ``theme_ids`` fixes the order of the per-theme table.
    """
    items = list(items)
    results = list(analyse([it.text for it in items]))
    if len(results) != len(items):
        raise ValueError(f"analyse returned {len(results)} results for {len(items)} texts")
    preds = [_Prediction(r.language, frozenset(r.themes or ()), float(r.sentiment or 0.0)) for r in results]
    pairs = list(zip(items, preds, strict=True))
    overall = _scores(pairs, theme_ids, neutral_band)
    by_language = {
        lang: _scores([(i, p) for i, p in pairs if i.lang == lang], theme_ids, neutral_band)
        for lang in EVAL_LANGUAGES
        if any(i.lang == lang for i in items)
    }
    errors: list[EvalError] = []
    for item, pred in pairs:
        if item.split != "dev":
            continue
        cls = sentiment_class(pred.score, neutral_band)
        if item.themes == pred.themes and cls == item.sentiment and pred.lang == item.lang:
            continue
        errors.append(
            EvalError(
                id=item.id,
                lang=item.lang,
                text=redact(item.text) or "",
                gold_themes=sorted(item.themes),
                predicted_themes=sorted(pred.themes),
                gold_sentiment=item.sentiment,
                predicted_sentiment=cls,
                score=pred.score,
                predicted_lang=pred.lang,
            )
        )
    return EvalReport(overall=overall, by_language=by_language, errors=errors, neutral_band=neutral_band)


# -------------------------------------------------------------------------- output


def _met(value: float, target: float) -> str:
    return f"target >= {target:.2f}: {'met' if value >= target else 'NOT met'}"


def format_report(name: str, items: Sequence[EvalItem], report: EvalReport) -> str:
    """A plain-text table of one report: per theme, the summary figures, per language."""
    s = report.overall
    langs = ", ".join(f"{lang} {sum(i.lang == lang for i in items)}" for lang in report.by_language)
    out = [f"== split: {name} — {s.n} texts ({langs})", ""]
    out.append(f"{'theme':<26} {'P':>6} {'R':>6} {'F1':>6} {'support':>8} {'predicted':>10}")
    for t, ts in s.themes.items():
        if t in s.excluded_themes:
            out.append(f"{t:<26} {'-':>6} {'-':>6} {'-':>6} {0:>8} {0:>10}   (no support, no predictions)")
        else:
            out.append(f"{t:<26} {ts.precision:6.2f} {ts.recall:6.2f} {ts.f1:6.2f} {ts.support:8d} {ts.predicted:10d}")
    out.append("")
    excl = f"; left out (no support, no predictions): {', '.join(s.excluded_themes)}" if s.excluded_themes else ""
    out.append(
        f"theme macro-F1 over {len(s.macro_themes)} themes: {s.macro_f1:.3f}   "
        f"{_met(s.macro_f1, TARGET_MACRO_F1)}{excl}"
    )
    out.append(f"theme micro P/R/F1: {s.micro_precision:.3f} / {s.micro_recall:.3f} / {s.micro_f1:.3f}")
    out.append(
        f"sentiment accuracy (3 classes, |s| < {report.neutral_band:g} neutral): "
        f"{s.sentiment_accuracy:.3f}   {_met(s.sentiment_accuracy, TARGET_SENTIMENT_ACCURACY)}"
    )
    out.append(f"sentiment binary accuracy (sign of s, {s.binary_n} non-neutral gold texts): {s.binary_accuracy:.3f}")
    out.append(f"language accuracy: {s.language_accuracy:.3f}")
    out.append(
        "sentiment confusion (rows gold, columns predicted): "
        + "; ".join(
            f"{g}: " + " ".join(f"{s.sentiment_confusion[g][p]}" for p in SENTIMENT_LABELS) for g in SENTIMENT_LABELS
        )
        + f"  [{'/'.join(SENTIMENT_LABELS)}]"
    )
    out.append("")
    out.append(
        f"{'language':<9} {'n':>4} {'macro-F1':>9} {'micro-F1':>9} {'sent.acc':>9} {'binary':>7} {'lang.acc':>9}"
    )
    for lang, ls in report.by_language.items():
        out.append(
            f"{lang:<9} {ls.n:4d} {ls.macro_f1:9.3f} {ls.micro_f1:9.3f} {ls.sentiment_accuracy:9.3f} "
            f"{ls.binary_accuracy:7.3f} {ls.language_accuracy:9.3f}"
        )
    return "\n".join(out)


def format_errors(errors: Sequence[EvalError]) -> str:
    """One block per dev error: id, what was missed or added, sentiment, language, redacted text."""
    if not errors:
        return "dev errors: none"
    out = [f"dev errors: {len(errors)}"]
    for e in errors:
        parts = []
        if e.missing_themes:
            parts.append(f"missing {', '.join(e.missing_themes)}")
        if e.extra_themes:
            parts.append(f"extra {', '.join(e.extra_themes)}")
        if e.predicted_sentiment != e.gold_sentiment:
            parts.append(f"sentiment {e.gold_sentiment} -> {e.predicted_sentiment} ({e.score:+.2f})")
        if e.predicted_lang != e.lang:
            parts.append(f"language {e.lang} -> {e.predicted_lang}")
        out.append(f"  {e.id}: {'; '.join(parts)}\n      {e.text}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation for dev, test and all (or one ``--split``); always returns 0."""
    parser = argparse.ArgumentParser(prog="python -m tools.text_eval", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--split",
        choices=["dev", "test", "all"],
        default=None,
        help="evaluate one split only (default: dev, test and all)",
    )
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="the labelled set (JSON lines)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    parser.add_argument("--errors", action="store_true", help="also list the dev split's errors (texts redacted)")
    args = parser.parse_args(argv)

    items = load_eval_set(args.path)
    names = [args.split] if args.split else ["dev", "test", "all"]
    results: dict[str, tuple[list[EvalItem], EvalReport]] = {}
    for name in names:
        subset = items if name == "all" else [i for i in items if i.split == name]
        results[name] = (subset, evaluate(subset))

    if args.json:
        splits: dict[str, Any] = {}
        doc = {"path": str(args.path), "splits": splits}
        for name, (_subset, report) in results.items():
            d = report.to_dict()
            if not args.errors:
                d.pop("errors")
            splits[name] = d
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0

    print(f"Text analytics evaluation: {args.path} ({len(items)} texts; dev is for tuning, test is held out)")
    for name, (subset, report) in results.items():
        print()
        print(format_report(name, subset, report))
    if args.errors:
        print()
        source = next((name for name in ("dev", "all") if name in results), None)
        if source is None:
            print("dev errors: not listed with --split test (the test split is held out)")
        else:
            print(format_errors(results[source][1].errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
