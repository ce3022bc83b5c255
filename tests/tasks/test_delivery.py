"""E-mail delivery of the quarterly reports, against a real SMTP server (aiosmtpd) and a real SQLite file."""

from __future__ import annotations

import logging
import socket
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from cxloop.config import load_config
from cxloop.settings import Settings
from models.db import dispose_engines, session_scope, upgrade
from models.tables import Delivery
from tasks.delivery import deliver_reports, recipients_for
from tasks.reporting import ReportFile, file_sha256, write_reports

ROOT = Path(__file__).resolve().parents[2]
QUARTER = "2026Q3"


class RecordingHandler:
    """Accepts messages, or answers DATA with ``reply`` for the first ``fail_times`` messages."""

    def __init__(self, fail_times: int = 0, reply: str = "451 4.3.0 Try again later") -> None:
        self.fail_times = fail_times
        self.reply = reply
        self.attempts = 0
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.attempts <= self.fail_times:
            return self.reply
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
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


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config")


@pytest.fixture(scope="module")
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
            scope=scope, path=path, sha256=file_sha256(path),
            key_messages=[f"Ключевое сообщение для {scope}: индекс 84,3", "Просрочено мер: 2 из 7 открытых."],
        )
    return out


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    upgrade(url)
    yield url
    dispose_engines()


def smtp_settings(tmp_path: Path, port: int) -> Settings:
    return Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                    out_dir=tmp_path / "out", mail_from="cxloop@cx.example")


def outbox_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, smtp_host=None, out_dir=tmp_path / "out", mail_from="cxloop@cx.example")


def deliveries(url: str) -> list[Delivery]:
    with session_scope(url) as s:
        return list(s.exec(select(Delivery).order_by(Delivery.id)).all())


def all_recipients(config) -> dict[str, list[str]]:
    scopes = ["national", *config.recipients.regions]
    return {scope: [r.email for r in recipients_for(scope, config)] for scope in scopes}


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def test_each_recipient_gets_only_their_scope_report_with_pdf_and_key_messages(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler()
    port = smtp_server(handler)
    with session_scope(db) as s:
        summary = deliver_reports(s, QUARTER, reports, config, smtp_settings(tmp_path, port), retry_delay=0)
    expected = all_recipients(config)
    total = sum(len(v) for v in expected.values())
    assert (summary.sent, summary.skipped, summary.failed) == (total, 0, 0)
    assert len(handler.messages) == total

    email_to_scope = {email: scope for scope, emails in expected.items() for email in emails}
    for rcpt_tos, raw in handler.messages:
        assert len(rcpt_tos) == 1  # one message per recipient: nobody sees the other addresses
        scope = email_to_scope[rcpt_tos[0]]
        msg = parse(raw)
        assert msg["To"] == rcpt_tos[0]
        attachments = list(msg.iter_attachments())
        assert len(attachments) == 1
        pdf = attachments[0]
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_filename() == f"cx-report_{QUARTER}_{scope}_ru.pdf"
        assert pdf.get_content() == reports[scope].path.read_bytes()
        assert pdf.get_content().startswith(b"%PDF")
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert f"Ключевое сообщение для {scope}: индекс 84,3" in text
        assert f"Ключевое сообщение для {scope}: индекс 84,3" in html
        others = [s for s in expected if s != scope]
        assert not any(f"для {o}:" in text for o in others)
        assert QUARTER in msg["Subject"]

    # a region's recipients get that region's report and nothing else
    got = {}
    for rcpt_tos, raw in handler.messages:
        got.setdefault(rcpt_tos[0], []).append(next(parse(raw).iter_attachments()).get_filename())
    assert got["director@cx52.example"] == [f"cx-report_{QUARTER}_52_ru.pdf"]
    assert got["director@cx66.example"] == [f"cx-report_{QUARTER}_66_ru.pdf"]
    assert got["national-cx@mintrud.example"] == [f"cx-report_{QUARTER}_national_ru.pdf"]

    rows = deliveries(db)
    assert len(rows) == total and {r.status for r in rows} == {"sent"} and {r.transport for r in rows} == {"smtp"}
    assert {(r.scope, r.recipient) for r in rows} == {(s, e) for s, es in expected.items() for e in es}
    assert all(r.report_sha256 == reports[r.scope].sha256 for r in rows)


def test_rerun_sends_nothing_until_forced_or_the_report_changes(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler()
    port = smtp_server(handler)
    settings = smtp_settings(tmp_path, port)
    with session_scope(db) as s:
        first = deliver_reports(s, QUARTER, reports, config, settings, retry_delay=0)
    with session_scope(db) as s:
        again = deliver_reports(s, QUARTER, reports, config, settings, retry_delay=0)
    assert again.sent == 0 and again.skipped == first.sent
    assert len(handler.messages) == first.sent

    with session_scope(db) as s:
        forced = deliver_reports(s, QUARTER, {"66": reports["66"]}, config, settings, force=True, retry_delay=0)
    assert forced.sent == 1
    assert len(handler.messages) == first.sent + 1
    ids = [parse(raw)["Message-ID"] for rcpt, raw in handler.messages if rcpt == ["director@cx66.example"]]
    assert len(set(ids)) == 2  # a forced resend is a new message, not a duplicate an MTA would drop

    changed = ReportFile(scope="10", path=reports["10"].path, key_messages=reports["10"].key_messages, sha256="0" * 64)
    with session_scope(db) as s:
        resent = deliver_reports(s, QUARTER, {"10": changed}, config, settings, retry_delay=0)
    assert resent.sent == len(recipients_for("10", config))


def test_outbox_mode_writes_eml_files(db, config, reports, tmp_path):
    settings = outbox_settings(tmp_path)
    with session_scope(db) as s:
        summary = deliver_reports(s, QUARTER, {"52": reports["52"], "national": reports["national"]}, config, settings)
    assert summary.transport == "outbox" and summary.sent == 3 and summary.failed == 0
    outbox = tmp_path / "out" / "outbox" / QUARTER
    assert sorted(p.name for p in outbox.iterdir()) == [
        "52__cx-design@cx52.example.eml",
        "52__director@cx52.example.eml",
        "national__national-cx@mintrud.example.eml",
    ]
    msg = parse((outbox / "52__director@cx52.example.eml").read_bytes())
    assert msg["To"] == "director@cx52.example"
    assert next(msg.iter_attachments()).get_content() == reports["52"].path.read_bytes()
    assert "Ключевое сообщение для 52" in msg.get_body(("plain",)).get_content()
    assert {r.transport for r in deliveries(db)} == {"outbox"}
    with session_scope(db) as s:
        assert deliver_reports(s, QUARTER, {"52": reports["52"]}, config, settings).skipped == 2


def test_temporary_451_is_retried_with_backoff_and_then_succeeds(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=1)
    port = smtp_server(handler)
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = deliver_reports(s, QUARTER, {"66": reports["66"]}, config, smtp_settings(tmp_path, port),
                                  retry_delay=0.01, sleep=pauses.append)
    assert (summary.sent, summary.failed) == (1, 0)
    assert handler.attempts == 2 and len(handler.messages) == 1
    assert pauses == [0.01]
    rows = deliveries(db)
    assert [r.status for r in rows] == ["failed", "sent"]
    assert "451" in rows[0].error


def test_server_that_always_fails_leaves_failed_rows_and_the_pdf(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=10**6)
    port = smtp_server(handler)
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = deliver_reports(s, QUARTER, {"52": reports["52"]}, config, smtp_settings(tmp_path, port),
                                  retry_delay=0.01, sleep=pauses.append)
    assert (summary.sent, summary.failed) == (0, 2)
    assert sorted(f.recipient for f in summary.failures) == ["cx-design@cx52.example", "director@cx52.example"]
    assert all("451" in f.error for f in summary.failures)
    assert handler.attempts == 6  # three attempts per recipient
    assert pauses == [0.01, 0.02, 0.01, 0.02]  # exponential backoff
    rows = deliveries(db)
    assert len(rows) == 6 and {r.status for r in rows} == {"failed"}
    assert reports["52"].path.is_file() and file_sha256(reports["52"].path) == reports["52"].sha256
    # nothing was sent, so a rerun tries again rather than skipping
    handler.fail_times = 0
    with session_scope(db) as s:
        assert deliver_reports(s, QUARTER, {"52": reports["52"]}, config, smtp_settings(tmp_path, port), retry_delay=0).sent == 2


def test_permanent_rejection_is_not_retried(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=10**6, reply="554 5.7.1 Message rejected")
    port = smtp_server(handler)
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = deliver_reports(s, QUARTER, {"66": reports["66"]}, config, smtp_settings(tmp_path, port),
                                  retry_delay=0.01, sleep=pauses.append)
    assert summary.failed == 1 and handler.attempts == 1 and pauses == []
    assert "554" in summary.failures[0].error


def test_unreachable_server_counts_as_temporary_and_is_recorded(db, config, reports, tmp_path):
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = deliver_reports(s, QUARTER, {"66": reports["66"]}, config, smtp_settings(tmp_path, free_port()),
                                  retry_delay=0.01, sleep=pauses.append)
    assert summary.failed == 1 and len(pauses) == 2
    assert [r.status for r in deliveries(db)] == ["failed"] * 3


def test_missing_pdf_is_a_failure_not_a_crash(db, config, reports, tmp_path):
    reports["66"].path.unlink()
    with session_scope(db) as s:
        summary = deliver_reports(s, QUARTER, {"66": reports["66"], "10": reports["10"]}, config, outbox_settings(tmp_path))
    assert summary.failed == 1 and summary.sent == 2
    assert "not found" in summary.failures[0].error
    assert "national" in summary.scopes_without_report


def test_logs_carry_no_addresses_or_bodies(db, config, reports, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="tasks.delivery")
    with session_scope(db) as s:
        deliver_reports(s, QUARTER, reports, config, outbox_settings(tmp_path))
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "tasks.delivery")
    assert logged  # something was logged
    assert "@" not in logged
    assert "Ключевое сообщение" not in logged
