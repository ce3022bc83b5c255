"""Validate stage (loop step 2), duplicates: the identity of a record (:func:`dedup_keys`) and the
rows dropped as duplicates of stored or earlier rows; near-duplicates, the same text sent
to several public channels for one office within a week, counted once.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd


def dedup_keys(frame: pd.DataFrame) -> pd.Series:
    """Stable identity of a record: channel + source id, or (for sources without ids)
    channel + office + date + a hash of the normalised text."""

    def key(row) -> str:
        if row.external_id:
            return f"{row.channel}:{row.external_id}"
        text = " ".join(str(row.text or "").lower().replace("ё", "е").split())
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
        return f"{row.channel}:{row.office_code or row.region_code}:{row.received_at}:{digest}"

    return pd.Series(
        [
            key(r)
            for r in frame[["channel", "external_id", "text", "office_code", "region_code", "received_at"]].itertuples(
                index=False
            )
        ],
        index=frame.index,
        dtype="object",
    )


def split_duplicates(frame: pd.DataFrame, existing_keys: set[str]) -> tuple[pd.DataFrame, int]:
    """Drop rows whose key was already stored or appeared earlier in the frame; return (new rows, duplicates)."""
    if frame.empty:
        return frame, 0
    seen_before = frame["dedup_key"].isin(existing_keys)
    repeated = frame["dedup_key"].duplicated(keep="first")
    dup = seen_before | repeated
    return frame[~dup].reset_index(drop=True), int(dup.sum())


# Near-duplicates: the same complaint posted to several channels (the platform and a
# social network, the review book and a map review) is one voice, counted once.
NEAR_DUPLICATE_CHANNELS = frozenset({"review_book", "pos", "social"})
NEAR_DUPLICATE_WINDOW_DAYS = 7
# Short stock phrases ("Всё хорошо, спасибо") recur between unrelated people: only
# texts at least this long and this many words are matched.
NEAR_DUPLICATE_MIN_CHARS = 30
NEAR_DUPLICATE_MIN_WORDS = 5
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def text_keys(frame: pd.DataFrame) -> pd.Series:
    """A hash of the normalised text for rows that can be near-duplicates (None otherwise).

    Normalised: lower case, ё→е, punctuation and spacing dropped, so "Очередь 2 часа!!"
    and "очередь  2 часа" match."""

    def key(channel: str, text: object) -> str | None:
        if channel not in NEAR_DUPLICATE_CHANNELS or not isinstance(text, str):
            return None
        words = _NON_WORD.sub(" ", text.lower().replace("ё", "е")).split()
        norm = " ".join(words)
        if len(norm) < NEAR_DUPLICATE_MIN_CHARS or len(words) < NEAR_DUPLICATE_MIN_WORDS:
            return None
        return hashlib.sha1(norm.encode("utf-8")).hexdigest()

    return pd.Series(
        [key(c, t) for c, t in zip(frame["channel"], frame["text"], strict=True)], index=frame.index, dtype=object
    )


def split_near_duplicates(frame: pd.DataFrame, earlier: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop rows whose text was already seen for the same office from another channel
    within ``NEAR_DUPLICATE_WINDOW_DAYS`` days (in ``earlier`` — rows already stored,
    columns office_code, received_at, channel, text_key — or earlier in ``frame``)."""
    if frame.empty or frame["text_key"].isna().all():
        return frame, 0
    window = NEAR_DUPLICATE_WINDOW_DAYS
    seen: dict[tuple[str, str], list[tuple[object, str]]] = {}
    for r in earlier.itertuples(index=False):
        seen.setdefault((r.office_code, r.text_key), []).append((r.received_at, r.channel))
    drop = np.zeros(len(frame), dtype=bool)
    order = np.argsort(frame["received_at"].astype(str).to_numpy(), kind="stable")
    offices, dates = frame["office_code"].to_numpy(), frame["received_at"].to_numpy()
    channels, keys = frame["channel"].to_numpy(), frame["text_key"].to_numpy()
    for pos in order:
        key = keys[pos]
        if key is None or offices[pos] is None:
            continue
        bucket = seen.setdefault((offices[pos], key), [])
        if any(ch != channels[pos] and abs((dates[pos] - d).days) <= window for d, ch in bucket):
            drop[pos] = True
            continue
        bucket.append((dates[pos], channels[pos]))
    return frame[~drop].reset_index(drop=True), int(drop.sum())
