"""Readers on real bytes: encodings detected from content, delimiters, dates, headers."""

import json
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from tasks.collect.decoding import IntakeError, decode_bytes
from tasks.collect.discovery import channel_of
from tasks.collect.readers import read_channel_file
from tasks.collect.staging import parse_date, parse_number, stage_rows

HEADER_RU = "Дата;Код ЦЗН;Категория заявителя;Текст отзыва;Оценка;Контакт"
ROWS_RU = [
    "12.03.2026;52-01;гражданин;Долго ждала в очереди;2;+7 912 345-67-89",
    "14.03.26;52-02;работодатель;Кандидаты не приходят;5 звёзд;",
]


def _write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8", "utf-8-sig", "utf-16"])
@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_csv_encodings_and_delimiters(tmp_path, config, encoding, delimiter):
    text = "\n".join(line.replace(";", delimiter) for line in [HEADER_RU, *ROWS_RU]) + "\n"
    raw = read_channel_file(_write(tmp_path / "review_book_x.csv", text, encoding), "review_book", config)
    assert raw.frame["text"].tolist() == ["Долго ждала в очереди", "Кандидаты не приходят"]
    assert raw.frame["source_row"].tolist() == [2, 3]
    assert "contact" not in raw.frame.columns  # personal data column never read


def test_cp1251_is_detected_not_guessed_from_extension(tmp_path):
    data = "Текст отзыва;Дата\nОчередь;01.02.2026\n".encode("cp1251")
    assert "Очередь" in decode_bytes(data, tmp_path / "x.txt")


def test_blank_and_repeated_header_rows_are_counted_not_lost(tmp_path, config):
    text = "\n".join([HEADER_RU, ROWS_RU[0], "", ";;;;;", HEADER_RU, ROWS_RU[1]]) + "\n"
    raw = read_channel_file(_write(tmp_path / "review_book_x.csv", text, "utf-8"), "review_book", config)
    assert len(raw.frame) == 2 and raw.skipped_blank == 2 and raw.skipped_header == 1
    assert raw.frame["source_row"].tolist() == [2, 6]


def test_missing_required_column_names_file(tmp_path, config):
    path = _write(tmp_path / "review_book_x.csv", "Дата;Текст отзыва\n01.02.2026;x\n", "utf-8")
    with pytest.raises(IntakeError, match="review_book_x.csv.*office_code"):
        read_channel_file(path, "review_book", config)


def test_xlsx_with_merged_title_row_and_excel_dates(tmp_path, config):
    wb = Workbook()
    ws = wb.active
    ws.append(["Книга отзывов ЦЗН, 1 квартал"])  # a title row above the header
    ws.append(["Дата", "Код ЦЗН", "Категория заявителя", "Текст отзыва", "Оценка", None, None])
    ws.append([date(2026, 2, 3), "52-01", "гражданин", "Нет пандуса", 3, None, None])
    ws.append([46100, "52-02", "гражданин", "Всё понятно", "5 звёзд", None, None])
    wb.save(tmp_path / "review_book_52.xlsx")
    raw = read_channel_file(tmp_path / "review_book_52.xlsx", "review_book", config)
    staged = stage_rows(raw, {"52-01": "52", "52-02": "52"})
    assert staged["received_at"].tolist() == [date(2026, 2, 3), date(2026, 3, 19)]
    assert staged["rating"].tolist() == [3.0, 5.0]
    assert staged["source_row"].tolist() == [3, 4]


def test_jsonl_broken_line_is_kept_as_unreadable(tmp_path, config):
    lines = [
        json.dumps(
            {"id": "s1", "published_at": "2026-02-01", "text": "ok", "author": "Иван Петров"}, ensure_ascii=False
        ),
        "{broken",
        "",
    ]
    path = tmp_path / "social_52.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    raw = read_channel_file(path, "social", config)
    assert len(raw.frame) == 1 and raw.unreadable == [
        (2, "line is not valid JSON (Expecting property name enclosed in double quotes)")
    ]
    assert raw.received == 2
    assert "author" not in raw.frame.columns


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026-03-05", date(2026, 3, 5)),
        ("05.03.2026", date(2026, 3, 5)),
        ("05.03.26", date(2026, 3, 5)),
        ("2026-03-05T10:11:12+03:00", date(2026, 3, 5)),
        (46086, date(2026, 3, 5)),
        ("46086", date(2026, 3, 5)),
        ("32.13.2026", None),
        ("", None),
        (None, None),
        ("вчера", None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value,expected", [("5 звёзд", 5.0), ("4,5", 4.5), (3, 3.0), ("отлично", None), (None, None)])
def test_parse_number(value, expected):
    assert parse_number(value) == expected


def test_channel_of_file_names():
    assert channel_of(Path("interview_followup_10.csv")) == "interview_followup"
    assert channel_of(Path("star_survey_52.xlsx")) == "star_survey"
    assert channel_of(Path("unknown_feed.csv")) is None
