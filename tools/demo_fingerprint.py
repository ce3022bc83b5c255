"""Fingerprint of a demo run: the application database's content, the register export
and the reports' text, as plain files that ``diff -r`` compares.

Used to show that a change of code layout changes no behaviour:

    make demo && .venv/bin/python tools/demo_fingerprint.py /tmp/before
    # ... the change ...
    make demo && .venv/bin/python tools/demo_fingerprint.py /tmp/after
    diff -r /tmp/before /tmp/after

Wall-clock columns (ingest time, history timestamps written at run time, lock
heartbeats) differ between two runs by nature and are left out; so is the PDF's
creation date. Everything else is compared: every row of every table, ordered by
its primary key.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import sys
from pathlib import Path

from pypdf import PdfReader

# Columns that hold the wall-clock time of the run, not a result of the input.
WALL_CLOCK = {
    "ingested_at",
    "created_at",
    "updated_at",
    "acquired_at",
    "heartbeat_at",
    "sent_at",
    "released_at",
    "evaluated_at",
    "attempted_at",
    "at",
}
# Headers of an e-mail that change with every run (when it was written, its id, MIME boundaries).
_RUN_HEADERS = re.compile(rb"^(Date|Message-ID|Message-Id): .*$", re.MULTILINE)
_BOUNDARY = re.compile(rb"={15}\d+==")


def dump_database(db: Path, out: Path) -> None:
    con = sqlite3.connect(db)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    for table in tables:
        if table in ("alembic_version", "cycle_lock"):
            continue
        cols = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')")]
        keep = [c for c in cols if c not in WALL_CLOCK]
        rows = con.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in keep)} FROM '{table}' ORDER BY rowid")
        with (out / f"db_{table}.jsonl").open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(keep, ensure_ascii=False) + "\n")
            for row in rows:
                fh.write(json.dumps(list(row), ensure_ascii=False, default=str) + "\n")


def dump_outputs(out_dir: Path, out: Path) -> None:
    for path in sorted(out_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(out_dir)).replace("/", "__")
        if "data_docs" in path.parts:  # GE Data Docs: file names and pages carry the run's time
            continue
        if path.suffix == ".eml":
            body = _BOUNDARY.sub(b"BOUNDARY", _RUN_HEADERS.sub(b"", path.read_bytes()))
            (out / f"out_{rel}.sha256").write_text(hashlib.sha256(body).hexdigest() + "\n")
        elif path.suffix == ".pdf":
            reader = PdfReader(path)
            text = "\n\f\n".join(page.extract_text() or "" for page in reader.pages)
            (out / f"out_{rel}.txt").write_text(text, encoding="utf-8")
        elif path.suffix in (".csv", ".json", ".md", ".txt"):
            (out / f"out_{rel}").write_bytes(path.read_bytes())
        elif path.suffix == ".xlsx":
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True)
            lines = [
                f"[{ws.title}]\n"
                + "\n".join(
                    json.dumps(list(r), ensure_ascii=False, default=str) for r in ws.iter_rows(values_only=True)
                )
                for ws in wb.worksheets
            ]
            (out / f"out_{rel}.txt").write_text("\n".join(lines), encoding="utf-8")
        else:
            (out / f"out_{rel}.sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder to write the fingerprint into (created)")
    parser.add_argument("--db", type=Path, default=Path("var/cxloop.db"))
    parser.add_argument("--out", type=Path, default=Path("out"), help="the demo's output folder (reports, register)")
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    dump_database(args.db, args.dest)
    dump_outputs(args.out, args.dest)
    print(f"fingerprint written to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
