"""``cxloop report`` and ``cxloop deliveries``: in-process, a real SQLite file, real PDFs,
a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from cxloop.cli import app
from tests.smtp_support import RefusingHandler, free_port, parse, seed_quarter, sha

runner = CliRunner()
Q = "2026Q3"
WIDE = {"COLUMNS": "300"}  # tables wrap at the terminal width; the assertions read whole lines


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture()
def smtp(env, monkeypatch):
    """An SMTP server on 127.0.0.1 that refuses what its handler's ``refuse`` set holds; CXLOOP_SMTP_* point at it."""
    from cxloop.settings import reset_settings_cache

    handler = RefusingHandler(set())
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    for name, value in {
        "CXLOOP_SMTP_HOST": "127.0.0.1",
        "CXLOOP_SMTP_PORT": str(port),
        "CXLOOP_SMTP_SECURITY": "plain",
        "CXLOOP_SMTP_RETRY_DELAY": "0",
        "CXLOOP_MAIL_FROM": "cxloop@cx.example",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CXLOOP_SMTP_BLOCK", raising=False)
    reset_settings_cache()
    yield handler
    controller.stop()
    reset_settings_cache()


@pytest.fixture()
def no_smtp(env, monkeypatch):
    from cxloop.settings import reset_settings_cache

    for name in ("CXLOOP_SMTP_HOST", "CXLOOP_SMTP_BLOCK"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    return env


def test_no_data_for_the_quarter_exits_2_and_writes_nothing(no_smtp, db_url):
    seed_quarter(db_url)  # 2026Q3 has data, 2026Q1 has none
    result = runner.invoke(app, ["report", "--quarter", "2026Q1"], env=WIDE)
    assert result.exit_code == 2, result.output
    assert "no data for 2026Q1" in one_line(result.stderr) and "Traceback" not in result.output
    assert not (no_smtp.out_dir / "reports" / "2026Q1").exists()

    region_10 = runner.invoke(app, ["report", "--quarter", Q, "--region", "10"], env=WIDE)
    assert region_10.exit_code == 2 and "no data for 2026Q3 in region 10" in one_line(region_10.stderr)

    unknown = runner.invoke(app, ["report", "--quarter", Q, "--region", "99"], env=WIDE)
    assert unknown.exit_code == 2 and "unknown region '99'" in one_line(unknown.stderr)
    assert runner.invoke(app, ["report", "--quarter", "2026Q5"]).exit_code == 2  # not a quarter
    assert runner.invoke(app, ["report", "--quarter", Q, "--lang", "de"]).exit_code == 2


def test_report_writes_every_scope_and_send_without_smtp_writes_eml_files(no_smtp, db_url):
    seed_quarter(db_url)
    result = runner.invoke(app, ["report", "--quarter", Q], env=WIDE)
    assert result.exit_code == 0, result.output
    folder = no_smtp.out_dir / "reports" / Q
    pdfs = sorted(p.name for p in folder.glob("*.pdf"))
    assert pdfs == [f"cx-report_{Q}_{s}_ru.pdf" for s in ("10", "52", "66", "national")]
    assert all((folder / name).read_bytes().startswith(b"%PDF") for name in pdfs)
    assert all(str(folder / name) in one_line(result.stdout) for name in pdfs)
    assert not (no_smtp.out_dir / "outbox").exists()  # no --send: nothing mailed

    sent = runner.invoke(app, ["report", "--quarter", Q, "--region", "52", "--lang", "en", "--send"], env=WIDE)
    assert sent.exit_code == 0, sent.output
    outbox = no_smtp.out_dir / "outbox" / Q
    text = one_line(sent.stdout)
    assert (
        f"messages written as .eml files to {outbox.resolve()}" in text
        and "2 sent, 0 skipped (already sent), 0 failed" in text
    )
    assert sorted(p.name for p in outbox.iterdir()) == [
        "52__cx-design@cx52.example.eml",
        "52__director@cx52.example.eml",
    ]
    msg = parse((outbox / "52__director@cx52.example.eml").read_bytes())
    pdf = next(msg.iter_attachments())
    assert pdf.get_filename() == f"cx-report_{Q}_52_en.pdf"
    assert sha(pdf.get_content()) == sha((folder / f"cx-report_{Q}_52_en.pdf").read_bytes())
    assert msg["Subject"].startswith("Client experience")  # the e-mail is in the report's language

    listed = runner.invoke(app, ["deliveries", "list", "--quarter", Q, "--json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["scope"], r["recipient"], r["status"], r["transport"], r["attempts"]) for r in rows] == [
        ("52", "c***@cx52.example", "sent", "outbox", 1),
        ("52", "d***@cx52.example", "sent", "outbox", 1),
    ]


def test_send_with_a_refused_recipient_exits_1_and_resend_delivers_it(smtp, db_url):
    seed_quarter(db_url)
    smtp.refuse.add("cx-design@cx52.example")
    result = runner.invoke(app, ["report", "--quarter", Q, "--send"], env=WIDE)
    assert result.exit_code == 1, result.output
    out, err = one_line(result.stdout), one_line(result.stderr)
    assert "e-mail via SMTP 127.0.0.1" in out and "5 sent, 0 skipped (already sent), 1 failed" in out
    assert "not delivered: 1 (the PDFs stay in the archive)" in err
    assert (
        f"{Q} 52 c***@cx52.example cx-report_{Q}_52_ru.pdf permanent: recipient refused: 550 5.1.1 <c***@cx52.example>"
        in err
    )
    assert f"cxloop deliveries resend --quarter {Q}" in err
    assert "cx-design@" not in result.output  # addresses are masked in what the command prints

    # every message carries its own scope's PDF, nobody else's
    from cxloop.settings import get_settings

    folder = get_settings().out_dir / "reports" / Q
    for rcpt, raw in smtp.messages:
        scope = {"national-cx@mintrud.example": "national"}.get(rcpt[0]) or rcpt[0].split("@cx")[1].split(".")[0]
        pdf = next(parse(raw).iter_attachments())
        assert pdf.get_filename() == f"cx-report_{Q}_{scope}_ru.pdf"
        assert sha(pdf.get_content()) == sha((folder / pdf.get_filename()).read_bytes())

    failed = runner.invoke(app, ["deliveries", "list", "--quarter", Q, "--status", "failed", "--json"])
    [row] = [json.loads(line) for line in failed.stdout.splitlines()]
    assert (row["scope"], row["recipient"], row["attempts"], row["status"]) == ("52", "c***@cx52.example", 1, "failed")
    assert "550 5.1.1" in row["error"] and "cx-design@" not in row["error"]
    shown = runner.invoke(app, ["deliveries", "list", "--status", "failed", "--show-addresses"], env=WIDE)
    assert "cx-design@cx52.example" in shown.stdout and "1 deliveries: 0 sent, 1 failed" in one_line(shown.stdout)

    smtp.refuse.clear()
    before = len(smtp.messages)
    again = runner.invoke(app, ["deliveries", "resend", "--quarter", Q], env=WIDE)
    assert again.exit_code == 0, again.output
    assert "1 sent, 0 skipped (already sent), 0 failed" in one_line(again.stdout)
    assert [rcpt for rcpt, _ in smtp.messages[before:]] == [["cx-design@cx52.example"]]
    assert next(parse(smtp.messages[-1][1]).iter_attachments()).get_filename() == f"cx-report_{Q}_52_ru.pdf"

    table = runner.invoke(app, ["deliveries", "list", "--quarter", Q], env=WIDE)
    assert "6 deliveries: 6 sent, 0 failed" in one_line(table.stdout)
    nothing = runner.invoke(app, ["deliveries", "resend", "--quarter", Q])
    assert nothing.exit_code == 0 and "nothing to resend for 2026Q3: no failed deliveries" in one_line(nothing.stdout)

    # the same PDFs again: everyone already has them
    rerun = runner.invoke(app, ["report", "--quarter", Q, "--send"], env=WIDE)
    assert rerun.exit_code == 0 and "0 sent, 6 skipped (already sent), 0 failed" in one_line(rerun.stdout)


def test_temporary_failures_are_retried_and_shown_as_attempts(smtp, db_url, monkeypatch):
    seed_quarter(db_url)
    fails = {"n": 2}
    original = smtp.handle_DATA

    async def flaky(server, session, envelope):
        if fails["n"]:
            fails["n"] -= 1
            return "451 4.3.0 Try again later"
        return await original(server, session, envelope)

    monkeypatch.setattr(smtp, "handle_DATA", flaky)
    result = runner.invoke(app, ["report", "--quarter", Q, "--region", "66", "--send"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "1 sent, 0 skipped (already sent), 0 failed" in one_line(result.stdout)
    [row] = [json.loads(line) for line in runner.invoke(app, ["deliveries", "list", "--json"]).stdout.splitlines()]
    assert (row["scope"], row["status"], row["attempts"], row["error"]) == ("66", "sent", 3, None)
