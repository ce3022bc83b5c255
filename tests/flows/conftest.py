"""Fixtures of the flow tests: the small demo, run once per module through the Prefect harness."""

import pytest


@pytest.fixture(scope="module")
def demo_run(prefect_harness, tmp_path_factory):
    """One small demo for the module (Prefect harness started once per session)."""
    import os

    from cxloop.settings import get_settings, reset_settings_cache
    from flows.demo import demo
    from models.db import dispose_engines, upgrade

    root = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{root / 'cxloop.db'}"
    env = {"CXLOOP_DATABASE_URL": url, "CXLOOP_DATA_DIR": str(root / "incoming"), "CXLOOP_OUT_DIR": str(root / "out")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings_cache()
    upgrade(url)
    summaries = demo(seed=3, quarters=3, until="2026Q2", scale=0.4, send_reports=True)
    yield {"url": url, "root": root, "summaries": summaries, "settings": get_settings()}
    dispose_engines()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reset_settings_cache()
