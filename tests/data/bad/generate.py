"""Writes the bad-file corpus next to this script (deterministic: same bytes on every run).

    .venv/bin/python tests/data/bad/generate.py

The files themselves are committed; this script only documents how each was made
and regenerates them. Expected outcomes are hand-written in ``expected.yaml``
(tests/tasks/validate/test_bad_files.py checks them).
"""

from __future__ import annotations

import io
import json
import random
import re
import struct
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
ITEMS = [f"{r}{i}" for r in "FUEPC" for i in range(1, 5)]
STAR_EN = ["respondent_id", "survey_date", "office_code", "client_type", *ITEMS, "comment"]
STAR_RU = ["Номер анкеты", "Дата анкеты", "Код ЦЗН", "Тип клиента", *ITEMS, "Комментарий"]
REVIEW_RU = ["Дата", "Код ЦЗН", "Категория заявителя", "Текст отзыва", "Оценка", "Контакт"]
CC = ["call_id", "call_date", "office_code", "client_type", "rating", "comment"]
FOLLOWUP = ["response_id", "date", "office_code", "stage", "q_useful", "q_clear_next_steps", "q_confident", "comment"]
FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def write(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def csv_text(rows: list[list[str]], sep: str = ";", eol: str = "\n") -> str:
    return eol.join(sep.join(r) for r in rows) + eol


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so the bytes do not depend on the clock."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), src.read(info.filename), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    wb.properties.created = wb.properties.modified = datetime(2026, 1, 1)
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return normalise_zip(buf.getvalue())


def replace_member(data: bytes, name: str, new: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = new if info.filename == name else src.read(info.filename)
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def declare_sizes(data: bytes, name: str, compressed: int, uncompressed: int) -> bytes:
    """Patch the sizes a member *declares* (local header and central directory):
    the archive claims far more than it holds, and nothing is ever inflated."""
    buf = bytearray(data)
    raw_name = name.encode()
    pos = 0
    while (pos := buf.find(b"PK\x01\x02", pos)) != -1:  # central directory entries
        n = struct.unpack_from("<H", buf, pos + 28)[0]
        if bytes(buf[pos + 46 : pos + 46 + n]) == raw_name:
            struct.pack_into("<II", buf, pos + 20, compressed, uncompressed)
            local = struct.unpack_from("<I", buf, pos + 42)[0]
            struct.pack_into("<II", buf, local + 18, compressed, uncompressed)
        pos += 4
    return bytes(buf)


def star_row(rid: str, day: str, office: str, ctype: str, answer: str = "4", comment: str = "") -> list[str]:
    return [rid, day, office, ctype, *([answer] * 20), comment]


def main() -> None:
    rng = random.Random(3)

    # ---------------------------------------------------------------- whole-file failures
    write("review_book_empty.csv", b"")
    write("contact_center_whitespace.csv", b"  \r\n\n\t \n   \n")
    write("star_survey_bom_only.csv", b"\xef\xbb\xbf")
    write("interview_followup_header_only.csv", csv_text([FOLLOWUP, [""] * 8], sep=",").encode())
    write("review_book_header_only.xlsx", xlsx([REVIEW_RU, [None] * 6]))
    write("pos_empty_array.json", b"[]\n")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(300))
    write("contact_center_screenshot.csv", png)
    write("social_garbage.jsonl", bytes(rng.randrange(256) for _ in range(2048)))
    review = xlsx([REVIEW_RU, ["12.03.2026", "52-01", "гражданин", "Долго ждала", 2, None]] * 40)
    write("star_survey_truncated.xlsx", review[: len(review) // 2])
    write(
        "review_book_not_zip.xlsx",
        csv_text([REVIEW_RU[:5], ["12.03.2026", "52-01", "гражданин", "Очередь", "2"]]).encode("cp1251"),
    )
    write("review_book_password.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"\x00" * 512)
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("[Content_Types].xml", FIXED_TIME), "<Types/>")
        z.writestr(zipfile.ZipInfo("word/document.xml", FIXED_TIME), "<w:document/>")
    write("star_survey_docx_renamed.xlsx", docx.getvalue())
    # A real zip bomb, scaled down: 12 MB of one repeated row inflate from ~12 KB (ratio ~1000).
    survey = xlsx([STAR_EN, star_row("r1", "2026-02-01", "52-01", "citizen")])
    bomb = (
        b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + b" " * 12_000_000
        + b"</sheetData></worksheet>"
    )
    write("star_survey_zip_bomb.xlsx", replace_member(survey, "xl/worksheets/sheet1.xml", bomb))
    # Declares 300 MB unpacked at a plausible ratio (30x): refused on the declared size alone.
    write("star_survey_oversized.xlsx", declare_sizes(survey, "xl/worksheets/sheet1.xml", 10_000_000, 300_000_000))
    # A sheet whose dimension claims 3,000,000 rows (Excel stops at 1,048,576).
    small = xlsx([REVIEW_RU, ["12.03.2026", "52-01", "гражданин", "Очередь", 2, None]])
    with zipfile.ZipFile(io.BytesIO(small)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    sheet = re.sub(rb'<dimension ref="[A-Z0-9:]+" ?/>', b'<dimension ref="A1:F3000000"/>', sheet)
    assert b"A1:F3000000" in sheet
    write("review_book_too_many_rows.xlsx", replace_member(small, "xl/worksheets/sheet1.xml", sheet))
    write(
        "contact_center_unknown_layout.csv",
        csv_text([["Номер", "Когда", "Кто", "Что"], ["1", "2026-02-01", "x", "y"]]).encode(),
    )
    star_no_office = [c for c in STAR_EN if c != "office_code"]
    write(
        "star_survey_missing_office.csv",
        csv_text([star_no_office, ["r1", "2026-02-01", "citizen", *["4"] * 20, ""]], sep=",").encode(),
    )
    write(
        "review_book_bom_but_cp1251.csv",
        b"\xef\xbb\xbf"
        + csv_text([REVIEW_RU[:5], ["12.03.2026", "52-01", "гражданин", "Очередь", "2"]]).encode("cp1251"),
    )
    write(
        "interview_followup_utf16_cut.csv",
        csv_text([FOLLOWUP, ["i1", "2026-02-01", "52-01", "job_search", "4", "4", "4", "ok"]], sep=",").encode(
            "utf-16"
        )[:-1],
    )
    write("pos_scalar.json", json.dumps("export failed: timeout").encode())
    write("pos_html_error_page.json", b"<html><body><h1>502 Bad Gateway</h1></body></html>\n")
    write("pos_error_object.json", json.dumps({"status": "error", "message": "no access"}).encode())
    write("pos_deep_nesting.json", b"[" * 6_000 + b"]" * 6_000)
    write("social_csv_renamed.jsonl", "id,published_at,text\ns1,2026-02-01,Очередь\n".encode())
    unclosed = [
        CC,
        ["c1", "2026-02-01", "52-01", "citizen", "5", '"Спасибо, всё быстро'],
        ["c2", "2026-02-02", "52-01", "citizen", "4", "нормально"],
        ["c3", "2026-02-03", "52-02", "employer", "3", ""],
    ]
    write("contact_center_unclosed_quote.csv", csv_text(unclosed, sep=",").encode())

    # ---------------------------------------------------------------- awkward but readable
    write(
        "review_book_nul_bytes.csv",
        csv_text(
            [
                REVIEW_RU,
                ["12.03.2026", "52-01", "гражданин", "Очередь\x00\x00 в регистратуру", "2", ""],
                ["13.03.2026", "52-02", "гражданин", "Вежливый\x00 консультант", "5", ""],
                ["14.03.2026", "52-03", "работодатель", "Кандидатов не прислали", "1", ""],
            ]
        ).encode(),
    )
    cc = [
        CC,
        ["m1", "2026-02-01", "52-01", "гражданин", "5", "быстро"],
        ["m2", "02.02.2026", "52-02", "citizen", "4 из 5", ""],
        ["m3", "03.02.26", "66-01", "employer", "2", "долго ждал"],
        ["m4", "2026-02-04", "10-01", "citizen", "3", ""],
    ]
    lines = [",".join(r) for r in cc]
    write(
        "contact_center_mixed_line_endings.csv",
        (lines[0] + "\r\n" + lines[1] + "\r" + lines[2] + "\n" + lines[3] + "\r\n" + lines[4]).encode(),
    )
    ragged = [
        FOLLOWUP,
        [
            "i1",
            "2026-02-01",
            "52-01",
            "periodic_meetings",
            "4",
            "5",
            "4",
            "ok",
            "лишнее",
            "ещё",
        ],  # extra cells: ignored
        ["i2", "2026-02-02", "52-02", "periodic_meetings", "3"],  # fewer cells: the rest is empty (no answer)
        ["i3", "2026-02-03"],  # no office code: quarantined
        ["i4", "2026-02-04", "66-01", "registration", "5", "5", "5", "", "", "", "", ""],
    ]  # unknown stage: warning
    write("interview_followup_ragged.csv", csv_text(ragged, sep=",").encode())
    pos_items = [
        {
            "id": "p1",
            "created_at": "2026-02-01T10:00:00+03:00",
            "region_code": "52",
            "office_code": "52-01",
            "category": "Очередь",
            "text": "Долго ждали",
            "status": "new",
        },
        42,
        "строка",
        None,
        {"id": "p2", "created_at": "2026-02-02", "region_code": "66", "text": "Спасибо за помощь", "status": "closed"},
        [1, 2],
    ]
    write("pos_mixed_elements.json", json.dumps(pos_items, ensure_ascii=False, indent=1).encode())
    social_lines = [
        json.dumps(
            {
                "id": "s1",
                "platform": "vk",
                "published_at": "2026-02-01",
                "office_code": "52-01",
                "author": "Иван Петров",
                "text": "Всё понравилось",
                "stars": 5,
            },
            ensure_ascii=False,
        ),
        "{not json",
        json.dumps(
            {"id": "s2", "published_at": "2026-02-02", "office_code": "52-02", "text": {"ru": "вложенный текст"}},
            ensure_ascii=False,
        ),
        "",
        json.dumps(["s3", "2026-02-03"]),
        json.dumps(
            {
                "id": "s4",
                "published_at": "2026-02-04",
                "office_code": "66-02",
                "text": "Строка\u2028с разделителем строк",
                "stars": "4 звезды",
            },
            ensure_ascii=False,
        ),
        json.dumps(
            {
                "id": 123456789012345678901234567890,
                "published_at": "2026-02-05",
                "office_code": "10-01",
                "text": "Огромный id",
                "stars": 99,
            }
        ),
    ]
    write("social_broken_lines.jsonl", ("\n".join(social_lines) + "\n").encode())
    write(
        "star_survey_xlsx_named_csv.csv",
        xlsx(
            [
                STAR_RU,
                star_row("a1", "2026-02-01", "52-01", "гражданин"),
                star_row("a2", "2026-02-02", "52-02", "работодатель", "5"),
            ]
        ),
    )
    messy = [
        ["Анкета «Звезда клиентоцентричности»"] + [""] * 24,
        STAR_RU + ["", ""],
        star_row("b1", "01.02.2026", "52-01", "гражданин", "не знаю") + ["", ""],
        [""] * 27,
        star_row("b2", "02.02.26", "52-01", "работодатель", "5") + ["", ""],
        STAR_RU + ["", ""],  # the header again (two exports pasted together)
        star_row("b3", "46056", "52-02", "Гражданин ", "3") + ["", ""],  # Excel serial date, trailing space
        star_row("b4", "2026-02-04", "52-02", "гражданин", "7") + ["", ""],  # answer out of scale: quarantined
        star_row("b1", "01.02.2026", "52-01", "гражданин", "не знаю") + ["", ""],  # same respondent again: duplicate
        star_row("b5", "2026-02-05", "52-03", "пенсионер", "4") + ["", ""],
    ]  # unknown client type: quarantined
    write("star_survey_messy_cp1251.csv", csv_text(messy).encode("cp1251"))
    utf16 = [
        REVIEW_RU,
        ["12.03.2026", "52-01", "гражданин", "Нет пандуса у входа", "5 звёзд", "+7 912 345-67-89"],
        ["13.03.2026", "52-99", "гражданин", "Неизвестный офис", "4", ""],
        ["14.03.2026", "52-02", "работодатель", "Хорошие кандидаты", "отлично", ""],
    ]
    write("review_book_utf16_tab.txt", csv_text(utf16, sep="\t", eol="\r\n").encode("utf-16"))
    multi = [
        CC,
        ["k1", "2026-02-01", "52-01", "citizen", "5", '"Всё хорошо,\nспасибо.\nОчень вежливо"'],
        ["k2", "2026-02-02", "52-01", "citizen", "2", '"Долго, ""очень"" долго"'],
        ["k3", "2026-02-03", "52-04", "employer", "пять", ""],
    ]  # rating as a word: not a number, quarantined
    write("contact_center_multiline_comment.csv", csv_text(multi, sep=",").encode())
    wrapped = {
        "total": 3,
        "items": [
            {"id": "w1", "created_at": "2026-02-01", "region_code": "10", "text": "Непонятно, куда идти"},
            {"id": "w2", "created_at": "2026-02-01", "region_code": "99", "text": "Регион не из реестра"},
            {"id": "w3", "created_at": "2026-02-03", "region_code": "66", "office_code": "66-03", "text": ""},
        ],
    }
    write("pos_wrapped_items.json", json.dumps(wrapped, ensure_ascii=False).encode("utf-8-sig"))
    jl = [
        json.dumps(
            {"id": f"j{i}", "published_at": f"2026-02-0{i}", "text": f"Отзыв {i}", "office_code": "52-01"},
            ensure_ascii=False,
        )
        for i in range(1, 4)
    ]
    write("social_lines_named_json.json", ("\n".join(jl) + "\n").encode())
    sparse = xlsx(
        [
            ["Книга отзывов, 1 квартал 2026"],
            [],
            REVIEW_RU,
            [],
            ["12.03.2026", " 52-01 ", "гражданин", "  Холодно в зале  ", 3, "Контакт: Иванова"],
            [],
            [],
            ["13.03.2026", "52-05", "гражданин", "Спасибо", "5 звёзд", None],
            ["13.03.2026", "52-05", "гражданин", "Спасибо", "5 звёзд", None],
        ]
    )
    with zipfile.ZipFile(io.BytesIO(sparse)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    sheet = re.sub(
        rb'<dimension ref="[A-Z0-9:]+" ?/>', b'<dimension ref="A1:XFD9"/>', sheet
    )  # a width Excel writes for formatted whole rows
    assert b"A1:XFD9" in sheet
    write("review_book_sparse_wide.xlsx", replace_member(sparse, "xl/worksheets/sheet1.xml", sheet))
    write(
        "interview_followup_tabs_crlf_bom.tsv",
        (
            "\ufeff"
            + csv_text(
                [
                    FOLLOWUP,
                    ["t1", "2026-03-01", "10-02", "periodic_meetings", "4", "не знаю", "5", "ok"],
                    ["t2", "2026-03-02", "10-02", "stage?", "4", "4", "4", ""],
                ],
                sep="\t",
                eol="\r\n",
            )
        ).encode("utf-8"),
    )


if __name__ == "__main__":
    main()
