"""Fixtures of the delivery tests: real PDFs rendered once for the package, per-test copies
of them, a migrated SQLite database per test and real SMTP servers (aiosmtpd)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from cxloop.config import load_config
from cxloop.files import file_sha256
from models.db import dispose_engines, session_scope, upgrade
from tasks.reports.render import ReportFile, write_reports
from tests.smtp_support import QUARTER, RecordingHandler, free_port

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def smtp_server():
    """``start(handler) -> port``: real SMTP servers on 127.0.0.1, stopped after the test."""
    started = []

    def start(handler: RecordingHandler) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="package")
def config():
    return load_config(ROOT / "config")


@pytest.fixture(scope="package")
def rendered(tmp_path_factory, config):
    """Real PDFs for every scope, rendered once from an empty database (content is not the point here)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('render') / 'r.db'}"
    upgrade(url)
    out = tmp_path_factory.mktemp("reports")
    with session_scope(url) as s:
        reports = write_reports(s, QUARTER, config, out)
    dispose_engines()
    return reports


@pytest.fixture
def reports(rendered, tmp_path):
    """Per-test copies (a test may delete one), with a key message naming the scope."""
    out = {}
    for scope, report in rendered.items():
        path = tmp_path / "reports" / report.path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(report.path.read_bytes())
        out[scope] = ReportFile(
            scope=scope,
            path=path,
            sha256=file_sha256(path),
            key_messages=[f"Ключевое сообщение для {scope}: индекс 84,3", "Просрочено мер: 2 из 7 открытых."],
        )
    return out


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    upgrade(url)
    yield url
    dispose_engines()
