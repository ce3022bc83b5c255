"""Layout check of a rendered report: nothing drawn outside the page's content area.

    python -m tools.layout_check out/reports/2026Q3/*.pdf     # one line per problem; exit 1 if any

A manager stumbles on a table whose last column runs off the page, a chart label cut
at the edge, a heading left alone at the foot of a page. ``check_pdf`` reads a PDF
with pdfplumber (the position of every character, rectangle, line, curve and image)
and reports:

* ``outside``: a word, or a box (a table cell's background or rule, a chart's line or
  image) that reaches outside the content area — the page size minus the margins of the
  stylesheet's ``@page`` rule (``templates/report.css``; ``page_area`` reads it). What
  lies wholly inside the top or bottom margin, between the left and right margins, is the
  running header and the page footer (CSS margin boxes) and is allowed there.
* ``overlap``: two words printed over each other (a chart label on another, a table
  heading run into the next column), or a word over a chart's point marker.
* ``orphan_heading``: a heading (bold text at least ``HEADING_MIN_PT`` tall, the size of
  the stylesheet's h3) with nothing under it on its page but small print (a note): no text of
  body size, no table, no chart — what it heads starts the next page.

Each finding names its page (1-based), what it is, its text and its box in points from
the page's top left. A dev tool (pdfplumber is a dev dependency); the tests run it on
every demo report in ru, en and fi (tests/tasks/reports/test_layout_check.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pdfplumber

from cxloop.paths import TEMPLATES_DIR

#: Points per unit of the CSS lengths an ``@page`` rule may use.
_PT_PER = {"mm": 72 / 25.4, "cm": 72 / 2.54, "in": 72.0, "pt": 1.0, "px": 0.75, "pc": 12.0}
#: Named page sizes (portrait, points).
_PAGE_SIZES = {
    "a4": (595.2756, 841.8898),
    "a3": (841.8898, 1190.5512),
    "a5": (419.5276, 595.2756),
    "letter": (612, 792),
}
#: Text at least this tall (pt) is a heading: h1 18, h2 13, h3 10.5 in report.css; body text is 9 and less.
HEADING_MIN_PT = 10.4
#: Text smaller than this (pt) is small print — a note under a heading or table (7.5 in report.css) — not content.
SMALL_PRINT_PT = 7.9
#: How far (pt) a mark may reach past the content edge before it counts: rounding, anti-aliasing.
TOLERANCE_PT = 0.75
#: How far (pt) two characters' boxes may share across before they count as printed over each other.
OVERLAP_PT = 1.0


@dataclass(frozen=True)
class PageArea:
    """A page and its content area, in points: the page size and the four margins (CSS order)."""

    width: float
    height: float
    top: float
    right: float
    bottom: float
    left: float

    @property
    def content(self) -> tuple[float, float, float, float]:
        """The content area as (x0, top, x1, bottom), measured from the page's top left."""
        return (self.left, self.top, self.width - self.right, self.height - self.bottom)

    def in_margin_box(self, box: tuple[float, float, float, float]) -> bool:
        """Whether ``box`` lies wholly in the top or bottom margin, between the side margins
        (where the running header and the page counter are drawn)."""
        x0, top, x1, bottom = box
        if x0 < self.left - TOLERANCE_PT or x1 > self.width - self.right + TOLERANCE_PT:
            return False
        return bottom <= self.top + TOLERANCE_PT or top >= self.height - self.bottom - TOLERANCE_PT


@dataclass(frozen=True)
class Finding:
    """One layout problem: its page (1-based), kind, what it is, its text and its box (pt)."""

    page: int
    kind: str  # "outside", "overlap" or "orphan_heading"
    what: str  # "text", "rect", "line", "curve", "image" ("text" for a heading)
    text: str
    box: tuple[float, float, float, float]  # x0, top, x1, bottom from the page's top left

    def __str__(self) -> str:
        x0, top, x1, bottom = self.box
        where = f"x {x0:.1f}–{x1:.1f}, y {top:.1f}–{bottom:.1f} pt"
        label = {
            "outside": "outside the content area",
            "overlap": "printed over each other",
            "orphan_heading": "heading alone at the foot of the page",
        }
        return f"page {self.page}: {self.what} {self.text!r} {label.get(self.kind, self.kind)} ({where})"


def _length(token: str) -> float:
    m = re.fullmatch(r"(-?[\d.]+)([a-z]*)", token.strip().lower())
    if not m:
        raise ValueError(f"@page: cannot read the length {token!r}")
    number, unit = float(m.group(1)), m.group(2) or "px"
    if unit not in _PT_PER:
        raise ValueError(f"@page: unit {unit!r} of {token!r} is not supported")
    return number * _PT_PER[unit]


def page_area(css: str | None = None) -> PageArea:
    """The page and its margins from the first ``@page`` rule of ``css`` (default: the
    report's stylesheet, ``templates/report.css``): ``size`` (a name such as A4, optionally
    ``landscape``, or two lengths) and ``margin`` (one to four lengths, CSS order)."""
    if css is None:
        css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    m = re.search(r"@page\s*\{", css)
    if not m:
        raise ValueError("no @page rule in the stylesheet")
    # The rule's own declarations: its text up to the matching brace, nested margin boxes removed.
    depth, i = 1, m.end()
    while depth and i < len(css):
        depth += {"{": 1, "}": -1}.get(css[i], 0)
        i += 1
    body = re.sub(r"@[\w-]+\s*\{[^{}]*\}", "", css[m.end() : i - 1])
    decls = {k.strip().lower(): v.strip() for k, _, v in (d.partition(":") for d in body.split(";")) if v.strip()}
    width, height = _PAGE_SIZES["a4"]
    size = decls.get("size", "").lower().split()
    if size:
        if size[0] in _PAGE_SIZES:
            width, height = _PAGE_SIZES[size[0]]
            if "landscape" in size[1:]:
                width, height = height, width
        elif len(size) == 2:
            width, height = _length(size[0]), _length(size[1])
        elif size[0] == "landscape":
            width, height = height, width
    margins = [_length(t) for t in decls.get("margin", "0").split()]
    top, right, bottom, left = {
        1: lambda m: (m[0], m[0], m[0], m[0]),
        2: lambda m: (m[0], m[1], m[0], m[1]),
        3: lambda m: (m[0], m[1], m[2], m[1]),
        4: lambda m: tuple(m),
    }[len(margins)](margins)
    return PageArea(width, height, top, right, bottom, left)


def _outside(box: tuple[float, float, float, float], area: PageArea) -> bool:
    x0, top, x1, bottom = area.content
    return (
        box[0] < x0 - TOLERANCE_PT
        or box[1] < top - TOLERANCE_PT
        or box[2] > x1 + TOLERANCE_PT
        or box[3] > bottom + TOLERANCE_PT
    )


def _box(obj: dict) -> tuple[float, float, float, float]:
    return (float(obj["x0"]), float(obj["top"]), float(obj["x1"]), float(obj["bottom"]))


def _lines(words: Sequence[dict]) -> list[dict]:
    """Words joined into text lines: the same baseline (within 1 pt) and size, in reading order."""
    lines: list[dict] = []
    for w in sorted(words, key=lambda w: (round(float(w["bottom"])), float(w["x0"]))):
        last = lines[-1] if lines else None
        if (
            last is not None
            and abs(float(w["bottom"]) - last["bottom"]) <= 1.0
            and abs(float(w["size"]) - last["size"]) < 0.5
        ):
            last["text"] += " " + w["text"]
            last["x0"], last["x1"] = min(last["x0"], float(w["x0"])), max(last["x1"], float(w["x1"]))
            last["top"] = min(last["top"], float(w["top"]))
            last["heading"] = last["heading"] and _is_heading(w)
        else:
            line = {k: (float(w[k]) if k != "text" else w[k]) for k in ("text", "x0", "x1", "top", "bottom", "size")}
            lines.append({**line, "heading": _is_heading(w)})
    return lines


def _is_heading(word: dict) -> bool:
    """Heading text: bold and at least ``HEADING_MIN_PT`` (chart text, scaled into the page, may be as
    large but is not bold; the figures on page 1 are bold and large, and have text under them)."""
    return float(word["size"]) >= HEADING_MIN_PT and "bold" in str(word.get("fontname", "")).lower()


def _overlapping_words(words: Sequence[dict]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Words printed over each other: two characters whose boxes share more than ``OVERLAP_PT``
    and 40 % of the narrower one across, and half their height (a label on a label in a
    chart, a heading run into the next column). Characters, not words: text printed over
    text interleaves into one "word".
    ``words`` as ``extract_words(return_chars=True)`` gives them. Sweep over x."""
    chars = sorted(
        ((_box(c), n) for n, w in enumerate(words) for c in w["chars"] if c["text"].strip()),
        key=lambda item: (item[0][0], item[0][1]),
    )
    pairs: dict[tuple[int, int], tuple[float, float, float, float]] = {}
    active: list[tuple[tuple[float, float, float, float], int]] = []
    for box, n in chars:
        active = [(b, m) for b, m in active if b[2] - OVERLAP_PT > box[0]]
        for other, m in active:
            dx = min(box[2], other[2]) - max(box[0], other[0])
            dy = min(box[3], other[3]) - max(box[1], other[1])
            narrow = min(box[2] - box[0], other[2] - other[0])
            # kerning ("To", "Ty", "r,") tucks a glyph's box a little under its neighbour's: not an overprint
            if dx > max(OVERLAP_PT, 0.4 * narrow) and dy > 0.5 * min(box[3] - box[1], other[3] - other[1]):
                key = (min(n, m), max(n, m))
                union = (min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]), max(box[3], other[3]))
                if key in pairs:
                    old = pairs[key]
                    union = (min(old[0], union[0]), min(old[1], union[1]), max(old[2], union[2]), max(old[3], union[3]))
                pairs[key] = union
        active.append((box, n))
    return [
        (words[a]["text"] if a == b else f"{words[a]['text']} / {words[b]['text']}", box)
        for (a, b), box in sorted(pairs.items())
    ]


def _words_on_markers(words: Sequence[dict], curves: Sequence[dict]) -> list[tuple[str, tuple]]:
    """Words printed over a chart's point marker (a small round or square path, 2–8 pt)."""
    markers = [
        _box(c)
        for c in curves
        if 2 <= float(c["width"]) <= 8 and 2 <= float(c["height"]) <= 8 and abs(c["width"] - c["height"]) < 1
    ]
    found = []
    for w in words:
        box = _box(w)
        for m in markers:
            dx = min(box[2], m[2]) - max(box[0], m[0])
            dy = min(box[3], m[3]) - max(box[1], m[1])
            if dx > OVERLAP_PT / 2 and dy > OVERLAP_PT / 2:
                found.append(
                    (
                        f"{w['text']} / a chart's point",
                        (min(box[0], m[0]), min(box[1], m[1]), max(box[2], m[2]), max(box[3], m[3])),
                    )
                )
    return found


def _page_findings(number: int, page: pdfplumber.page.Page, area: PageArea) -> list[Finding]:
    findings: list[Finding] = []
    words = page.extract_words(
        use_text_flow=False, keep_blank_chars=False, extra_attrs=["size", "fontname"], return_chars=True
    )
    for w in words:
        box = _box(w)
        if _outside(box, area) and not area.in_margin_box(box):
            findings.append(Finding(number, "outside", "text", w["text"], box))
    for what, objects in (("rect", page.rects), ("line", page.lines), ("curve", page.curves), ("image", page.images)):
        for obj in objects:
            box = _box(obj)
            if _outside(box, area) and not area.in_margin_box(box):
                findings.append(
                    Finding(number, "outside", what, f"{box[2] - box[0]:.0f}×{box[3] - box[1]:.0f} pt", box)
                )
    findings += [Finding(number, "overlap", "text", text, box) for text, box in _overlapping_words(words)]
    findings += [Finding(number, "overlap", "text", text, box) for text, box in _words_on_markers(words, page.curves)]
    body = [ln for ln in _lines(words) if not area.in_margin_box((ln["x0"], ln["top"], ln["x1"], ln["bottom"]))]
    # The last heading on the page is orphaned when below it come only other headings and small
    # print (a note): no text of body size, no table or chart (any drawn box) — its content is overleaf.
    headings = [ln for ln in body if ln["heading"]]
    if headings and len(headings) < len(body):
        last = max(headings, key=lambda ln: ln["bottom"])
        below_text = [ln for ln in body if ln["top"] >= last["bottom"] - 0.5 and ln["size"] >= SMALL_PRINT_PT]
        drawn = [
            _box(obj)
            for obj in (*page.rects, *page.lines, *page.curves, *page.images)
            if float(obj["top"]) >= last["bottom"] - 0.5 and not area.in_margin_box(_box(obj))
        ]
        if not below_text and not drawn:
            # the heading and any heading just above it with nothing between (h2 then h3)
            run = [last]
            for ln in sorted(body, key=lambda ln: -ln["bottom"]):
                if ln["bottom"] >= run[-1]["top"] or ln is last:
                    continue
                if not ln["heading"]:
                    break
                run.append(ln)
            for ln in reversed(run):
                findings.append(
                    Finding(number, "orphan_heading", "text", ln["text"], (ln["x0"], ln["top"], ln["x1"], ln["bottom"]))
                )
    return findings


def check_pdf(path: Path | str, area: PageArea | None = None, pages: Iterable[int] | None = None) -> list[Finding]:
    """Every layout problem of the PDF at ``path``, page by page (``pages``: 1-based page
    numbers, default all); ``area`` defaults to the report stylesheet's (``page_area()``).
    An empty list means a clean layout."""
    area = area or page_area()
    wanted = set(pages) if pages is not None else None
    findings: list[Finding] = []
    with pdfplumber.open(str(path)) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            if wanted is not None and number not in wanted:
                continue
            findings += _page_findings(number, page, area)
            page.close()
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.layout_check", description=__doc__.splitlines()[0])
    parser.add_argument("pdf", nargs="+", type=Path, help="PDF files to check")
    parser.add_argument("--css", type=Path, help="stylesheet with the @page rule (default: templates/report.css)")
    args = parser.parse_args(argv)
    area = page_area(args.css.read_text(encoding="utf-8") if args.css else None)
    bad = 0
    for path in args.pdf:
        for finding in check_pdf(path, area):
            print(f"{path}: {finding}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
