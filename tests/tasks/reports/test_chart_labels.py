"""tasks.reports.chart_labels: the leader-line test skips far boxes without changing any answer."""

import random

from tasks.reports.chart_labels import _Box, _segment_hits_box


def _sampled(p, q, box) -> bool:
    """The test as it was: 23 samples along p→q, none skipped."""
    return any(
        box.x0 < p[0] + (q[0] - p[0]) * k / 24 < box.x1 and box.y0 < p[1] + (q[1] - p[1]) * k / 24 < box.y1
        for k in range(1, 24)
    )


def test_segment_test_gives_the_sampled_answer_everywhere():
    rng = random.Random(11)
    hits = 0
    for _ in range(50_000):
        p = (rng.uniform(0, 400), rng.uniform(0, 300))
        q = (p[0] + rng.uniform(-60, 60), p[1] + rng.uniform(-60, 60))
        x0, y0 = rng.uniform(0, 400), rng.uniform(0, 300)
        box = _Box(x0, y0, x0 + rng.uniform(1, 80), y0 + rng.uniform(1, 20))
        got = _segment_hits_box(p, q, box)
        assert got == _sampled(p, q, box), (p, q, box)
        hits += got
    # Edge cases: a segment ending exactly on a box's edge, or lying along it.
    for p, q, box in [
        ((0.0, 5.0), (10.0, 5.0), _Box(10.0, 0.0, 20.0, 10.0)),
        ((0.0, 0.0), (10.0, 0.0), _Box(0.0, 0.0, 10.0, 10.0)),
        ((5.0, 5.0), (5.0, 5.0), _Box(0.0, 0.0, 10.0, 10.0)),
        ((12.0, 5.0), (30.0, 5.0), _Box(10.0, 0.0, 20.0, 10.0)),
    ]:
        assert _segment_hits_box(p, q, box) == _sampled(p, q, box), (p, q, box)
    assert 500 < hits < 49_000  # both answers were exercised
