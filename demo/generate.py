"""Demo data for the loop's first stage, **Collect**: raw channel exports as they arrive.

``generate_demo_data`` writes, for every region and quarter, one file per feedback
channel in the messy shapes real exports have (XLSX with Russian headers, cp1251
CSV with ``;`` and dd.mm.yyyy dates, UTF-8-with-BOM CSV with English headers,
UTF-16 tab-separated text, JSON and JSON lines), plus ``register_seed.json`` (measures
implemented earlier) and ``manifest.json`` (what was planted where).

This module is the entry point: it builds the world (:mod:`demo.world`), asks each
channel for its table (:mod:`demo.survey`, :mod:`demo.channels`, :mod:`demo.online`),
writes them (:mod:`demo.writers`) and the seeded register (:mod:`demo.scenario`).

The data tells a story the rest of the loop must find:

* offices differ (a few strong, a few weak); survey answers hang on an office level,
  per-ray offsets, a respondent "halo" and noise, so indices land around 70-90;
* planted pain points, told consistently by survey items and free text: missed
  appointments for lack of reminders (``reminders_notifications``, low P3) in the
  first two regions, unclear next steps (``process_clarity``, low P2) everywhere, and
  a hard online service (``online_service_usability``, low E4) growing quarter by
  quarter in the second region; background mentions of every other theme and praise;
* one corrective measure ("SMS reminders 24 h before the meeting") implemented in
  three offices from the second generated quarter: P3 rises by about +0.6 on the 1-5
  scale there and reminder complaints drop by ~70 %, while a time trend shared by all
  offices makes a naive before/after comparison biased (difference-in-differences is not);
* personal data typed into ~3 % of free texts, broken rows (~1-2 % per file), blank
  and repeated-header rows, exact duplicates within files, one repeated block of calls
  and the same complaint posted on two channels;
* an emerging problem no theme covers, for the analyst's "candidate new themes": from
  the third generated quarter on, fraudsters pose as employment-centre staff and ask
  clients for confirmation codes and card or passport data; complaints about it arrive
  through the platform, social networks and the review book of three offices of the
  first region, then also two of the second, growing 0 → 0 → 15 → 40 texts a quarter
  (:data:`demo.emerging.SCAM_WAVE`), worded so that no theme lexicon tags them and every one reads
  negative;
* the survey's optional overall questions (overall satisfaction 1-10, likelihood to
  recommend 0-10, "it was easy to get the service" 1-7), answered by ~85 / 80 / 75 %
  of respondents, driven by the respondent's own ray scores with the unequal weights
  of :data:`demo.survey.OVERALL_DRIVERS` (effort and personalisation most, comfort least) plus
  noise, so a key-driver analysis has a known answer to recover.

Everything is drawn from ``numpy.random.default_rng`` seeded per (seed, quarter,
region, channel), so the same seed and quarters give byte-identical files, and
adding a quarter at the end leaves the files of the earlier quarters unchanged.
The overall questions have a stream of their own (seed, "overall", region, quarter):
adding them left every other value of the files as it was. So do the emerging-topic
complaints ((seed, "emerging", ...), see :func:`demo.emerging.scam_plan`): they are
appended after a file's other records (ids continuing theirs), blank and repeated-header
rows are placed among the other records only, and none of them is broken, duplicated or
carries personal data, so the planted defect counts are those of the other records.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cxloop.config import Office
from cxloop.quarters import Quarter
from demo.channels import build_contact_center, build_interview_followup, build_review_book
from demo.emerging import scam_plan
from demo.online import build_pos, build_social
from demo.rows import Table
from demo.scenario import seeded_measures
from demo.survey import build_star_survey
from demo.world import PROFILES, build_world, cell_rng
from demo.writers import Noise, csv_bytes, json_bytes, jsonl_bytes, xlsx_bytes


@dataclass
class DemoManifest:
    """What was written. ``files`` rows: path (relative to out_dir, posix), channel,
    region_code, quarter, format, encoding, delimiter, rows_written (data records incl.
    broken rows and duplicate copies), noise_rows (blank and repeated-header rows, not
    records), planted_broken, planted_duplicates (extra exact copies within the file),
    planted_cross_channel_duplicates (social posts copying a ``pos`` complaint),
    planted_pii (free texts carrying typed-in personal data), planted_emerging (the
    emerging-topic complaints: the file's last records, included in rows_written)."""

    files: list[dict[str, Any]] = field(default_factory=list)
    seeded_measures: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 7
    quarters: list[str] = field(default_factory=list)
    scale: float = 1.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"


def generate_demo_data(
    out_dir: Path, quarters: list[Quarter], seed: int = 7, offices: list[Office] | None = None, scale: float = 1.0
) -> DemoManifest:
    """Write demo channel exports for every region x quarter into ``out_dir``.

    In: the quarters to cover (any order, no duplicates), a seed, the office registry
    (default: ``config/offices.csv``) and a volume multiplier. Out: files
    ``out_dir/<quarter>/<channel>_<region_code>.<ext>``, ``register_seed.json``,
    ``manifest.json``; the returned :class:`DemoManifest` lists them with what was planted.
    """
    if not quarters:
        raise ValueError("at least one quarter is needed")
    qs = sorted(set(quarters))
    if len(qs) != len(quarters):
        raise ValueError("quarters must not repeat")
    if not scale > 0:
        raise ValueError("scale must be positive")
    if offices is None:
        from cxloop.config import get_config

        offices = get_config().offices
    if not offices:
        raise ValueError("no offices to generate data for")
    out_dir = Path(out_dir)
    world = build_world(seed, qs, scale, list(offices))
    manifest = DemoManifest(seed=seed, quarters=[str(q) for q in qs], scale=scale)

    def emit(
        q: Quarter,
        channel: str,
        region: str,
        ext: str,
        payload: bytes,
        table: Table,
        *,
        fmt: str,
        encoding: str,
        delimiter: str | None,
        rows: int,
        noise_rows: int = 0,
    ) -> None:
        rel = Path(str(q)) / f"{channel}_{region}.{ext}"
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        manifest.files.append(
            {
                "path": rel.as_posix(),
                "channel": channel,
                "region_code": region,
                "quarter": str(q),
                "format": fmt,
                "encoding": encoding,
                "delimiter": delimiter,
                "rows_written": rows,
                "noise_rows": noise_rows,
                "planted_broken": table.broken,
                "planted_duplicates": table.duplicates,
                "planted_cross_channel_duplicates": table.cross_duplicates,
                "planted_pii": table.pii,
                "planted_emerging": table.emerging,
            }
        )

    for q in qs:
        scam = scam_plan(world, q)
        for region in world.regions:
            prof = world.profile(region)
            noise_rng = cell_rng(seed, "noise", region, q.index())

            star = build_star_survey(world, region, q)
            if prof.star == "xlsx_ru":
                payload, k = xlsx_bytes(star, "Анкеты", Noise(blank_rows=1, repeated_header=True), noise_rng)
                emit(
                    q,
                    "star_survey",
                    region,
                    "xlsx",
                    payload,
                    star,
                    fmt="xlsx",
                    encoding="xlsx",
                    delimiter=None,
                    rows=len(star.rows),
                    noise_rows=k,
                )
            elif prof.star == "csv_cp1251":
                payload, k = csv_bytes(star, "cp1251", ";", Noise(blank_rows=2, blank_as_delimiters=True), noise_rng)
                emit(
                    q,
                    "star_survey",
                    region,
                    "csv",
                    payload,
                    star,
                    fmt="csv",
                    encoding="cp1251",
                    delimiter=";",
                    rows=len(star.rows),
                    noise_rows=k,
                )
            else:
                payload, k = csv_bytes(star, "utf-8", ",", Noise(), noise_rng, bom=b"\xef\xbb\xbf")
                emit(
                    q,
                    "star_survey",
                    region,
                    "csv",
                    payload,
                    star,
                    fmt="csv",
                    encoding="utf-8-sig",
                    delimiter=",",
                    rows=len(star.rows),
                    noise_rows=k,
                )

            review = build_review_book(world, region, q, scam.get((region, "review_book"), ()))
            if prof.review == "xlsx":
                payload, k = xlsx_bytes(review, "Книга отзывов", Noise(), noise_rng)
                emit(
                    q,
                    "review_book",
                    region,
                    "xlsx",
                    payload,
                    review,
                    fmt="xlsx",
                    encoding="xlsx",
                    delimiter=None,
                    rows=len(review.rows),
                    noise_rows=k,
                )
            else:
                payload, k = csv_bytes(review, "cp1251", ";", Noise(repeated_header=True), noise_rng)
                emit(
                    q,
                    "review_book",
                    region,
                    "csv",
                    payload,
                    review,
                    fmt="csv",
                    encoding="cp1251",
                    delimiter=";",
                    rows=len(review.rows),
                    noise_rows=k,
                )

            calls = build_contact_center(world, region, q)
            pos_in_regions = world.regions.index(region) % len(PROFILES)
            cc_noise = (
                Noise(blank_rows=2)
                if pos_in_regions == 0
                else Noise(trailing_empty_cols=3)
                if pos_in_regions == 2
                else Noise()
            )
            payload, k = csv_bytes(calls, "utf-8", ";", cc_noise, noise_rng)
            emit(
                q,
                "contact_center",
                region,
                "csv",
                payload,
                calls,
                fmt="csv",
                encoding="utf-8",
                delimiter=";",
                rows=len(calls.rows),
                noise_rows=k,
            )

            pos_records, pos_table, reposts = build_pos(world, region, q, scam.get((region, "pos"), ()))
            emit(
                q,
                "pos",
                region,
                "json",
                json_bytes(pos_records),
                pos_table,
                fmt="json",
                encoding="utf-8",
                delimiter=None,
                rows=len(pos_records),
            )

            social_records, social_table = build_social(world, region, q, reposts, scam.get((region, "social"), ()))
            emit(
                q,
                "social",
                region,
                "jsonl",
                jsonl_bytes(social_records),
                social_table,
                fmt="jsonl",
                encoding="utf-8",
                delimiter=None,
                rows=len(social_records),
            )

            interviews = build_interview_followup(world, region, q)
            if prof.interview == "csv_utf16":
                # Explicit little-endian with BOM: Python's "utf-16" would follow the host's byte order.
                payload, k = csv_bytes(interviews, "utf-16-le", "\t", Noise(), noise_rng, bom=b"\xff\xfe")
                emit(
                    q,
                    "interview_followup",
                    region,
                    "csv",
                    payload,
                    interviews,
                    fmt="csv",
                    encoding="utf-16",
                    delimiter="\t",
                    rows=len(interviews.rows),
                    noise_rows=k,
                )
            else:
                payload, k = csv_bytes(interviews, "utf-8", ",", Noise(), noise_rng)
                emit(
                    q,
                    "interview_followup",
                    region,
                    "csv",
                    payload,
                    interviews,
                    fmt="csv",
                    encoding="utf-8",
                    delimiter=",",
                    rows=len(interviews.rows),
                    noise_rows=k,
                )

    manifest.files.sort(key=lambda f: f["path"])
    manifest.seeded_measures = seeded_measures(world)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "register_seed.json").write_bytes(
        (json.dumps(manifest.seeded_measures, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    )
    (out_dir / "manifest.json").write_bytes(manifest.to_json().encode("utf-8"))
    return manifest
