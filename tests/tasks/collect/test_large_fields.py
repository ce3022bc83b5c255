"""Issue 14, row 7: a field over the csv module's 128 KiB default is read (up to
MAX_FIELD_CHARS); a field over MAX_FIELD_CHARS quarantines its row, not the file,
on both CSV paths and in JSON; a real unclosed quote still rejects the file."""

import json

import pytest
from sqlalchemy import select

from models.db import session_scope
from models.tables import Quarantine
from tasks.collect.decoding import IntakeError
from tasks.collect.headers import MAX_FIELD_CHARS
from tasks.collect.readers import read_channel_file
from tasks.validate.ingest import ingest_file

HEADER = "Дата;Код ЦЗН;Категория заявителя;Текст отзыва;Оценка"
ROW = "12.03.2026;52-01;гражданин;{text};4"


def _csv(tmp_path, texts, name="review_book_52.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *(ROW.format(text=t) for t in texts)]) + "\n", encoding="utf-8")
    return path


def test_limit_is_one_mebibyte():
    assert MAX_FIELD_CHARS == 1024 * 1024


def test_quoted_comment_over_128_kib_is_read(tmp_path, config):
    big = "Очень длинный отзыв; " * 10_000  # ~210,000 characters, a delimiter inside: quoted
    path = _csv(tmp_path, ["Короткий", f'"{big}"', "Ещё один"])
    raw = read_channel_file(path, "review_book", config)
    assert raw.frame["text"].tolist() == ["Короткий", big.strip(), "Ещё один"]
    assert raw.frame["source_row"].tolist() == [2, 3, 4]
    assert raw.unreadable == []


def test_multiline_quoted_comment_over_128_kib_is_read(tmp_path, config):
    big = "\n".join(["Строка длинного отзыва " * 200] * 40)  # 40 lines, ~180,000 characters
    path = _csv(tmp_path, [f'"{big}"', "Ещё один"])
    raw = read_channel_file(path, "review_book", config)
    assert len(raw.frame) == 2 and len(raw.frame["text"][0]) == len(big.strip())
    assert raw.frame["source_row"].tolist() == [2, 42]


def test_quoted_field_over_the_limit_quarantines_its_row(tmp_path, config):
    path = _csv(tmp_path, ["Первый", '"' + "я" * (MAX_FIELD_CHARS + 1) + '"', "Третий"])
    raw = read_channel_file(path, "review_book", config)
    assert raw.frame["text"].tolist() == ["Первый", "Третий"]
    assert raw.frame["source_row"].tolist() == [2, 4]
    assert len(raw.unreadable) == 1
    row, reason = raw.unreadable[0]
    assert row == 3
    assert "row 3" in reason and "text" in reason and "1,048,576" in reason
    assert "я" * 20 not in reason  # never the content
    assert raw.received == 3


def test_unquoted_field_over_the_limit_quarantines_its_row_on_the_fast_path(tmp_path, config):
    path = _csv(tmp_path, ["Первый", "я" * (MAX_FIELD_CHARS + 1), "Третий"])
    assert '"' not in path.read_text(encoding="utf-8")  # the pandas fast path's kind of file
    raw = read_channel_file(path, "review_book", config)
    assert raw.frame["text"].tolist() == ["Первый", "Третий"]
    assert [r for r, _ in raw.unreadable] == [3]


def test_over_limit_row_is_quarantined_at_ingest_and_the_rest_accepted(tmp_path, config, db_url, registry):
    path = _csv(tmp_path, ["Первый отзыв", '"' + "ж" * (MAX_FIELD_CHARS + 10) + '"', "Третий отзыв"])
    with session_scope(db_url) as s:
        summary = ingest_file(s, path, "review_book", "2026Q1", config, registry=registry)
    assert summary.status == "ingested", summary.error
    assert (summary.received, summary.accepted, summary.quarantined) == (3, 2, 1)
    with session_scope(db_url) as s:
        q = s.execute(select(Quarantine)).scalars().one()
        assert q.source_row == 3 and "text" in q.reason and "ж" * 10 not in q.reason


def test_json_string_over_the_limit_quarantines_its_record(tmp_path, config):
    records = [
        {"id": "s1", "published_at": "2026-02-01", "text": "ok"},
        {"id": "s2", "published_at": "2026-02-01", "text": "x" * (MAX_FIELD_CHARS + 1)},
    ]
    path = tmp_path / "social_52.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    raw = read_channel_file(path, "social", config)
    assert raw.frame["text"].tolist() == ["ok"]
    assert [r for r, _ in raw.unreadable] == [2]
    assert "text" in raw.unreadable[0][1] and "1,048,576" in raw.unreadable[0][1]


def test_unclosed_quote_over_128_kib_still_rejects_the_file(tmp_path, config):
    rows = [ROW.format(text=f"Отзыв {i} " + "слово " * 30) for i in range(1000)]  # ~200 KiB of rows
    path = tmp_path / "review_book_52.csv"
    path.write_text("\n".join([HEADER, ROW.format(text='"Спасибо, всё быстро'), *rows]) + "\n", encoding="utf-8")
    with pytest.raises(IntakeError, match=r"line 2: .*unclosed quote"):
        read_channel_file(path, "review_book", config)


def test_thousand_line_rule_still_rejects_a_runaway_quote(tmp_path, config):
    # The swallowed lines do not look like rows (no delimiters): only the line count catches it.
    tail = "\n".join(f"строка {i}" for i in range(1_500))
    path = tmp_path / "review_book_52.csv"
    path.write_text(f"{HEADER}\n{ROW.format(text='ok')}\n{ROW.format(text=chr(34) + 'начало')}\n{tail}\n", "utf-8")
    with pytest.raises(IntakeError, match=r"line 3: a quoted field runs over .*unclosed quote"):
        read_channel_file(path, "review_book", config)


@pytest.mark.parametrize("length", [99, 100, 101, 150, 201, 500])
@pytest.mark.parametrize("before", [0, 1, 49, 50, 51])
def test_long_line_check_of_the_fast_path(length, before):
    from tasks.collect.fast_csv import has_line_over

    text = "a\n" * before + "b" * length + "\nc"
    assert has_line_over(text, 100) == (length > 100)
    assert has_line_over(text.rstrip("\nc"), 100) == (length > 100)


def test_unquoted_field_under_the_limit_is_read_by_the_fast_path(tmp_path, config):
    from tasks.collect.fast_csv import read_delimited_fast

    big = "слово " * 100_000  # 600,000 characters, no quotes
    path = _csv(tmp_path, ["Первый", big, "Третий"])
    text = path.read_text(encoding="utf-8")
    assert read_delimited_fast(text, ";", config.channels["review_book"]) is not None
    raw = read_channel_file(path, "review_book", config)
    assert raw.frame["text"].tolist() == ["Первый", big.strip(), "Третий"] and raw.unreadable == []
