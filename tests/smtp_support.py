"""Shared helpers of the SMTP tests: aiosmtpd handlers, a free port, a parsed message,
a seeded quarter, settings for an SMTP server or the outbox, and a throw-away CA with a
server certificate for the TLS tests.

A plain module (no fixtures, no tests): the ``tls_files`` fixture is in tests/conftest.py."""

from __future__ import annotations

import hashlib
import socket
import ssl
from datetime import UTC
from email import policy
from email.parser import BytesParser
from pathlib import Path

from cxloop.quarters import Quarter
from cxloop.settings import Settings
from models.db import session_scope

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


class RefusingHandler(RecordingHandler):
    """Accepts every message, but answers RCPT for the addresses in ``refuse`` with ``reply``."""

    def __init__(self, refuse: set[str], reply: str = "550 5.1.1 <{addr}>: mailbox unavailable") -> None:
        super().__init__()
        self.refuse = set(refuse)
        self.reply = reply
        self.refused: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            self.refused.append(address)
            return self.reply.format(addr=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seed_quarter(url: str, quarter: str = QUARTER, regions: dict[str, float] | None = None) -> None:
    """A little of a quarter's results, enough for distinct reports: feedback rows and the index per region.

    ``regions``: region code -> composite index (default 52: 81.7, 66: 77.5; region 10 gets nothing).
    """
    from datetime import date

    from models.tables import Feedback, IndexResult

    regions = regions or {"52": 81.7, "66": 77.5}
    day = Quarter.parse(quarter).start
    with session_scope(url) as s:
        s.add(
            IndexResult(
                quarter=quarter,
                level="country",
                unit_code="RU",
                client_type="composite",
                index=sum(regions.values()) / len(regions),
                n=600,
                stars=3,
                sufficient_sample=True,
            )
        )
        for i, (region, value) in enumerate(sorted(regions.items())):
            s.add(
                IndexResult(
                    quarter=quarter,
                    level="region",
                    unit_code=region,
                    region_code=region,
                    client_type="composite",
                    index=value,
                    ci_low=value - 2,
                    ci_high=value + 2,
                    n=300,
                    stars=3,
                    sufficient_sample=True,
                )
            )
            for k in range(3 + i):
                s.add(
                    Feedback(
                        dedup_key=f"{quarter}-{region}-{k}",
                        channel="contact_center",
                        source_file="seed.csv",
                        source_row=k + 2,
                        received_at=date(day.year, day.month, 10),
                        quarter=quarter,
                        office_code=f"{region}-01",
                        region_code=region,
                        client_type="citizen",
                        rating=4,
                    )
                )


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A throw-away CA and a server certificate it signed for 127.0.0.1 / localhost, as PEM files in ``folder``."""
    import ipaddress
    from datetime import datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cxloop test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def server_tls_context(tls_files) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    return context


class TlsRecordingHandler(RecordingHandler):
    """Records, with each message, whether it arrived over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []

    async def handle_DATA(self, server, session, envelope):
        self.over_tls.append(session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


def smtp_settings(tmp_path: Path, port: int) -> Settings:
    """Settings that send through the plain SMTP server on ``port`` (no TLS), out dir in ``tmp_path``."""
    return Settings(
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        out_dir=tmp_path / "out",
        mail_from="cxloop@cx.example",
    )


def outbox_settings(tmp_path: Path) -> Settings:
    """Settings without SMTP: messages go to the outbox folder in ``tmp_path``."""
    return Settings(_env_file=None, smtp_host=None, out_dir=tmp_path / "out", mail_from="cxloop@cx.example")
