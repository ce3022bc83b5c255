"""The world the demo data is drawn from: regions, offices, their levels and profiles.

:func:`build_world` turns the office registry and a seed into a :class:`World` (office
levels, per-ray offsets, a time trend shared by all offices, the offices treated by the
SMS measure); every channel of :mod:`demo.generate` draws its files from it, each cell
with its own random stream (:func:`cell_rng`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from cxloop.config import Office
from cxloop.domain import RAYS
from cxloop.quarters import Quarter

# --------------------------------------------------------------------------------------
# Region profiles: how each region exports, and which pain points it has.
# Assigned by the region's position in the office registry (52, 66, 10 in the shipped
# config), so the code names no region.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    star: str  # xlsx_ru | csv_cp1251 | csv_bom_en
    review: str  # xlsx | csv_cp1251
    interview: str  # csv_utf8 | csv_utf16
    reminder_pain: bool
    online_growth: bool
    fi_share: float
    tz: str


PROFILES = (
    Profile("xlsx_ru", "xlsx", "csv_utf8", reminder_pain=True, online_growth=False, fi_share=0.0, tz="+03:00"),
    Profile("csv_cp1251", "csv_cp1251", "csv_utf8", reminder_pain=True, online_growth=True, fi_share=0.0, tz="+05:00"),
    Profile("csv_bom_en", "xlsx", "csv_utf16", reminder_pain=False, online_growth=False, fi_share=0.10, tz="+03:00"),
)


# --------------------------------------------------------------------------------------
# The world the data is drawn from
# --------------------------------------------------------------------------------------


@dataclass
class World:
    seed: int
    quarters: list[Quarter]
    scale: float
    regions: list[str]
    offices: dict[str, list[Office]]
    office_level: dict[str, float]
    ray_offset: dict[str, np.ndarray]
    common_shift: dict[Quarter, float]
    treated: frozenset[str]
    treat_from: int | None  # position in ``quarters`` from which the SMS measure acts
    # The queue measure's rollout office by office: office -> position in ``quarters`` it acts from.
    rollout: dict[str, int] = field(default_factory=dict)

    def profile(self, region: str) -> Profile:
        return PROFILES[self.regions.index(region) % len(PROFILES)]

    def pos(self, q: Quarter) -> int:
        return self.quarters.index(q)

    def is_treated(self, office_code: str, q: Quarter) -> bool:
        return self.treat_from is not None and office_code in self.treated and self.pos(q) >= self.treat_from

    def is_rolled_out(self, office_code: str, q: Quarter) -> bool:
        """Whether the queue measure (rolled out office by office) acts in the office in ``q``."""
        start = self.rollout.get(office_code)
        return start is not None and self.pos(q) >= start

    def n(self, base: float, minimum: int = 1) -> int:
        return max(minimum, int(round(base * self.scale)))


def cell_rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator for one (quarter, region, channel, ...) cell, independent of the others."""
    key = [seed] + [p if isinstance(p, int) else zlib.crc32(p.encode("utf-8")) for p in parts]
    return np.random.default_rng(key)


def build_world(seed: int, quarters: list[Quarter], scale: float, offices: list[Office]) -> World:
    regions: list[str] = []
    by_region: dict[str, list[Office]] = {}
    for o in offices:
        if o.region_code not in by_region:
            regions.append(o.region_code)
            by_region[o.region_code] = []
        by_region[o.region_code].append(o)
    for r in regions:
        by_region[r].sort(key=lambda o: o.office_code)
    codes = sorted(o.office_code for o in offices)

    rng = cell_rng(seed, "offices")
    levels = rng.normal(0.0, 0.15, size=len(codes))
    # A visible spread: two strong and two weak offices, chosen by the seed.
    order = rng.permutation(len(codes))
    for k, bump in zip(order[:4], (0.35, 0.25, -0.40, -0.25), strict=False):  # fewer with under four offices
        levels[k] += bump
    ray_off = rng.normal(0.0, 0.12, size=(len(codes), len(RAYS)))

    common: dict[Quarter, float] = {}
    for t, q in enumerate(quarters):
        # A trend shared by every office: what makes naive before/after comparisons lie.
        common[q] = 0.07 * t + float(cell_rng(seed, "time", q.index()).normal(0.0, 0.03))

    treated: list[str] = [o.office_code for o in by_region[regions[0]][:2]]
    if len(regions) > 1:
        treated.append(by_region[regions[1]][0].office_code)
    # The queue measure reaches the other regions' offices in two waves (second and third quarter),
    # three offices a wave, when there are enough offices; the rest never get it. Like the SMS
    # measure it does not depend on how many quarters are generated (a shorter run is a prefix).
    rollout: dict[str, int] = {}
    others = [o.office_code for r in regions[1:] for o in by_region[r] if o.office_code not in treated]
    if len(others) >= 8:
        waves = [o for pair in zip(others[: len(others) // 2], others[len(others) // 2 :], strict=False) for o in pair]
        rollout = dict.fromkeys(waves[:3], 1) | dict.fromkeys(waves[3:6], 2)
    return World(
        seed=seed,
        quarters=quarters,
        scale=scale,
        regions=regions,
        offices=by_region,
        office_level={c: float(v) for c, v in zip(codes, levels, strict=True)},
        ray_offset={c: ray_off[i] for i, c in enumerate(codes)},
        common_shift=common,
        treated=frozenset(treated),
        treat_from=1 if len(quarters) > 1 else None,
        rollout=rollout,
    )
