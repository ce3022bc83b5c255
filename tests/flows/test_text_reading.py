"""The run's artifact on how the quarter's texts were read (flows/text_reading.py)."""

from __future__ import annotations

from flows.text_reading import text_reading_markdown


def _card() -> dict:
    held = {"n": 40, "accuracy_3class": 0.7, "negative_vs_not": 0.8, "macro_f1": 0.6}
    return {
        "labels": "rating 1-2 negative, 3 neutral, 4-5 positive",
        "languages": {
            "ru": {
                "texts": 600,
                "counts": {"negative": 100, "neutral": 200, "positive": 300},
                "held_out": {"texts": 40, "model": held, "rules": {**held, "accuracy_3class": 0.55}},
            }
        },
        "skipped": {"fi": {"texts": 30, "min_texts": 500}},
        "theme_model": {
            "labelled_texts": 80,
            "themes": {
                "office_comfort": {"positives": 20, "rules_f1": 0.5, "model_f1": 0.9, "used": True},
                "waiting_time": {"positives": 3, "rules_f1": 0.8, "model_f1": None, "used": False, "why": "few"},
            },
        },
    }


def test_model_card_markdown_names_version_figures_and_learned_themes():
    md = text_reading_markdown(
        {
            "quarter": "2026Q3",
            "method": "rules+model+themes",
            "model_version": "abc123",
            "rated_texts": 630,
            "texts_read": 700,
            "card": _card(),
        }
    )
    assert "abc123" in md and "630 rated texts" in md
    assert "| ru | 600 | 100 / 200 / 300 | 40 | 0.700 | 0.800 | 0.600 | 0.550 | 0.800 | 0.600 |" in md
    assert "| fi | 30 | not modelled (fewer than 500)" in md
    assert "| office_comfort | 20 | 0.500 | 0.900 | yes |" in md and "| waiting_time | 3 | 0.800 |  | no: few |" in md


def test_rules_only_markdown_says_why():
    md = text_reading_markdown({"quarter": "2026Q1", "method": "rules", "rated_texts": 12, "card": {}})
    assert "rules alone" in md and "12 rated texts" in md and "classifier" not in md
