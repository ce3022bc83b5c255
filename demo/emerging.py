"""The demo's emerging topic: a new problem that no theme covers, growing quarter by quarter.

Fraudsters pose as employment-centre staff and ask clients for confirmation codes,
card details or passport data. :func:`scam_plan` decides, per quarter, which offices
and text channels get how many complaints (:data:`SCAM_WAVE`); the wording comes from
``demo/data/emerging.yaml``. The channels append these texts after their own records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from cxloop.config import Office
from cxloop.quarters import Quarter
from demo.phrases import pick
from demo.world import World, cell_rng

# The wave starts in a few offices of the first region in the third generated quarter and
# spreads to two offices of the second region in the next.
# The texts are worded so that no theme lexicon tags them (no "звонок"/"позвонили",
# which name contact_reachability, no "СМС", which names reminders_notifications, no
# "снять с учёта"/"деньги", which name benefit_payment, no "неизвестные", which names
# process_clarity) and every one carries a complaint word
# ("обман", "ужас", "безобразие"...), so the text stage reads them as negative feedback
# without a theme: the input of tasks.text.topics.emerging_topics.

# Planted texts per quarter at scale 1, by position from the first generated quarter;
# later quarters keep the last value. With the demo's four quarters: 0 → 0 → 15 → 40.
SCAM_WAVE: tuple[int, ...] = (0, 0, 15, 40)
# The text channels the complaints arrive through, and their shares.
_SCAM_CHANNELS: dict[str, float] = {"pos": 0.45, "social": 0.35, "review_book": 0.20}
# Offices hit (picked by the seed) and their shares within the region; from the second
# wave quarter on, the second region gets _SCAM_SPREAD of the texts.
_SCAM_OFFICE_SHARES: tuple[tuple[float, ...], tuple[float, ...]] = ((0.45, 0.33, 0.22), (0.6, 0.4))
_SCAM_SPREAD = 0.35
# The category a platform message about it is filed under (picked by the sender).
SCAM_POS_CATEGORY = ("Иное", "Иное", "Работа сотрудников")

_WORDING = yaml.safe_load((Path(__file__).resolve().parent / "data" / "emerging.yaml").read_text(encoding="utf-8"))
# (clause naming the impostor, grammatical number of its subject: pl | m | f)
_SCAM_OPENERS: tuple[tuple[str, str], ...] = tuple((text, number) for text, number in _WORDING["openers"])
# (past-tense plural verb, the rest): what they were after.
_SCAM_ACTIONS: tuple[tuple[str, str], ...] = tuple((verb, rest) for verb, rest in _WORDING["actions"])
# Each carries a complaint word, so every text reads negative.
_SCAM_OUTCOMES: tuple[str, ...] = tuple(_WORDING["outcomes"])
_SCAM_DEMANDS: tuple[str, ...] = tuple(_WORDING["demands"])


def _past(verb: str, number: str) -> str:
    """A plural past-tense verb ("просили", "пытались") in the subject's number and gender."""
    if number == "pl":
        return verb
    if verb.endswith("лись"):
        return verb[:-4] + ("лся" if number == "m" else "лась")
    return verb[:-2] + ("л" if number == "m" else "ла")


def _scam_text(rng: np.random.Generator, used: set[str]) -> str:
    """One complaint about the impostors, not in ``used`` (then added to it).

    "<opener> и <action>[, а потом <action>]." with an outcome sentence before or after
    and, for half of them, a demand: about 83,000 combinations, so the quarter's texts
    differ (equal texts from one office would be taken for duplicates by the intake)."""
    text = ""
    for _ in range(100):
        opener, number = _SCAM_OPENERS[int(rng.integers(len(_SCAM_OPENERS)))]
        first, second = (int(k) for k in rng.choice(len(_SCAM_ACTIONS), size=2, replace=False))
        body = f"{opener} и {_past(_SCAM_ACTIONS[first][0], number)} {_SCAM_ACTIONS[first][1]}"
        if rng.random() < 0.25:
            body += f", а потом {_past(_SCAM_ACTIONS[second][0], number)} {_SCAM_ACTIONS[second][1]}"
        outcome = pick(rng, _SCAM_OUTCOMES)
        text = f"{body}. {outcome}" if rng.random() < 0.75 else f"{outcome} {body}."
        if rng.random() < 0.5:
            text += " " + pick(rng, _SCAM_DEMANDS)
        if text not in used:
            break
    used.add(text)
    return text


def _scam_offices(world: World) -> list[list[tuple[Office, float]]]:
    """The offices the fraudsters' calls reach: three of the first region, two of the
    second (fewer when a region has fewer), with their shares; drawn by the seed alone."""
    rng = cell_rng(world.seed, "emerging", "offices")
    out: list[list[tuple[Office, float]]] = []
    # strict=False: only the first two regions are hit (one when there is only one)
    for region, shares in zip(world.regions, _SCAM_OFFICE_SHARES, strict=False):
        offices = world.offices[region]
        picked = rng.choice(len(offices), size=min(len(shares), len(offices)), replace=False)
        weights = np.array(shares[: len(picked)], dtype=float)
        out.append([(offices[int(i)], float(w)) for i, w in zip(picked, weights / weights.sum(), strict=True)])
    return out


def scam_plan(world: World, q: Quarter) -> dict[tuple[str, str], list[tuple[Office, str]]]:
    """The quarter's planted emerging-topic texts: (region, channel) -> [(office, text)].

    ``round(SCAM_WAVE[t] × scale)`` texts in quarter position ``t``; each goes to an
    office (first region only in the first wave quarter, then _SCAM_SPREAD to the second)
    and a channel by the shares above. Drawn from streams of their own, (seed,
    "emerging", quarter) here and (seed, "emerging", channel, region, quarter) in the
    channels, so every other value of the files is the same as without the wave; the
    channels append these rows after their own, never break or duplicate them, and
    count them in ``planted_emerging``."""
    t = world.pos(q)
    base = SCAM_WAVE[min(t, len(SCAM_WAVE) - 1)] if SCAM_WAVE else 0
    if base <= 0:
        return {}
    first_wave = next(k for k, v in enumerate(SCAM_WAVE) if v > 0)
    targets = _scam_offices(world)
    region_share = [1.0] if t == first_wave or len(targets) == 1 else [1.0 - _SCAM_SPREAD, _SCAM_SPREAD]
    # strict=False: in the first wave quarter only the first region's offices get texts
    pool = [
        (office, r_share * share)
        for r_share, offices in zip(region_share, targets, strict=False)
        for office, share in offices
    ]
    p_office = np.array([w for _, w in pool]) / sum(w for _, w in pool)
    channels = list(_SCAM_CHANNELS)
    p_channel = np.array([_SCAM_CHANNELS[c] for c in channels])
    rng = cell_rng(world.seed, "emerging", q.index())
    used: set[str] = set()
    plan: dict[tuple[str, str], list[tuple[Office, str]]] = {}
    for _ in range(world.n(base)):
        office = pool[int(rng.choice(len(pool), p=p_office))][0]
        channel = channels[int(rng.choice(len(channels), p=p_channel))]
        plan.setdefault((office.region_code, channel), []).append((office, _scam_text(rng, used)))
    return plan
