"""The text-analytics evaluation (tasks/text_eval.py) and its labelled set (tests/data/text_eval).

The set is checked for what the evaluation relies on (size, languages, every theme in both
splits, the split rule); the metric code against figures worked out by hand on a tiny set
with a fake analyser; the loader against malformed lines. The real analyser is run once,
only to check the runner end to end (no assertion on its quality).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tasks.text.analyser import TextAnalysis
from tools.text_eval import (
    DEFAULT_PATH,
    THEME_IDS,
    EvalItem,
    EvalSetError,
    evaluate,
    load_eval_set,
    main,
    sentiment_class,
    split_for,
)

# ------------------------------------------------------------------------ the set


@pytest.fixture(scope="module")
def items() -> list[EvalItem]:
    return load_eval_set()


def test_the_set_is_large_and_trilingual(items):
    assert len(items) >= 150
    per_lang = Counter(i.lang for i in items)
    assert set(per_lang) == {"ru", "fi", "en"}
    assert min(per_lang.values()) >= 60
    assert len({i.text for i in items}) == len(items), "a text is in the set twice"


def test_every_theme_is_in_both_splits_at_least_six_times(items):
    for split in ("dev", "test"):
        counts = Counter(t for i in items if i.split == split for t in i.themes)
        short = {t: counts[t] for t in THEME_IDS if counts[t] < 6}
        assert not short, f"{split}: themes with fewer than 6 texts: {short}"


def test_all_three_sentiments_and_themeless_texts_in_both_splits(items):
    for split in ("dev", "test"):
        part = [i for i in items if i.split == split]
        assert {i.sentiment for i in part} == {"negative", "neutral", "positive"}
        assert any(not i.themes for i in part)
        assert any(len(i.themes) >= 2 for i in part)


def test_split_rule_is_deterministic_and_stratified(items):
    # The stored split is the rule's, for every line (the loader checks it too).
    assert all(i.split == split_for(i.id) for i in items)
    # The rule depends on the id only: the same answer in any order, any number of times.
    ids = [i.id for i in items]
    assert [split_for(x) for x in reversed(ids)] == [split_for(x) for x in ids][::-1]
    # In id order each language runs test, dev, test, dev, test, ...
    assert [split_for(f"ru-{n:03d}") for n in range(1, 11)] == ["dev", "test", "dev", "test", "test"] * 2
    for lang in ("ru", "fi", "en"):
        part = [i for i in items if i.lang == lang]
        dev_share = sum(i.split == "dev" for i in part) / len(part)
        assert 0.38 <= dev_share <= 0.42, (lang, dev_share)


def test_split_for_rejects_ids_it_cannot_place():
    with pytest.raises(ValueError, match="ru1"):
        split_for("ru1")


def test_texts_with_personal_data_only_use_fake_values(items):
    # The product finds only phones and names here, and every phone's subscriber part is zeros.
    import re

    from tasks.validate.redaction import find_personal_data

    with_pd = {i.id: find_personal_data(i.text) for i in items if find_personal_data(i.text)}
    assert with_pd, "the set should exercise redaction in the error listing"
    for item_id, kinds in with_pd.items():
        assert set(kinds) <= {"phone", "name"}, (item_id, kinds)
    for i in items:
        if "phone" in with_pd.get(i.id, []):
            assert re.search(r"000[\s-]?00[\s-]?00|000 0000", i.text), i.id


# ----------------------------------------------------------------------- metrics


def _item(item_id: str, lang: str, text: str, themes: set[str], sentiment: str) -> EvalItem:
    return EvalItem(item_id, lang, text, frozenset(themes), sentiment, split_for(item_id))


# Four texts; ru-001 and en-003 are dev, fi-002 and en-004 test (n % 5 in {1, 3} is dev).
TINY = [
    _item("ru-001", "ru", "a", {"waiting_time"}, "negative"),
    _item("fi-002", "fi", "b", {"waiting_time", "staff_attitude"}, "positive"),
    _item("en-003", "en", "c +7 912 345-67-89", set(), "neutral"),
    _item("en-004", "en", "d", {"staff_attitude"}, "negative"),
]
TINY_PRED = {
    "a": TextAnalysis("ru", {"waiting_time"}, -0.5),
    "b": TextAnalysis("en", {"staff_attitude"}, 0.05),  # misses waiting_time; weak positive -> neutral
    "c +7 912 345-67-89": TextAnalysis("en", {"waiting_time"}, 0.0),  # a false waiting_time
    "d": TextAnalysis(None, {"office_comfort"}, 0.3),  # wrong theme, wrong polarity, no language
}


def fake_analyse(texts):
    return [TINY_PRED[t] for t in texts]


def test_theme_metrics_by_hand():
    r = evaluate(TINY, fake_analyse).overall
    wt, sa, oc = r.themes["waiting_time"], r.themes["staff_attitude"], r.themes["office_comfort"]
    # waiting_time: TP a, FN b, FP c -> P 1/2, R 1/2, F1 1/2.
    assert (wt.tp, wt.fp, wt.fn, wt.support, wt.predicted) == (1, 1, 1, 2, 2)
    assert (wt.precision, wt.recall, wt.f1) == (0.5, 0.5, 0.5)
    # staff_attitude: TP b, FN d -> P 1, R 1/2, F1 2/3.
    assert (sa.tp, sa.fp, sa.fn) == (1, 0, 1)
    assert sa.precision == 1.0 and sa.recall == 0.5 and sa.f1 == pytest.approx(2 / 3)
    # office_comfort: predicted once, never gold -> counts in the macro with F1 0.
    assert (oc.tp, oc.fp, oc.fn, oc.f1) == (0, 1, 0, 0.0)
    assert r.macro_themes == ["waiting_time", "staff_attitude", "office_comfort"]
    assert r.macro_f1 == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)
    assert len(r.excluded_themes) == 11 and "training_offer" in r.excluded_themes
    # micro: TP 2, FP 2, FN 2.
    assert (r.micro_precision, r.micro_recall, r.micro_f1) == (0.5, 0.5, 0.5)


def test_sentiment_and_language_metrics_by_hand():
    r = evaluate(TINY, fake_analyse).overall
    # a: neg/neg ok; b: pos/neutral wrong; c: neutral/neutral ok; d: neg/pos wrong.
    assert r.sentiment_accuracy == 0.5
    assert r.sentiment_confusion["positive"]["neutral"] == 1
    assert r.sentiment_confusion["negative"] == {"negative": 1, "neutral": 0, "positive": 1}
    # Binary on a, b, d by the sign: a right, b right (0.05 > 0), d wrong.
    assert r.binary_n == 3 and r.binary_accuracy == pytest.approx(2 / 3)
    # Language: a right, b wrong (fi -> en), c right, d wrong (None).
    assert r.language_accuracy == 0.5


def test_per_language_breakdown_and_dev_only_errors():
    report = evaluate(TINY, fake_analyse)
    assert list(report.by_language) == ["ru", "fi", "en"]
    ru, en = report.by_language["ru"], report.by_language["en"]
    assert ru.n == 1 and ru.macro_f1 == 1.0 and ru.sentiment_accuracy == 1.0
    # en: c (false waiting_time) and d (staff_attitude missed, office_comfort added).
    assert en.n == 2 and en.micro_precision == 0.0 and en.micro_recall == 0.0
    assert en.language_accuracy == 0.5
    # Errors: only the dev split (ru-001 is right, en-003 wrong); fi-002 and en-004 are test.
    assert [e.id for e in report.errors] == ["en-003"]
    err = report.errors[0]
    assert err.extra_themes == ["waiting_time"] and err.missing_themes == []
    assert "345-67-89" not in err.text and "[PHONE]" in err.text


def test_neutral_band_edges():
    assert sentiment_class(-0.1) == "negative"
    assert sentiment_class(-0.0999) == "neutral"
    assert sentiment_class(0.0) == "neutral"
    assert sentiment_class(0.0999) == "neutral"
    assert sentiment_class(0.1) == "positive"


def test_analyser_returning_the_wrong_number_of_results_is_an_error():
    with pytest.raises(ValueError, match="3 results for 4 texts"):
        evaluate(TINY, lambda texts: fake_analyse(texts)[:3])


# -------------------------------------------------------------------------- loader

GOOD = {
    "id": "ru-001",
    "lang": "ru",
    "text": "очереди не было",
    "themes": ["waiting_time"],
    "sentiment": "positive",
    "split": "dev",
}


def _write(tmp_path: Path, *records) -> Path:
    path = tmp_path / "eval.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path):
    second = dict(GOOD, id="ru-002", themes=[], sentiment="neutral", split="test")
    path = _write(tmp_path, GOOD, "", second)  # a blank line is skipped
    got = load_eval_set(path)
    assert [i.id for i in got] == ["ru-001", "ru-002"]
    assert got[0].themes == frozenset({"waiting_time"}) and got[1].themes == frozenset()


@pytest.mark.parametrize(
    ("bad", "field", "fragment"),
    [
        (dict(GOOD, themes=["waiting_time", "queues"]), "themes", "unknown theme id 'queues'"),
        (dict(GOOD, themes="waiting_time"), "themes", "list"),
        (dict(GOOD, themes=["waiting_time", "waiting_time"]), "themes", "twice"),
        (dict(GOOD, lang="sv", id="sv-001"), "lang", "'sv'"),
        (dict(GOOD, sentiment="mixed"), "sentiment", "'mixed'"),
        (dict(GOOD, split="train"), "split", "'train'"),
        (dict(GOOD, split="test"), "split", "split rule gives 'dev'"),
        (dict(GOOD, id="fi-001"), "id", "language 'ru'"),
        (dict(GOOD, id="ru_1"), "id", "<lang>-<number>"),
        (dict(GOOD, text="  "), "text", "non-empty"),
        ({k: v for k, v in GOOD.items() if k != "sentiment"}, "sentiment", "missing"),
        (dict(GOOD, theme=["waiting_time"]), "theme", "unknown field"),
    ],
)
def test_a_malformed_line_names_file_line_and_field(tmp_path, bad, field, fragment):
    first = dict(GOOD, id="ru-002", split="test")
    path = _write(tmp_path, first, bad)
    with pytest.raises(EvalSetError) as exc:
        load_eval_set(path)
    msg = str(exc.value)
    assert str(path) in msg and "line 2" in msg and f"field '{field}'" in msg, msg
    assert fragment in msg, msg


def test_broken_json_and_duplicate_ids_name_the_line(tmp_path):
    path = _write(tmp_path, GOOD, '{"id": "ru-002", "lang": ')
    with pytest.raises(EvalSetError, match=r"eval\.jsonl, line 2: not valid JSON"):
        load_eval_set(path)
    path = _write(tmp_path, GOOD, dict(GOOD, text="другой текст"))
    with pytest.raises(EvalSetError, match=r"line 2, field 'id': 'ru-001' already used on line 1"):
        load_eval_set(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(EvalSetError, match="nope.jsonl: file not found"):
        load_eval_set(tmp_path / "nope.jsonl")


def test_known_theme_ids_can_be_extended(tmp_path):
    path = _write(tmp_path, dict(GOOD, themes=["parking"]))
    with pytest.raises(EvalSetError, match="unknown theme id 'parking'"):
        load_eval_set(path)
    assert load_eval_set(path, theme_ids=[*THEME_IDS, "parking"])[0].themes == {"parking"}


# ---------------------------------------------------------------------- the runner


def test_main_prints_every_split_with_targets(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in ("dev", "test", "all"):
        assert f"== split: {name}" in out
    assert out.count("theme macro-F1 over") == 3 and out.count("target >= 0.85") == 3
    assert all(t in out for t in THEME_IDS)


def test_main_json_for_one_split(capsys):
    assert main(["--split", "test", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["splits"]) == ["test"]
    test = doc["splits"]["test"]
    n_test = sum(i.split == "test" for i in load_eval_set(DEFAULT_PATH))
    assert test["overall"]["n"] == n_test
    assert set(test["overall"]["themes"]) >= set(THEME_IDS)
    assert "errors" not in test  # held out: no error listing
    assert 0.0 <= test["overall"]["macro_f1"] <= 1.0


def test_main_lists_dev_errors_redacted(tmp_path, capsys):
    # A dev text with a (fake) phone that the analyser will not label "candidate_quality":
    # it shows as an error, its phone redacted.
    path = _write(
        tmp_path, dict(GOOD, text="звоните 8-900-000-00-00", themes=["candidate_quality"], sentiment="neutral")
    )
    assert main(["--path", str(path), "--errors"]) == 0
    out = capsys.readouterr().out
    assert "ru-001: missing candidate_quality" in out
    assert "000-00-00" not in out and "[PHONE]" in out
    assert main(["--path", str(path), "--split", "test", "--errors"]) == 0
    assert "held out" in capsys.readouterr().out
