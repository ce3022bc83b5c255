"""E-mail addresses in the configuration: exactly one plain RFC 5322 address, or a reason why not.

Used on load (``recipients.yaml``, :mod:`cxloop.config`) and again by the delivery stage
just before a message leaves, so a list, a display name or a header injection cannot
widen who receives a report.
"""

from __future__ import annotations

import re
from email.headerregistry import Address

#: RFC 5322 ``atext``: the characters of an unquoted local part (dot-atom).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def address_problem(value: object) -> str | None:
    """Why ``value`` is not exactly one plain e-mail address, or ``None`` when it is.

    Accepted: one RFC 5322 ``addr-spec`` in its plain form, ``local@domain``: the local
    part a dot-atom (letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots between them; at
    most 64 characters), the domain host names with at least one dot (``cx52.example``;
    labels of letters, digits and hyphens, at most 63 each), 254 characters in all, ASCII
    only (write an international domain in its ``xn--`` form). Refused: lists (``,``
    ``;`` or spaces between addresses), display names and angle brackets
    (``Director <d@x.example>``), comments, quoted local parts, address literals
    (``d@[10.0.0.1]``), control characters (CR, LF, tab). The address is never echoed
    (it may be a person's).
    """
    if not isinstance(value, str):
        return f"not text but {type(value).__name__}"
    text = value.strip()
    if not text:
        return "empty address"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a control character (line break, tab): one plain address per entry"
    if not text.isascii():
        return "non-ASCII characters: write the address in ASCII (an international domain in its xn-- form)"
    for sep, what in ((",", "','"), (";", "';'"), (" ", "a space")):
        if sep in text:
            return f"more than one address or extra text ({what} in it): one plain address per entry"
    if any(c in text for c in '<>()"[]\\:'):
        return "display name, brackets, comment or quotes: give the plain address only (local@domain)"
    if text.count("@") != 1:
        return "one '@' expected: one plain address per entry"
    local, _, domain = text.partition("@")
    if not _LOCAL_PART.fullmatch(local) or len(local) > 64:
        return "the part before '@' is not a plain local part (letters, digits, .!#$%&'*+/=?^_`{|}~-; at most 64)"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return "the domain is not a host name with a dot (e.g. cx52.example)"
    if labels[-1].isdigit():
        return "the domain is an IP address, not a host name"
    if len(text) > 254:
        return "longer than 254 characters"
    # The standard library's RFC 5322 parser must read exactly the same single address.
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, IndexError, TypeError) as exc:
        return f"not an RFC 5322 address ({type(exc).__name__})"
    if parsed.addr_spec != text or parsed.username != local or parsed.domain != domain:
        return "not read back as the same single address by an RFC 5322 parser"
    return None


__all__ = ["address_problem"]
