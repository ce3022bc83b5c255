"""recipients.yaml on load (issue 14 rows 1 and 10): one plain address per entry, known regions only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cxloop.addresses import address_problem
from cxloop.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

SHIPPED = """national:
  - {name: N, email: national-cx@mintrud.example}
regions:
  "52":
    - {name: D, email: director@cx52.example}
  "66":
    - {name: D, email: director@cx66.example}
"""


def config_with(tmp_path: Path, recipients: str) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    (folder / "recipients.yaml").write_text(recipients, encoding="utf-8")
    return folder


def region_52_entry(email: str) -> str:
    quoted = email.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    return SHIPPED.replace("email: director@cx52.example", f'email: "{quoted}"')


NOT_ONE_ADDRESS = [
    "director@cx52.example,director@cx66.example",
    "director@cx52.example, director@cx66.example",
    "director@cx52.example;director@cx66.example",
    "director@cx52.example director@cx66.example",
    "Director <director@cx66.example>",
    "<director@cx66.example>",
    "director@cx52.example (director@cx66.example)",
    "director@cx52.example\r\nBcc: director@cx66.example",
    "director@cx52.example\nCc: director@cx66.example",
    "director@cx52.example\tdirector@cx66.example",
    '"director@cx66.example"@cx52.example',
    '"a,b"@cx52.example',
    "director@cx66.example@cx52.example",
    "director@[10.0.0.66]",
    "director@10.0.0.66",
    "director@localhost",
    "director",
    "@cx52.example",
    "director@",
    "dir..ector@cx52.example",
    "director@cx52..example",
    "director@-cx52.example",
    "директор@cx52.example",
    "director@cx52.example\\,director@cx66.example",
    "",
]


@pytest.mark.parametrize("email", NOT_ONE_ADDRESS)
def test_an_entry_that_is_not_exactly_one_address_is_refused_naming_the_entry(tmp_path, email):
    folder = config_with(tmp_path, region_52_entry(email))
    with pytest.raises(ConfigError, match=r"recipients\.yaml: regions\.52\[0\]\.email: ") as err:
        load_config(folder)
    # the message names the entry, never the address (it may be a person's)
    assert "cx66" not in str(err.value)


def test_a_national_entry_is_checked_the_same_way(tmp_path):
    text = SHIPPED.replace("national-cx@mintrud.example", '"a@mintrud.example,b@cx66.example"')
    with pytest.raises(ConfigError, match=r"recipients\.yaml: national\[0\]\.email: more than one address"):
        load_config(config_with(tmp_path, text))


@pytest.mark.parametrize(
    "email", ["director@cx52.example", "First.Last+cx@Sub.CX52.example", "o'neil@xn--80ak6aa92e.example"]
)
def test_one_plain_address_is_accepted(tmp_path, email):
    config = load_config(config_with(tmp_path, region_52_entry(email)))
    assert [r.email for r in config.recipients.regions["52"]] == [email]
    assert address_problem(email) is None


@pytest.mark.parametrize("code", ["99", "052", "52 ", "national", "ALL"])
def test_an_entry_for_an_unknown_region_is_refused_naming_it_and_the_configured_regions(tmp_path, code):
    text = SHIPPED + f'  "{code}":\n    - {{name: X, email: director@cx99.example}}\n'
    with pytest.raises(
        ConfigError,
        match=rf"recipients\.yaml: regions\.{code}: unknown region '{code}'; "
        r"configured regions \(offices\.csv\): 10, 52, 66",
    ):
        load_config(config_with(tmp_path, text))


@pytest.mark.parametrize("key", ["052", "52"])
def test_an_unquoted_region_code_is_refused_not_read_as_a_number(tmp_path, key):
    # unquoted, YAML reads 052 as the number 42 and 52 as a number
    text = SHIPPED + f"  {key}:\n    - {{name: X, email: director@cx52.example}}\n"
    with pytest.raises(ConfigError, match=r"recipients\.yaml: regions: region code \d+ is not text: quote it"):
        load_config(config_with(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        (SHIPPED.replace("regions:", "regoins:"), "regoins"),
        (
            SHIPPED.replace(
                "{name: D, email: director@cx66.example}", "{name: D, email: d@cx66.example, cc: x@y.example}"
            ),
            r"regions\.66\[0\]\.cc",
        ),
        (
            SHIPPED.replace(
                "name: D, email: director@cx66.example", 'name: "D\\nBcc: x", email: director@cx66.example'
            ),
            r"regions\.66\[0\]\.name",
        ),
    ],
)
def test_unknown_keys_and_control_characters_are_refused_naming_the_entry(tmp_path, text, entry):
    with pytest.raises(ConfigError, match=rf"recipients\.yaml: {entry}"):
        load_config(config_with(tmp_path, text))


def test_the_shipped_recipients_load():
    config = load_config(ROOT / "config")
    assert sorted(config.recipients.regions) == ["10", "52", "66"]
    assert all(address_problem(r.email) is None for people in config.recipients.regions.values() for r in people)
