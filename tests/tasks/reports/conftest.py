"""The report tests' demo: one small demo run through Prefect for the whole session.

``demo_reports`` runs the demo flow once (the same size as ``tests/flows``' end-to-end
demo: seed 3, three quarters up to 2026Q2, 0.4 of the volumes) into a temporary folder;
tests read its database and its Russian PDFs and render other languages from the same
database through ``write_reports``. Only tests that ask for it start it (they are slow).
"""

from __future__ import annotations

import os

import pytest

DEMO_QUARTERS = ("2025Q4", "2026Q1", "2026Q2")


@pytest.fixture(scope="session")
def demo_reports(prefect_harness, tmp_path_factory):
    """{"url", "root", "out", "config", "quarters"} of one small demo run (Prefect harness of the session)."""
    from cxloop.config import load_config
    from cxloop.settings import get_settings, reset_settings_cache
    from flows.demo import demo
    from models.db import dispose_engines, upgrade

    root = tmp_path_factory.mktemp("report-demo")
    url = f"sqlite:///{root / 'cxloop.db'}"
    env = {"CXLOOP_DATABASE_URL": url, "CXLOOP_DATA_DIR": str(root / "incoming"), "CXLOOP_OUT_DIR": str(root / "out")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings_cache()
    try:
        upgrade(url)
        demo(seed=3, quarters=len(DEMO_QUARTERS), until=DEMO_QUARTERS[-1], scale=0.4, send_reports=False)
        yield {
            "url": url,
            "root": root,
            "out": root / "out",
            "config": load_config(get_settings().config_dir),
            "quarters": DEMO_QUARTERS,
        }
    finally:
        dispose_engines()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings_cache()
