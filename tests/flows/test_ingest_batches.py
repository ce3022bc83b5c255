"""flows.ingest.batches: files cut into batches by count and by bytes, in their order."""

from __future__ import annotations

import flows.ingest
from flows.ingest import batches
from tasks.collect.discovery import FileInput


def _files(tmp_path, sizes):
    items = []
    for k, size in enumerate(sizes):
        path = tmp_path / f"f{k:02d}.csv"
        path.write_bytes(b"x" * size)
        items.append(FileInput(path, "review_book", "2026Q3"))
    return items


def test_batches_hold_at_most_so_many_files_and_bytes_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(flows.ingest, "BATCH_FILES", 3)
    monkeypatch.setattr(flows.ingest, "BATCH_BYTES", 100)
    items = _files(tmp_path, [10, 10, 10, 10, 60, 50, 200, 5, 5])
    got = [[item.path.name for item in batch] for batch in batches(items)]
    assert got == [
        ["f00.csv", "f01.csv", "f02.csv"],  # three files: full by count
        ["f03.csv", "f04.csv"],  # 70 bytes; the next 50 would pass 100
        ["f05.csv"],
        ["f06.csv"],  # larger than a batch: on its own
        ["f07.csv", "f08.csv"],
    ]
    assert [i for b in batches(items) for i in b] == items


def test_a_file_that_cannot_be_sized_still_gets_a_batch(tmp_path):
    missing = FileInput(tmp_path / "gone.csv", "review_book", "2026Q3")
    items = [*_files(tmp_path, [10]), missing]
    assert [i for b in batches(items) for i in b] == items
    assert batches([]) == []
