"""Small file helpers shared by the stages."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of a file's content, read in blocks (files can be large exports)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fix_xlsx_timestamps(path: Path | str, fixed: datetime) -> None:
    """Rewrite an XLSX written by openpyxl with fixed member timestamps and a fixed
    'modified' property (openpyxl stamps the wall clock): the same content gives the
    same file, byte for byte."""
    path = Path(path)
    stamp = fixed.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp + rb"\g<2>", data
                )
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            zout.writestr(member, data)
    path.write_bytes(out.getvalue())


def save_xlsx(workbook: Any, path: Path | str, fixed: datetime, author: str) -> Path:
    """Save an openpyxl ``workbook`` so that the same content gives the same file: document
    properties (author, title = the active sheet's, created/modified = ``fixed``) set, the
    folder made, then :func:`fix_xlsx_timestamps`. Returns the path."""
    workbook.properties.creator = author
    workbook.properties.lastModifiedBy = author
    workbook.properties.title = workbook.active.title
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    fix_xlsx_timestamps(path, fixed)
    return path
