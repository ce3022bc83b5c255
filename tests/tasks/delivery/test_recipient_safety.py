"""Issue 14 row 1: no path mails a region's PDF outside that region's recipients list.

Real parts: an aiosmtpd SMTP server, a SQLite file, rendered PDFs, the outbox folder.
The configuration is made hostile by building it around the loader's checks
(``model_construct``), and messages are tampered with after they are built: the last
gate before sending (``check_envelope`` and ``send_smtp``'s own envelope check) must
still keep every message inside the scope's list.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from cxloop.config import Recipient, Recipients
from models.db import session_scope
from models.tables import Delivery
from tasks.delivery import send as send_module
from tasks.delivery.messages import MisdirectedMessageError, build_message, check_envelope
from tasks.delivery.send import mail_reports, resend_deliveries
from tasks.delivery.smtp import PermanentDeliveryError, SmtpTarget, header_recipients, send_smtp
from tests.smtp_support import QUARTER, RecordingHandler, outbox_settings, parse, smtp_settings

ROOT = Path(__file__).resolve().parents[3]
LIST_52 = {"director@cx52.example", "cx-design@cx52.example"}

HOSTILE_ENTRIES = [
    "director@cx52.example,director@cx66.example",
    "director@cx52.example, director@cx66.example",
    "director@cx52.example;director@cx66.example",
    "Director 52 <director@cx66.example>",
    '"director@cx52.example" <director@cx66.example>',
    "director@cx66.example (director@cx52.example)",
    "director@cx52.example\r\nBcc: director@cx66.example",
    "director@cx52.example\nCc: director@cx66.example",
]


@pytest.fixture
def smtp_handler(smtp_server):
    """A recording SMTP server: (its handler, its port)."""
    handler = RecordingHandler()
    return handler, smtp_server(handler)


def hostile(config, entry: str):
    """Region 52's list with ``entry`` slipped in, as if the loader's checks had been bypassed."""
    people = [
        Recipient.model_construct(name="", email=entry),
        Recipient.model_construct(name="", email="cx-design@cx52.example"),
    ]
    recipients = Recipients.model_construct(national=[], regions={"52": people})
    return config.model_copy(update={"recipients": recipients})


def addressed(raw: bytes) -> set[str]:
    return {a.lower() for a in header_recipients(parse(raw))}


def rows(url: str) -> list[Delivery]:
    with session_scope(url) as s:
        return list(s.exec(select(Delivery).order_by(Delivery.id)).all())


@pytest.mark.parametrize("entry", HOSTILE_ENTRIES)
def test_a_hostile_entry_never_gets_region_52s_pdf_over_smtp(db, config, reports, smtp_handler, tmp_path, entry):
    handler, port = smtp_handler
    with session_scope(db) as s:
        summary = mail_reports(
            s, QUARTER, {"52": reports["52"]}, hostile(config, entry), smtp_settings(tmp_path, port), retry_delay=0
        )
    for rcpt_tos, raw in handler.messages:
        assert {r.lower() for r in rcpt_tos} <= LIST_52 - {"director@cx52.example"}
        assert addressed(raw) <= LIST_52
    # the hostile entry is refused and recorded as failed; the rest of the list still gets the report
    assert (summary.sent, summary.failed) == (1, 1)
    assert [r.status for r in rows(db) if r.recipient == entry] == ["failed"]


@pytest.mark.parametrize("entry", HOSTILE_ENTRIES)
def test_a_hostile_entry_never_gets_an_eml_in_the_outbox(db, config, reports, tmp_path, entry):
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, {"52": reports["52"]}, hostile(config, entry), outbox_settings(tmp_path))
    written = list((tmp_path / "out" / "outbox" / QUARTER).glob("*.eml"))
    assert [p.name for p in written] == ["52__cx-design@cx52.example.eml"]
    for path in written:
        assert addressed(path.read_bytes()) <= LIST_52
    assert (summary.sent, summary.failed) == (1, 1)


def test_a_resend_of_a_hostile_entry_is_refused_again(db, config, reports, smtp_handler, tmp_path):
    handler, port = smtp_handler
    bad = hostile(config, HOSTILE_ENTRIES[0])
    settings = smtp_settings(tmp_path, port)
    with session_scope(db) as s:
        mail_reports(s, QUARTER, {"52": reports["52"]}, bad, settings, retry_delay=0)
    with session_scope(db) as s:
        again = resend_deliveries(s, bad, settings, QUARTER, retry_delay=0)
    assert again.sent == 0 and again.failed == 1
    assert all(rcpt == ["cx-design@cx52.example"] for rcpt, _ in handler.messages)


TAMPERS = {
    "cc": lambda msg: msg.__setitem__("Cc", "director@cx66.example"),
    "bcc": lambda msg: msg.__setitem__("Bcc", "director@cx66.example"),
    "resent-to": lambda msg: msg.__setitem__("Resent-To", "director@cx66.example"),
    "second-to": lambda msg: msg.set_raw("To", "director@cx66.example"),
    "to-list": lambda msg: msg.replace_header("To", "director@cx52.example, director@cx66.example"),
    "to-other": lambda msg: msg.replace_header("To", "director@cx66.example"),
    "display-name": lambda msg: msg.replace_header("To", '"director@cx52.example" <director@cx66.example>'),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_a_message_with_tampered_headers_is_refused_and_nothing_is_sent(
    db, config, reports, smtp_handler, tmp_path, monkeypatch, tamper
):
    handler, port = smtp_handler

    def tampered(*args, **kwargs) -> EmailMessage:
        msg = build_message(*args, **kwargs)
        TAMPERS[tamper](msg)
        return msg

    monkeypatch.setattr(send_module, "build_message", tampered)
    with session_scope(db) as s:
        summary = mail_reports(s, QUARTER, {"52": reports["52"]}, config, smtp_settings(tmp_path, port), retry_delay=0)
    assert handler.messages == []
    assert (summary.sent, summary.failed) == (0, 2)
    assert {r.status for r in rows(db)} == {"failed"}
    assert all("refused, nothing sent" in (r.error or "") for r in rows(db))


def test_the_gate_checks_envelope_scope_and_attachment(config, reports, tmp_path):
    settings = outbox_settings(tmp_path)
    msg = build_message(QUARTER, reports["52"], "director@cx52.example", config, settings)
    check_envelope(msg, "52", ["director@cx52.example"], config)  # the honest case passes
    for scope, envelope, match in [
        ("52", ["director@cx66.example"], "not on the '52' list"),
        ("52", ["director@cx52.example", "cx-design@cx52.example"], "2 envelope recipients"),
        ("52", [], "0 envelope recipients"),
        ("52", ["director@cx52.example,director@cx66.example"], "not one plain address"),
        ("66", ["director@cx66.example"], "headers do not name exactly"),
    ]:
        with pytest.raises(MisdirectedMessageError, match=match):
            check_envelope(msg, scope, envelope, config)
    # region 52's PDF in a message addressed to region 66's list
    other = build_message(QUARTER, reports["52"], "director@cx66.example", config, settings)
    with pytest.raises(
        MisdirectedMessageError, match="the attached report is of scope '52', the message is for scope '66'"
    ):
        check_envelope(other, "66", ["director@cx66.example"], config)


def test_send_smtp_refuses_an_envelope_that_differs_from_the_headers(config, reports, smtp_handler, tmp_path):
    handler, port = smtp_handler
    msg = build_message(QUARTER, reports["52"], "director@cx52.example", config, outbox_settings(tmp_path))
    target = SmtpTarget(host="127.0.0.1", port=port, security="plain")
    for envelope in (["director@cx66.example"], ["director@cx52.example", "director@cx66.example"], []):
        with pytest.raises(PermanentDeliveryError, match="refused, nothing sent"):
            send_smtp(msg, target, envelope)
    msg["Bcc"] = "director@cx66.example"
    with pytest.raises(PermanentDeliveryError, match="refused, nothing sent"):
        send_smtp(msg, target, ["director@cx52.example"])
    assert handler.messages == []
    del msg["Bcc"]
    send_smtp(msg, target, ["director@cx52.example"])
    assert [rcpt for rcpt, _ in handler.messages] == [["director@cx52.example"]]
