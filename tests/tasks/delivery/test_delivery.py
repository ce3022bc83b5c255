"""E-mail delivery of the quarterly reports, against a real SMTP server (aiosmtpd) and a real SQLite file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlmodel import select

from cxloop.files import file_sha256
from cxloop.settings import Settings
from models.db import session_scope
from models.tables import Delivery
from tasks.delivery.archive import archived_report
from tasks.delivery.log import delivery_log
from tasks.delivery.messages import mask_address, mask_addresses, recipients_for
from tasks.delivery.send import mail_reports, resend_deliveries
from tasks.delivery.smtp import SmtpConfigError, smtp_target, smtp_target_from_block
from tasks.reports.render import ReportFile
from tests.smtp_support import (
    QUARTER,
    RecordingHandler,
    RefusingHandler,
    TlsRecordingHandler,
    free_port,
    outbox_settings,
    parse,
    server_tls_context,
    sha,
    smtp_settings,
)

ROOT = Path(__file__).resolve().parents[3]


def deliveries(url: str) -> list[Delivery]:
    with session_scope(url) as s:
        return list(s.exec(select(Delivery).order_by(Delivery.id)).all())


def all_recipients(config) -> dict[str, list[str]]:
    scopes = ["national", *config.recipients.regions]
    return {scope: [r.email for r in recipients_for(scope, config)] for scope in scopes}


def test_each_recipient_gets_only_their_scope_report_with_pdf_and_key_messages(
    db, config, reports, smtp_server, tmp_path
):
    handler = RecordingHandler()
    port = smtp_server(handler)
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, reports, config, smtp_settings(tmp_path, port), retry_delay=0)
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
        first = mail_reports(s, QUARTER, reports, config, settings, retry_delay=0)
    with session_scope(db) as s:
        again = mail_reports(s, QUARTER, reports, config, settings, retry_delay=0)
    assert again.sent == 0 and again.skipped == first.sent
    assert len(handler.messages) == first.sent

    with session_scope(db) as s:
        forced = mail_reports(s, QUARTER, {"66": reports["66"]}, config, settings, force=True, retry_delay=0)
    assert forced.sent == 1
    assert len(handler.messages) == first.sent + 1
    ids = [parse(raw)["Message-ID"] for rcpt, raw in handler.messages if rcpt == ["director@cx66.example"]]
    assert len(set(ids)) == 2  # a forced resend is a new message, not a duplicate an MTA would drop

    changed = ReportFile(scope="10", path=reports["10"].path, key_messages=reports["10"].key_messages, sha256="0" * 64)
    with session_scope(db) as s:
        resent = mail_reports(s, QUARTER, {"10": changed}, config, settings, retry_delay=0)
    assert resent.sent == len(recipients_for("10", config))


def test_outbox_mode_writes_eml_files(db, config, reports, tmp_path):
    settings = outbox_settings(tmp_path)
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, {"52": reports["52"], "national": reports["national"]}, config, settings)
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
        assert mail_reports(s, QUARTER, {"52": reports["52"]}, config, settings).skipped == 2


def test_temporary_451_is_retried_with_backoff_and_then_succeeds(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=1)
    port = smtp_server(handler)
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = mail_reports(
            s,
            QUARTER,
            {"66": reports["66"]},
            config,
            smtp_settings(tmp_path, port),
            retry_delay=0.01,
            sleep=pauses.append,
        )
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
        summary = mail_reports(
            s,
            QUARTER,
            {"52": reports["52"]},
            config,
            smtp_settings(tmp_path, port),
            retry_delay=0.01,
            sleep=pauses.append,
        )
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
        assert (
            mail_reports(s, QUARTER, {"52": reports["52"]}, config, smtp_settings(tmp_path, port), retry_delay=0).sent
            == 2
        )


def test_permanent_rejection_is_not_retried(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=10**6, reply="554 5.7.1 Message rejected")
    port = smtp_server(handler)
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = mail_reports(
            s,
            QUARTER,
            {"66": reports["66"]},
            config,
            smtp_settings(tmp_path, port),
            retry_delay=0.01,
            sleep=pauses.append,
        )
    assert summary.failed == 1 and handler.attempts == 1 and pauses == []
    assert "554" in summary.failures[0].error


def test_unreachable_server_counts_as_temporary_and_is_recorded(db, config, reports, tmp_path):
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = mail_reports(
            s,
            QUARTER,
            {"66": reports["66"]},
            config,
            smtp_settings(tmp_path, free_port()),
            retry_delay=0.01,
            sleep=pauses.append,
        )
    assert summary.failed == 1 and len(pauses) == 2
    assert [r.status for r in deliveries(db)] == ["failed"] * 3


def test_missing_pdf_is_a_failure_not_a_crash(db, config, reports, tmp_path):
    reports["66"].path.unlink()
    with session_scope(db) as s:
        summary = mail_reports(
            s, QUARTER, {"66": reports["66"], "10": reports["10"]}, config, outbox_settings(tmp_path)
        )
    assert summary.failed == 1 and summary.sent == 2
    assert "not found" in summary.failures[0].error
    assert "national" in summary.scopes_without_report


def test_logs_carry_no_addresses_or_bodies(db, config, reports, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="tasks.delivery")
    with session_scope(db) as s:
        mail_reports(s, QUARTER, reports, config, outbox_settings(tmp_path))
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("tasks.delivery."))
    assert logged  # something was logged
    assert "@" not in logged
    assert "Ключевое сообщение" not in logged


# ---------------------------------------------------------------------------
# The delivery log: retries folded into attempts, a refused recipient, re-sends
# ---------------------------------------------------------------------------


def test_451_twice_then_accepted_is_one_delivery_with_three_attempts(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=2)
    port = smtp_server(handler)
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = mail_reports(
            s,
            QUARTER,
            {"66": reports["66"]},
            config,
            smtp_settings(tmp_path, port),
            retry_delay=0.5,
            sleep=pauses.append,
        )
    assert (summary.sent, summary.failed) == (1, 0) and handler.attempts == 3 and len(handler.messages) == 1
    assert pauses == [0.5, 1.0]  # back-off doubles
    rows = deliveries(db)
    assert [r.status for r in rows] == ["failed", "failed", "sent"]
    assert all(r.error.startswith("temporary: 451 4.3.0") for r in rows[:2]) and rows[2].error is None
    with session_scope(db) as s:
        [state] = delivery_log(s, QUARTER)
    assert (state.scope, state.recipient, state.status, state.attempts, state.error) == (
        "66",
        "director@cx66.example",
        "sent",
        3,
        None,
    )
    assert state.report_sha256 == reports["66"].sha256


def test_attempts_and_delay_come_from_the_settings(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=10**6)
    port = smtp_server(handler)
    settings = smtp_settings(tmp_path, port).model_copy(update={"smtp_attempts": 4, "smtp_retry_delay": 0.25})
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, {"66": reports["66"]}, config, settings, sleep=pauses.append)
    assert summary.failed == 1 and handler.attempts == 4 and pauses == [0.25, 0.5, 1.0]


def test_refused_recipient_fails_at_once_others_get_theirs_and_resend_sends_it_later(
    db, config, reports, smtp_server, tmp_path
):
    handler = RefusingHandler({"cx-design@cx52.example"})
    port = smtp_server(handler)
    settings = smtp_settings(tmp_path, port)
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, reports, config, settings, retry_delay=0.01, sleep=pauses.append)
    expected = all_recipients(config)
    total = sum(len(v) for v in expected.values())
    assert (summary.sent, summary.failed) == (total - 1, 1)
    assert handler.refused == ["cx-design@cx52.example"] and pauses == []  # 5xx: not retried
    [failure] = summary.failures
    assert (failure.quarter, failure.scope, failure.recipient) == (QUARTER, "52", "cx-design@cx52.example")
    assert failure.error.startswith("permanent: recipient refused: 550 5.1.1 <cx-design@cx52.example>")
    shown = summary.as_dict()["failures"][0]
    assert (
        shown["recipient"] == "c***@cx52.example"
        and "cx-design@" not in shown["error"]
        and "550 5.1.1" in shown["error"]
    )
    assert summary.per_scope["52"] == {"recipients": 2, "sent": 1, "skipped": 0, "failed": 1}
    assert {rcpt[0] for rcpt, _ in handler.messages} == {e for es in expected.values() for e in es} - {
        "cx-design@cx52.example"
    }

    with session_scope(db) as s:
        failed = delivery_log(s, QUARTER, status="failed")
    assert [(f.scope, f.recipient, f.attempts) for f in failed] == [("52", "cx-design@cx52.example", 1)]
    assert "550 5.1.1" in failed[0].error

    # the mailbox is fixed: the resend sends exactly that message, with region 52's PDF
    handler.refuse.clear()
    before = len(handler.messages)
    with session_scope(db) as s:
        again = resend_deliveries(s, config, settings, QUARTER, retry_delay=0)
    assert (again.sent, again.failed, again.skipped) == (1, 0, 0)
    [(rcpt, raw)] = handler.messages[before:]
    assert rcpt == ["cx-design@cx52.example"]
    pdf = next(parse(raw).iter_attachments())
    assert pdf.get_filename() == f"cx-report_{QUARTER}_52_ru.pdf" and sha(pdf.get_content()) == reports["52"].sha256
    assert "Ключевое сообщение для 52" in parse(raw).get_body(("plain",)).get_content()  # kept next to the PDF
    with session_scope(db) as s:
        assert delivery_log(s, QUARTER, status="failed") == []
        state = next(st for st in delivery_log(s, QUARTER) if st.recipient == "cx-design@cx52.example")
        assert (state.status, state.attempts) == ("sent", 2)
        # nothing failed any more: a second resend sends nothing
        assert resend_deliveries(s, config, settings, QUARTER, retry_delay=0).per_scope == {}
    assert len(handler.messages) == before + 1


def test_every_message_carries_exactly_its_own_region_pdf(db, config, reports, smtp_server, tmp_path):
    """Two regions + national: parse every received message and compare attachments by name and content hash."""
    chosen = {scope: reports[scope] for scope in ("national", "52", "66")}
    hashes = {scope: r.sha256 for scope, r in chosen.items()}
    assert len(set(hashes.values())) == 3  # the PDFs differ, so a mix-up would show
    handler = RecordingHandler()
    port = smtp_server(handler)
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, chosen, config, smtp_settings(tmp_path, port), retry_delay=0)
    assert summary.scopes_without_report == ["10"] and summary.failed == 0

    received: dict[str, list[tuple[str, str]]] = {}
    for rcpt_tos, raw in handler.messages:
        msg = parse(raw)
        assert rcpt_tos == [msg["To"]] and msg["Cc"] is None and msg["Bcc"] is None
        pdfs = [(a.get_filename(), sha(a.get_content())) for a in msg.iter_attachments()]
        received.setdefault(rcpt_tos[0], []).extend(pdfs)
    own = {e.lower(): scope for scope in chosen for e in (r.email for r in recipients_for(scope, config))}
    assert set(received) == set(own)  # region 10's people got nothing: its report was not in this run
    for address, pdfs in received.items():
        scope = own[address]
        assert pdfs == [(f"cx-report_{QUARTER}_{scope}_ru.pdf", hashes[scope])]
        others = {h for sc, h in hashes.items() if sc != scope}
        assert not others & {h for _, h in pdfs}


def test_a_report_filed_under_another_scope_is_refused_before_anything_is_sent(
    db, config, reports, smtp_server, tmp_path
):
    handler = RecordingHandler()
    port = smtp_server(handler)
    wrong_name = ReportFile(scope="52", path=reports["66"].path, key_messages=[], sha256=reports["66"].sha256)
    for bad in ({"national": reports["national"], "52": reports["66"]}, {"52": wrong_name}):
        with session_scope(db) as s, pytest.raises(ValueError, match="nothing sent"):
            mail_reports(s, QUARTER, bad, config, smtp_settings(tmp_path, port), retry_delay=0)
    assert handler.messages == [] and deliveries(db) == []


def test_resend_follows_the_current_recipients_list(db, config, reports, smtp_server, tmp_path):
    handler = RecordingHandler(fail_times=10**6)
    port = smtp_server(handler)
    settings = smtp_settings(tmp_path, port)
    with session_scope(db) as s:
        assert mail_reports(s, QUARTER, {"52": reports["52"]}, config, settings, attempts=1).failed == 2
    # cx-design is taken off region 52's list (and put on region 66's) before the resend
    changed = config.model_copy(deep=True)
    moved = changed.recipients.regions["52"].pop(1)
    assert moved.email == "cx-design@cx52.example"
    changed.recipients.regions["66"].append(moved)
    handler.fail_times = 0
    with session_scope(db) as s:
        summary = resend_deliveries(s, changed, settings, QUARTER, attempts=1)
    assert summary.sent == 1 and summary.not_recipients == [(QUARTER, "52", "cx-design@cx52.example")]
    assert [rcpt for rcpt, _ in handler.messages] == [["director@cx52.example"]]


def test_resend_all_sends_again_what_was_sent_with_a_new_message_id(db, config, reports, tmp_path, smtp_server):
    handler = RecordingHandler()
    port = smtp_server(handler)
    settings = smtp_settings(tmp_path, port)
    with session_scope(db) as s:
        mail_reports(s, QUARTER, {"66": reports["66"]}, config, settings)
        assert resend_deliveries(s, config, settings, QUARTER).per_scope == {}  # nothing failed
        summary = resend_deliveries(s, config, settings, QUARTER, failed_only=False)
    assert summary.sent == 1 and len(handler.messages) == 2
    assert len({parse(raw)["Message-ID"] for _, raw in handler.messages}) == 2


def test_unusable_smtp_settings_are_logged_as_failures_to_resend(db, config, reports, tmp_path):
    settings = Settings(
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_security="starttls",
        smtp_ca_file=tmp_path / "missing-ca.pem",
        out_dir=tmp_path / "out",
    )
    with pytest.raises(SmtpConfigError, match="missing-ca.pem"):
        smtp_target(settings)
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, {"66": reports["66"]}, config, settings)
    assert summary.failed == 1 and "SMTP settings unusable" in summary.failures[0].error
    assert [(r.status, r.transport) for r in deliveries(db)] == [("failed", "smtp")]


def test_key_messages_are_kept_with_the_pdf_and_rebuilt_when_it_changed(db, config, reports, tmp_path):
    with session_scope(db) as s:
        mail_reports(s, QUARTER, {"52": reports["52"]}, config, outbox_settings(tmp_path))
        kept = archived_report(s, QUARTER, "52", config, reports["52"].path)
        assert kept.key_messages == reports["52"].key_messages and kept.sha256 == reports["52"].sha256
        with reports["52"].path.open("ab") as fh:  # the PDF changed since: its kept messages no longer apply
            fh.write(b"\n% changed\n")
        rebuilt = archived_report(s, QUARTER, "52", config, reports["52"].path)
        assert rebuilt.sha256 != reports["52"].sha256
        assert rebuilt.key_messages and all("Ключевое сообщение" not in m for m in rebuilt.key_messages)
        assert archived_report(s, QUARTER, "52", config, tmp_path / "nowhere.pdf") is None


def test_masking():
    assert mask_address("director@cx52.example") == "d***@cx52.example"
    assert mask_address("not-an-address") == "***"
    text = "550 <cx-design@cx52.example> and national-cx@mintrud.example unknown"
    assert mask_addresses(text) == "550 <c***@cx52.example> and n***@mintrud.example unknown"


def test_security_setting_reads_none_as_plain_and_refuses_the_unknown():
    from pydantic import ValidationError

    assert Settings(_env_file=None, smtp_security="none").smtp_security == "plain"
    assert Settings(_env_file=None, smtp_security="PLAIN").effective_smtp_port == 25
    assert Settings(_env_file=None, smtp_security="ssl").effective_smtp_port == 465
    with pytest.raises(ValidationError):
        Settings(_env_file=None, smtp_security="tls-maybe")


# ---------------------------------------------------------------------------
# TLS: implicit (ssl) and STARTTLS against aiosmtpd with a certificate made here
# ---------------------------------------------------------------------------


@pytest.fixture
def tls_server(tls_files):
    started = []

    def start(handler, mode: str, **smtp_kwargs) -> int:
        port = free_port()
        context = server_tls_context(tls_files)
        if mode == "ssl":
            controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=context, **smtp_kwargs)
        else:
            controller = Controller(
                handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True, **smtp_kwargs
            )
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def tls_settings(tmp_path, port, security, **extra) -> Settings:
    return Settings(
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=security,
        smtp_timeout=10,
        out_dir=tmp_path / "out",
        mail_from="cxloop@cx.example",
        **extra,
    )


def test_ssl_delivers_with_the_ca_file_and_refuses_an_unknown_certificate(
    db, config, reports, tls_server, tls_files, tmp_path
):
    handler = TlsRecordingHandler()
    port = tls_server(handler, "ssl")
    with session_scope(db) as s:
        ok = mail_reports(
            s,
            QUARTER,
            {"66": reports["66"]},
            config,
            tls_settings(tmp_path, port, "ssl", smtp_ca_file=tls_files["ca"]),
            retry_delay=0,
        )
    assert ok.sent == 1 and handler.over_tls == [True]
    assert next(parse(handler.messages[0][1]).iter_attachments()).get_content() == reports["66"].path.read_bytes()

    # the system CAs do not know the test CA: permanent, one attempt, nothing delivered
    pauses: list[float] = []
    with session_scope(db) as s:
        bad = mail_reports(
            s,
            QUARTER,
            {"10": reports["10"]},
            config,
            tls_settings(tmp_path, port, "ssl"),
            retry_delay=0.01,
            sleep=pauses.append,
        )
    assert bad.failed == 2 and pauses == [] and len(handler.messages) == 1
    assert all(f.error.startswith("permanent: TLS certificate rejected") for f in bad.failures)

    # verification turned off (a relay with its own certificate): delivered
    with session_scope(db) as s:
        unverified = mail_reports(
            s,
            QUARTER,
            {"10": reports["10"]},
            config,
            tls_settings(tmp_path, port, "ssl", smtp_verify=False),
            retry_delay=0,
        )
    assert unverified.sent == 2 and handler.over_tls == [True, True, True]


def test_starttls_upgrades_then_logs_in(db, config, reports, tls_server, tls_files, tmp_path):
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[str, bool]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"cxloop" and auth_data.password == b"s3cret"
        logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 235 / 535 itself

    handler = TlsRecordingHandler()
    port = tls_server(handler, "starttls", authenticator=authenticator, auth_require_tls=True)
    settings = tls_settings(
        tmp_path, port, "starttls", smtp_ca_file=tls_files["ca"], smtp_user="cxloop", smtp_password="s3cret"
    )
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, {"66": reports["66"]}, config, settings, retry_delay=0)
    assert summary.sent == 1 and handler.over_tls == [True] and logins == [("cxloop", True)]

    wrong = settings.model_copy(update={"smtp_password": SecretStr("wrong")})
    pauses: list[float] = []
    with session_scope(db) as s:
        refused = mail_reports(
            s, QUARTER, {"66": reports["66"]}, config, wrong, force=True, retry_delay=0.01, sleep=pauses.append
        )
    assert refused.failed == 1, refused
    assert pauses == [] and refused.failures[0].error.startswith("permanent: 535"), refused.failures[0].error

    # "plain" to a server that insists on STARTTLS: refused (5xx), the message never goes in clear
    with session_scope(db) as s:
        plain = mail_reports(
            s, QUARTER, {"66": reports["66"]}, config, tls_settings(tmp_path, port, "plain"), force=True, retry_delay=0
        )
    assert plain.failed == 1 and plain.failures[0].error.startswith("permanent: 530")
    assert len(handler.messages) == 1


def test_ssl_to_a_plain_server_is_a_configuration_error(db, config, reports, smtp_server, tmp_path):
    port = smtp_server(RecordingHandler())
    pauses: list[float] = []
    with session_scope(db) as s:
        summary = mail_reports(
            s,
            QUARTER,
            {"66": reports["66"]},
            config,
            tls_settings(tmp_path, port, "ssl"),
            retry_delay=0.01,
            sleep=pauses.append,
        )
    assert summary.failed == 1 and pauses == []
    assert summary.failures[0].error.startswith("permanent: TLS handshake failed")


# ---------------------------------------------------------------------------
# prefect-email's EmailServerCredentials block (loading by name is tested with the flow)
# ---------------------------------------------------------------------------


def test_email_server_credentials_block_maps_onto_the_smtp_target(tmp_path, tls_files):
    prefect_email = pytest.importorskip("prefect_email")
    settings = Settings(_env_file=None, smtp_ca_file=tls_files["ca"], smtp_timeout=7)
    cases = [
        (
            dict(smtp_server="mail.cx.example", smtp_type="STARTTLS", username="bot", password="pw"),
            ("mail.cx.example", 587, "starttls", "bot", "pw", True),
        ),
        (
            dict(smtp_server="gmail", smtp_type="SSL", smtp_port=2465, verify=False),
            ("smtp.gmail.com", 2465, "ssl", None, None, False),
        ),
        (
            dict(smtp_server="relay.local", smtp_type="INSECURE", username=""),
            ("relay.local", 25, "plain", None, None, True),
        ),
    ]
    for fields, expected in cases:
        target = smtp_target_from_block(prefect_email.EmailServerCredentials(**fields), settings)
        assert (target.host, target.port, target.security, target.username, target.password, target.verify) == expected
        assert target.ca_file == tls_files["ca"] and target.timeout == 7
        assert "pw" not in repr(target) and "pw" not in target.describe()
