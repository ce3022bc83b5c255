"""Collect stage (loop step 1), which files: the files, folders and globs an ingest run is given
(a quarter's drop folder, usually) expanded into the run's files, each with its channel,
told by its name, and the quarter it is accounted to. The readers take it from there.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cxloop.domain import CHANNELS
from cxloop.quarters import Quarter

SUPPORTED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".json", ".jsonl", ".ndjson")
_GLOB_CHARS = "*?["


class InputError(ValueError):
    """Bad input for an ingest run (missing path, unknown channel, bad quarter): one clear message."""


def channel_of(path: Path) -> str | None:
    """The channel a file belongs to, from its name (``<channel>...``), longest id first."""
    name = path.name.lower()
    for channel in sorted(CHANNELS, key=len, reverse=True):
        if name.startswith(channel):
            return channel
    return None


@dataclass(frozen=True)
class FileInput:
    path: Path
    channel: str | None  # None: the name does not say, and no channel was given
    quarter: str


def quarter_of_folder(path: Path) -> str | None:
    """The quarter a drop folder is named after (``.../2026Q3/file.csv``), nearest folder first."""
    for parent in Path(path).resolve().parents:
        try:
            return str(Quarter.parse(parent.name))
        except ValueError:
            continue
    return None


def _wanted(path: Path) -> bool:
    """Files a folder or glob contributes: the readable kinds, no hidden or Office lock files."""
    return path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith((".", "~$"))


def _files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if _wanted(p))


def resolve_inputs(
    paths: Sequence[str] | str, channel: str | None = None, quarter: str | None = None, today=None
) -> list[FileInput]:
    """Expand files, folders and globs into the run's files, in a stable order, each once.

    A named file is taken whatever its extension (the reader says if it cannot read
    it); folders and globs contribute the readable kinds only. ``quarter`` default:
    the folder a file sits in when it is named like ``2026Q3``, else the last
    complete quarter. Raises :class:`InputError` for a missing path, an unknown
    channel or a malformed quarter.
    """
    if isinstance(paths, (str, Path)):
        paths = [str(paths)]
    if not paths:
        raise InputError("no path given: name files, folders or globs to ingest")
    if channel is not None and channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
    try:
        fixed_quarter = str(Quarter.parse(quarter)) if quarter else None
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    fallback = str(Quarter.last_complete(today))
    found: list[Path] = []
    for given in paths:
        given = str(given)
        path = Path(given)
        if any(c in given for c in _GLOB_CHARS) and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(given, recursive=True))
            if not matches:
                raise InputError(f"{given}: no file matches this pattern")
            for m in matches:
                found.extend(_files_in(m) if m.is_dir() else [m] if _wanted(m) else [])
        elif path.is_dir():
            found.extend(_files_in(path))
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{given}: no such file or folder")
    seen: set[Path] = set()
    out = []
    for path in found:
        key = path.resolve()
        if key in seen:  # the same file named twice (a folder and a glob over it) is ingested once
            continue
        seen.add(key)
        out.append(FileInput(path, channel or channel_of(path), fixed_quarter or quarter_of_folder(path) or fallback))
    return out
