"""The ``send-reports`` flow on a real (ephemeral) Prefect API, with a real SMTP server (aiosmtpd):
Partial when a message was not delivered, a masked artifact, re-send of the failed ones,
reuse of the archived PDFs, and the SMTP server taken from a prefect-email block."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from prefect.utilities.callables import parameter_schema
from typer.testing import CliRunner

from tests.smtp_support import (
    RefusingHandler,
    TlsRecordingHandler,
    free_port,
    parse,
    seed_quarter,
    server_tls_context,
    sha,
)

Q = "2026Q3"
ALL_ADDRESSES = [
    "national-cx@mintrud.example",
    "director@cx52.example",
    "cx-design@cx52.example",
    "director@cx66.example",
    "director@cx10.example",
    "wg@cx10.example",
]


def _artifacts(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def _use(monkeypatch, **variables):
    from cxloop.settings import reset_settings_cache

    for name in ("CXLOOP_SMTP_HOST", "CXLOOP_SMTP_BLOCK", "CXLOOP_SMTP_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()


@pytest.fixture()
def smtp(env, monkeypatch):
    handler = RefusingHandler(set())
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    _use(
        monkeypatch,
        CXLOOP_SMTP_HOST="127.0.0.1",
        CXLOOP_SMTP_PORT=str(port),
        CXLOOP_SMTP_SECURITY="plain",
        CXLOOP_SMTP_RETRY_DELAY="0",
    )
    yield handler
    controller.stop()


def test_parameters_are_typed_for_the_ui():
    from flows.delivery import send_reports

    props = parameter_schema(send_reports).model_dump()["properties"]
    assert props["quarter"]["pattern"] == r"^\d{4}Q[1-4]$"
    assert props["lang"]["enum"] == ["ru", "en", "fi"] and props["lang"]["default"] == "ru"
    assert props["resend_failed_only"]["default"] is False and props["force"]["default"] is False
    with pytest.raises(Exception, match="2026Q5|pattern"):
        send_reports.validate_parameters({"quarter": "2026Q5"})


def test_partial_when_a_recipient_is_refused_then_resend_and_reuse(smtp, env, db_url, prefect_harness):
    from flows.delivery import send_reports

    seed_quarter(db_url)
    smtp.refuse.add("cx-design@cx52.example")
    state = send_reports(quarter=Q, return_state=True)
    assert state.is_completed() and state.name == "Partial"
    assert "1 of 6 e-mail(s) not delivered" in state.message
    result = state.result()
    assert (result["sent"], result["skipped"], result["failed"], result["mode"]) == (5, 0, 1, "deliver")
    assert result["failures"] == [
        {
            "quarter": Q,
            "scope": "52",
            "recipient": "c***@cx52.example",
            "report": f"cx-report_{Q}_52_ru.pdf",
            "error": "permanent: recipient refused: 550 5.1.1 <c***@cx52.example>: mailbox unavailable",
        }
    ]
    folder = env.out_dir / "reports" / Q
    assert sorted(result["reports"]) == sorted(p.name for p in folder.glob("*.pdf")) and len(result["reports"]) == 4
    for rcpt, raw in smtp.messages:  # each got its own scope's PDF
        pdf = next(parse(raw).iter_attachments())
        scope = pdf.get_filename().split("_")[2]
        assert (
            rcpt[0]
            in {
                "national": ALL_ADDRESSES[:1],
                "52": ALL_ADDRESSES[1:3],
                "66": ALL_ADDRESSES[3:4],
                "10": ALL_ADDRESSES[4:],
            }[scope]
        )
        assert sha(pdf.get_content()) == sha((folder / pdf.get_filename()).read_bytes())

    [artifact] = [a for a in _artifacts(state.state_details.flow_run_id) if a.key == f"send-reports-{Q.lower()}"]
    md = artifact.data
    assert "| 52 | 2 | 1 | 0 | 1 |" in md and "| national | 1 | 1 | 0 | 0 |" in md
    assert "c***@cx52.example" in md and "550 5.1.1" in md
    assert not [a for a in ALL_ADDRESSES if a in md]  # only masked addresses in the artifact

    # the mailbox is fixed: resend only what failed
    smtp.refuse.clear()
    before = len(smtp.messages)
    resent = send_reports(quarter=Q, resend_failed_only=True, return_state=True)
    assert resent.name == "Completed", resent.message
    assert (resent.result()["sent"], resent.result()["failed"], resent.result()["reports"]) == (1, 0, [])
    assert [rcpt for rcpt, _ in smtp.messages[before:]] == [["cx-design@cx52.example"]]

    # a plain rerun reuses the archive and sends nobody the same PDF twice; force sends again
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.pdf")}
    again = send_reports(quarter=Q)
    assert (again["sent"], again["skipped"]) == (0, 6)
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.pdf")} == stamps  # reused, not rendered again
    forced = send_reports(quarter=Q, region="66", force=True)
    assert (forced["sent"], forced["per_scope"]) == (1, {"66": {"recipients": 1, "sent": 1, "skipped": 0, "failed": 0}})
    assert forced["scopes_without_report"] == []


def test_no_data_and_no_archive_fails_the_run(smtp, env, prefect_harness):
    from flows.delivery import send_reports

    state = send_reports(quarter="2025Q1", return_state=True)
    assert state.is_failed() and "no data for 2025Q1" in state.message
    bad_region = send_reports(quarter=Q, region="99", return_state=True)
    assert bad_region.is_failed() and "unknown region '99'" in bad_region.message
    assert smtp.messages == []


def test_smtp_server_from_an_email_server_credentials_block(env, db_url, monkeypatch, tls_files, prefect_harness):
    """CXLOOP_SMTP_BLOCK names a prefect-email block: STARTTLS with a login, CA from CXLOOP_SMTP_CA_FILE."""
    prefect_email = pytest.importorskip("prefect_email")
    from aiosmtpd.smtp import AuthResult

    from flows.delivery import send_reports

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(auth_data.login.decode())
        return AuthResult(success=auth_data.password == b"block-secret", handled=False)

    handler = TlsRecordingHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls_context(tls_files),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        prefect_email.EmailServerCredentials(
            smtp_server="127.0.0.1",
            smtp_type="STARTTLS",
            smtp_port=port,
            username="cxloop-bot",
            password="block-secret",
        ).save("cx-smtp-test", overwrite=True)
        # a host in the settings too: the block wins
        _use(
            monkeypatch,
            CXLOOP_SMTP_BLOCK="cx-smtp-test",
            CXLOOP_SMTP_CA_FILE=str(tls_files["ca"]),
            CXLOOP_SMTP_HOST="127.0.0.1",
            CXLOOP_SMTP_PORT=str(free_port()),
        )
        seed_quarter(db_url)
        result = send_reports(quarter=Q, region="66")
        assert result["sent"] == 1 and "Prefect block 'cx-smtp-test'" in result["via"] and "starttls" in result["via"]
        assert handler.over_tls == [True] and logins == ["cxloop-bot"]
        assert "block-secret" not in str(result)

        # the CLI refuses an unknown block before writing anything
        from cxloop.cli import app

        _use(monkeypatch, CXLOOP_SMTP_BLOCK="no-such-block")
        refused = CliRunner().invoke(
            app, ["report", "--quarter", Q, "--region", "52", "--send"], env={"COLUMNS": "300"}
        )
        assert refused.exit_code == 2, refused.output
        assert "cannot load the Prefect EmailServerCredentials block 'no-such-block'" in " ".join(
            refused.stderr.split()
        )
        assert not (env.out_dir / "reports" / Q / f"cx-report_{Q}_52_ru.pdf").exists()
    finally:
        controller.stop()
