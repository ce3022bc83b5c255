"""Runtime settings, read from the environment (prefix ``CXLOOP_``) or a ``.env`` file.

Every setting is documented in the README's "Settings" table; keep the two in step.
Relative paths are taken against the current working directory, so running from the
repository root gives ``var/``, ``config/`` and ``out/`` next to the code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CXLOOP_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/cxloop.db",
        description="SQLAlchemy URL of the application database (SQLite file by default).",
    )
    config_dir: Path = Field(default=Path("config"), description="User-editable YAML/CSV configuration.")
    data_dir: Path = Field(
        default=Path("var/incoming"),
        description="Drop folder for incoming files: <data_dir>/<quarter>/<channel>*.csv|xlsx|json|jsonl.",
    )
    out_dir: Path = Field(default=Path("out"), description="Reports, register exports and the e-mail outbox.")
    database_password_block: str | None = Field(
        default=None,
        description="name of a Prefect Secret block holding the database password (filled into database_url)",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server; unset (and no smtp_block) = write .eml files to out/outbox/."
    )
    smtp_port: int | None = Field(
        default=None, description="SMTP port; default 465 for ssl, 587 for starttls, 25 for plain."
    )
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["ssl", "starttls", "plain"] = Field(
        default="starttls",
        description="ssl (implicit TLS), starttls, or plain for a local relay; 'none' is read as plain.",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) to trust for the SMTP server's certificate (default: the system's).",
    )
    smtp_verify: bool = Field(default=True, description="verify the SMTP server's TLS certificate and host name")
    smtp_timeout: float = Field(default=30.0, gt=0, description="seconds to wait for the SMTP server in one attempt")
    smtp_block: str | None = Field(
        default=None,
        description="name of a Prefect EmailServerCredentials block (prefect-email) to take the SMTP server from; "
        "overrides smtp_host/port/user/password/security",
    )
    smtp_attempts: int = Field(default=3, ge=1, description="tries per message on temporary SMTP failures")
    smtp_retry_delay: float = Field(
        default=2.0, ge=0, description="first pause between tries, doubled each time (seconds)"
    )
    mail_from: str = "cxloop@localhost"
    dask_address: str | None = Field(
        default=None,
        description="Dask scheduler (tcp://host:8786) for the per-region work of the cycle; unset = local processes",
    )

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _security_alias(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            return {"none": "plain", "insecure": "plain"}.get(value, value)
        return value

    @property
    def effective_smtp_port(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "starttls": 587, "plain": 25}[self.smtp_security]

    def ensure_dirs(self) -> None:
        """Create the folders the default SQLite URL and outputs need."""
        if self.database_url.startswith("sqlite:///") and not self.database_url.startswith("sqlite:////:memory"):
            db_path = Path(self.database_url.removeprefix("sqlite:///"))
            if str(db_path) != ":memory:":
                db_path.parent.mkdir(parents=True, exist_ok=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change CXLOOP_* variables; this makes the next get_settings() read them again."""
    get_settings.cache_clear()
