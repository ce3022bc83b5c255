"""The run's artifact saying how the quarter's texts were read: by the rules alone, or with
the sentiment model learned from the stored ratings, with its model card (counts, held-out
figures of the model and of the rules on the same texts, the words that weigh most)."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact


def _figures(f: dict[str, Any]) -> str:
    return " | ".join(f"{f.get(k, float('nan')):.3f}" for k in ("accuracy_3class", "negative_vs_not", "macro_f1"))


def text_reading_markdown(reading: dict[str, Any]) -> str:
    """Markdown of a :class:`tasks.text.reread.Reading` (as a dict)."""
    q = reading["quarter"]
    if reading["method"] != "rules+model":
        return (
            f"# How the texts of {q} were read\n\nBy the rules alone (lexicons in `config/`): no language "
            f"had enough rated texts to learn from ({reading['rated_texts']} rated texts stored up to {q})."
        )
    card = reading.get("card") or {}
    out = [
        f"# How the texts of {q} were read",
        "",
        f"Themes by the rules; sentiment by the model **{reading['model_version']}**, trained on "
        f"{reading['rated_texts']} rated texts stored up to {q} (labels: {card.get('labels', 'from ratings')}); "
        f"{reading['texts_read']} texts of the quarter read again. Languages without a model keep the rules' score.",
        "",
        "| language | texts | negative / neutral / positive | held out | model: 3-class / neg-vs-not / macro-F1 "
        "| rules on the same texts |",
        "|---|---|---|---|---|---|",
    ]
    for lang, info in sorted((card.get("languages") or {}).items()):
        counts = info.get("counts", {})
        held = info.get("held_out", {})
        out.append(
            f"| {lang} | {info.get('texts', 0)} | {counts.get('negative', 0)} / {counts.get('neutral', 0)} / "
            f"{counts.get('positive', 0)} | {held.get('texts', 0)} | {_figures(held.get('model', {}))} | "
            f"{_figures(held.get('rules', {}))} |"
        )
    for lang, info in sorted((card.get("skipped") or {}).items()):
        out.append(f"| {lang} | {info.get('texts', 0)} | not modelled (fewer than {info.get('min_texts')}) | | | |")
    return "\n".join(out)


def publish_text_reading(q: str, reading: dict[str, Any]) -> None:
    create_markdown_artifact(
        key=f"cx-text-reading-{q.lower()}",
        markdown=text_reading_markdown(reading),
        description=f"How the texts of {q} were read (rules, learned sentiment model card)",
    )
