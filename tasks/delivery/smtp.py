"""The delivery stage's SMTP transport: which server, how to connect, one message sent.

The server comes from the ``CXLOOP_SMTP_*`` settings or a Prefect ``EmailServerCredentials``
block; :func:`send_smtp` sends one message over ``ssl``, ``starttls`` or ``plain`` and
sorts every failure into temporary (worth a retry) or permanent (not retried).
"""

# How
#     One message per recipient: plain text + HTML alternative with the key messages,
#     the PDF attached. Sent over SMTP when a server is configured, either by the
#     ``CXLOOP_SMTP_*`` settings or by a Prefect ``EmailServerCredentials`` block named
#     in ``CXLOOP_SMTP_BLOCK`` (prefect-email); security ``ssl`` (implicit TLS),
#     ``starttls`` or ``plain`` (local relays), certificates verified against the system
#     CAs or ``CXLOOP_SMTP_CA_FILE``. Without a server the messages are written as
#     ``.eml`` files to ``<out>/outbox/<quarter>/<scope>__<recipient>.eml`` (archive.py).
#
# Temporary and permanent failures
#     A temporary failure (4xx reply, refused/reset/dropped connection, timeout, TLS
#     connection cut) is worth another try (the retries are in send.py); a permanent
#     failure (5xx reply, rejected login or certificate, a server without STARTTLS) is not.

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from cxloop.settings import Settings

log = logging.getLogger(__name__)

SECURITIES = ("ssl", "starttls", "plain")
SMTP_TIMEOUT = 30.0


class TemporaryDeliveryError(Exception):
    """The server or network may accept the message later (4xx, connection trouble)."""


class PermanentDeliveryError(Exception):
    """Retrying will not help (5xx reply, bad credentials, certificate problem)."""


class SmtpConfigError(ValueError):
    """The SMTP settings cannot be used (unknown Prefect block, missing CA file, prefect-email absent)."""


# ---------------------------------------------------------------------------
# SMTP server: from the settings or a Prefect EmailServerCredentials block
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send: resolved once per run from the settings or a Prefect block."""

    host: str
    port: int
    security: str = "starttls"  # ssl | starttls | plain
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: bool = True
    ca_file: Path | None = None
    timeout: float = SMTP_TIMEOUT
    source: str = "settings"

    def describe(self) -> str:
        """For humans and logs: host, port, security and where it came from; never the credentials."""
        notes = [self.security]
        if self.security != "plain" and not self.verify:
            notes.append("certificate not verified")
        if self.security != "plain" and self.ca_file:
            notes.append(f"CA {self.ca_file}")
        return f"SMTP {self.host}:{self.port} ({', '.join(notes)}; from {self.source})"


def smtp_target(settings: Settings) -> SmtpTarget | None:
    """The configured SMTP server, or None when messages go to the outbox.

    ``CXLOOP_SMTP_BLOCK`` wins over ``CXLOOP_SMTP_HOST`` (the block is the whole server
    definition); the CA file and the timeout come from the settings in both cases.
    Raises :class:`SmtpConfigError` when the settings name something that does not exist.
    """
    if settings.smtp_block:
        if settings.smtp_host:
            log.warning("both CXLOOP_SMTP_BLOCK and CXLOOP_SMTP_HOST are set: using the block")
        return smtp_target_from_block(settings.smtp_block, settings)
    if not settings.smtp_host:
        return None
    target = SmtpTarget(
        host=settings.smtp_host,
        port=settings.effective_smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_user or None,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        verify=settings.smtp_verify,
        ca_file=settings.smtp_ca_file,
        timeout=settings.smtp_timeout,
        source="CXLOOP_SMTP_* settings",
    )
    _check_ca_file(target)
    return target


_BLOCK_SECURITY = {"SSL": "ssl", "STARTTLS": "starttls", "INSECURE": "plain"}


def smtp_target_from_block(block: Any, settings: Settings) -> SmtpTarget:
    """An SMTP target from a prefect-email ``EmailServerCredentials`` block (or its name).

    Mapping: ``smtp_server`` -> host (a well-known name such as ``gmail`` becomes its
    host), ``smtp_port`` or the ``smtp_type``'s default port -> port, ``smtp_type``
    SSL / STARTTLS / INSECURE -> ssl / starttls / plain, ``username``/``password`` -> the
    login (none when the username is empty), ``verify`` -> certificate verification.
    Loading by name needs the Prefect API (the server, or the embedded one).
    """
    if isinstance(block, str):
        try:
            from prefect_email import EmailServerCredentials
        except ImportError as exc:
            raise SmtpConfigError(
                f"CXLOOP_SMTP_BLOCK={block!r} needs the prefect-email package (pip install prefect-email)"
            ) from exc
        name = block
        try:
            block = EmailServerCredentials.load(name)
        except Exception as exc:  # noqa: BLE001 - ValueError for an unknown name, httpx errors for no API
            raise SmtpConfigError(f"cannot load the Prefect EmailServerCredentials block {name!r}: {exc}") from exc
        source = f"Prefect block {name!r}"
    else:
        source = f"Prefect block {getattr(block, '_block_document_name', None) or type(block).__name__}"
    server = getattr(block.smtp_server, "value", block.smtp_server)
    smtp_type = block.smtp_type
    type_name = getattr(smtp_type, "name", str(smtp_type)).upper()
    if type_name not in _BLOCK_SECURITY:
        raise SmtpConfigError(f"{source}: unknown smtp_type {smtp_type!r}")
    port = block.smtp_port or getattr(smtp_type, "value", None)
    if not isinstance(port, int):
        raise SmtpConfigError(f"{source}: no SMTP port")
    password = block.password.get_secret_value() if block.password is not None else None
    target = SmtpTarget(
        host=str(server),
        port=int(port),
        security=_BLOCK_SECURITY[type_name],
        username=block.username or None,
        password=password or None,
        verify=bool(block.verify) if block.verify is not None else True,
        ca_file=settings.smtp_ca_file,
        timeout=settings.smtp_timeout,
        source=source,
    )
    _check_ca_file(target)
    return target


def _check_ca_file(target: SmtpTarget) -> None:
    if target.security != "plain" and target.ca_file is not None and not Path(target.ca_file).is_file():
        raise SmtpConfigError(f"CXLOOP_SMTP_CA_FILE: no such file {target.ca_file}")


def tls_context(target: SmtpTarget) -> ssl.SSLContext:
    """The client TLS context: system CAs (or ``ca_file``), host name checked, unless ``verify`` is off."""
    context = ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)
    if not target.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _classify(exc: BaseException) -> Exception:
    """Map an SMTP/network exception onto temporary (retry) or permanent (give up).

    Replies: 4xx temporary, 5xx permanent (whatever the command: MAIL, RCPT, DATA, AUTH).
    Network: refused, reset, dropped connections, timeouts and DNS trouble are temporary.
    TLS: a rejected certificate or a failed handshake is a configuration problem
    (permanent); a connection cut during TLS is temporary. A server that does not offer
    STARTTLS or an authentication method we speak is permanent.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
        cls = TemporaryDeliveryError if codes and all(400 <= c < 500 for c in codes) else PermanentDeliveryError
        return cls(f"recipient refused: {text}")
    if isinstance(exc, smtplib.SMTPResponseException):
        cls = TemporaryDeliveryError if 400 <= exc.smtp_code < 500 else PermanentDeliveryError
        return cls(f"{exc.smtp_code} {_text(exc.smtp_error)}".strip())
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryDeliveryError(f"server disconnected: {exc}")
    if isinstance(exc, smtplib.SMTPException):  # SMTPNotSupportedError, no auth method, ... (an OSError subclass)
        return PermanentDeliveryError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(f"TLS certificate rejected: {exc.verify_message or exc}")
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return TemporaryDeliveryError(f"TLS connection cut: {exc}")
    if isinstance(exc, ssl.SSLError):
        return PermanentDeliveryError(f"TLS handshake failed (wrong port or security setting?): {exc}")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return TemporaryDeliveryError(f"{type(exc).__name__}: {exc}")
    return PermanentDeliveryError(f"{type(exc).__name__}: {exc}")


#: The headers that name recipients (an MTA run with ``-t`` or a forwarding relay reads them).
RECIPIENT_HEADERS = ("To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc")


def header_recipients(msg: EmailMessage) -> list[str]:
    """Every address the recipient headers of ``msg`` name, read twice: by the RFC 5322
    header parser (``EmailMessage``'s) and by ``email.utils.getaddresses`` (what smtplib
    uses when it is not given an envelope). Both readings are returned, so an address
    either parser sees counts."""
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        for value in msg.get_all(name) or []:
            found.extend(a.addr_spec for a in getattr(value, "addresses", ()))
            found.extend(addr for _, addr in getaddresses([str(value)]) if addr)
    return found


def check_envelope_matches_headers(msg: EmailMessage, to_addrs: Sequence[str]) -> None:
    """Refuse a message whose envelope (RCPT TO) and recipient headers differ, or that has no envelope.

    Raises :class:`PermanentDeliveryError`: nothing is sent."""
    envelope = {a.lower() for a in to_addrs}
    if not envelope or any(not a or any(c in a for c in ",;<>\r\n\t ") for a in to_addrs):
        raise PermanentDeliveryError("refused, nothing sent: the envelope is not a list of single addresses")
    if {a.lower() for a in header_recipients(msg)} != envelope:
        raise PermanentDeliveryError("refused, nothing sent: the recipient headers and the envelope differ")


def send_smtp(msg: EmailMessage, target: SmtpTarget, to_addrs: Sequence[str]) -> None:
    """One SMTP session for one message to exactly ``to_addrs`` (the RCPT TO list);
    raises Temporary/PermanentDeliveryError.

    The envelope is passed to smtplib as given (never derived from the headers), and it
    must name exactly the addresses of the To/Cc/Bcc/Resent-* headers, else nothing is
    sent (:func:`check_envelope_matches_headers`)."""
    check_envelope_matches_headers(msg, to_addrs)
    try:
        context = tls_context(target) if target.security != "plain" else None
    except (OSError, ssl.SSLError) as exc:
        raise PermanentDeliveryError(f"TLS settings unusable: {exc}") from exc
    try:
        if target.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
        with client:
            if target.security == "starttls":
                client.starttls(context=context)
            if target.username:
                client.login(target.username, target.password or "")
            client.send_message(msg, to_addrs=list(to_addrs))
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes unrecorded
        raise _classify(exc) from exc


__all__ = [
    "PermanentDeliveryError",
    "RECIPIENT_HEADERS",
    "SECURITIES",
    "SMTP_TIMEOUT",
    "SmtpConfigError",
    "SmtpTarget",
    "TemporaryDeliveryError",
    "check_envelope_matches_headers",
    "header_recipients",
    "send_smtp",
    "smtp_target",
    "smtp_target_from_block",
    "tls_context",
]
