"""``cxloop ingest`` and ``cxloop quarantine``: exit codes, --json lines, clear errors, no tracebacks."""

import csv
import json

from typer.testing import CliRunner

from cxloop.cli import app

runner = CliRunner()

GOOD = (
    "call_id,call_date,office_code,client_type,rating,comment\n"
    "c1,2026-02-01,52-01,citizen,5,Спасибо\n"
    "c2,2026-02-02,52-02,employer,4,\n"
)
WITH_BAD_ROWS = (
    "Дата;Код ЦЗН;Категория заявителя;Текст отзыва\n"
    "14.03.2026;52-99;гражданин;Очередь\n"
    "15.03.2026;52-01;гражданин;Хорошо\n"
)


def _drop(tmp_path, garbage=True):
    folder = tmp_path / "2026Q1"
    folder.mkdir()
    (folder / "contact_center_52.csv").write_text(GOOD, encoding="utf-8")
    (folder / "review_book_52.csv").write_text(WITH_BAD_ROWS, encoding="utf-8")
    if garbage:
        (folder / "pos_broken.json").write_text('{"id": 1, "text": "обрыв', encoding="utf-8")
    return folder


def test_json_lines_and_exit_2_when_a_file_is_rejected(tmp_path, env, prefect_harness):
    folder = _drop(tmp_path)
    result = runner.invoke(app, ["ingest", str(folder), "--json"])
    assert result.exit_code == 2, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]  # every stdout line is one JSON object
    by_file = {r["file"]: r for r in lines}
    broken = by_file.pop(str(folder / "pos_broken.json"))
    assert broken["rejected"] is True and "pos_broken.json" in broken["error"] and broken["channel"] == "pos"
    assert by_file == {
        str(folder / "contact_center_52.csv"): {
            "file": str(folder / "contact_center_52.csv"),
            "channel": "contact_center",
            "received": 2,
            "accepted": 2,
            "quarantined": 0,
            "duplicates": 0,
            "rejected": False,
            "error": None,
        },
        str(folder / "review_book_52.csv"): {
            "file": str(folder / "review_book_52.csv"),
            "channel": "review_book",
            "received": 2,
            "accepted": 1,
            "quarantined": 1,
            "duplicates": 0,
            "rejected": False,
            "error": None,
        },
    }
    assert all(
        list(r) == ["file", "channel", "received", "accepted", "quarantined", "duplicates", "rejected", "error"]
        for r in lines
    )

    # the file again, named directly, with quarantined rows only: exit 0, every row a duplicate
    again = runner.invoke(app, ["ingest", str(folder / "review_book_52.csv"), "--channel", "review_book", "--json"])
    assert again.exit_code == 0, again.output
    [rec] = [json.loads(line) for line in again.stdout.splitlines()]
    assert (rec["received"], rec["duplicates"], rec["rejected"]) == (2, 2, False)

    listed = runner.invoke(app, ["quarantine", "list", "--quarter", "2026Q1"], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    text = " ".join(listed.output.split())
    assert "review_book_52.csv" in text and "52-99" in text and "1 of 1 quarantined rows shown" in text

    out = tmp_path / "q.csv"
    exported = runner.invoke(app, ["quarantine", "export", "--csv", str(out), "--channel", "review_book"])
    assert exported.exit_code == 0, exported.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [(r["row"], r["field"]) for r in rows] == [("2", "office_code")]

    released = runner.invoke(app, ["quarantine", "release", "--file", str(folder / "review_book_52.csv")])
    assert released.exit_code == 0, released.output
    assert "released" in released.output and "validated again" in released.output


def test_processed_files_exit_0_with_a_table(tmp_path, env, prefect_harness):
    folder = _drop(tmp_path, garbage=False)
    result = runner.invoke(app, ["ingest", str(folder / "*.csv"), "--quarter", "2026Q1"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "rows in 4 = accepted 3 + quarantined 1 + duplicates 0 (2 files, 0 rejected)" in text
    assert "data_docs/index.html" in text


def test_bad_input_is_refused_without_traceback(tmp_path):
    cases = [
        (["ingest", str(tmp_path / "missing.csv")], "missing.csv: no such file or folder"),
        (["ingest", str(tmp_path / "*.xlsx")], "no file matches"),
        (["ingest", str(tmp_path / "[red]x.csv")], "[red]x.csv: no file matches"),  # shown as typed, not as markup
        (["ingest", str(tmp_path), "--channel", "fax"], "unknown channel 'fax'"),
        (["ingest", str(tmp_path), "--quarter", "2026Q5"], "2026Q3"),
        (["quarantine", "release"], None),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), (args, result.exception)
        if message:
            assert message in " ".join(result.output.split()), (args, result.output)
        assert result.stdout.strip() == "", (args, result.stdout)  # errors go to stderr: stdout stays clean for --json
