"""Tombstones: an address as erasure matches it (decoded, normalised, also inside a longer
name), its salted hash, and the tombstones the loaders read before each load.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from crm_funnel.warehouse.backend import Backend, Execute

# what the dbt models strip around an email (staging: strip_whitespace)
EMAIL_WHITESPACE = " \t\r\n\f"

# JSON string escapes (also decoded in text that is not valid JSON: a bad line)
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([\"\\/bfnrt]))")
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# an address: a local part, @, a domain (after case folding, so lower-case)
_LOCAL_SYMBOLS = "_.!#$%&'*+=?^`{|}~-"  # and letters and digits
_ADDRESS = re.compile(r"([\w.!#$%&'*+=?^`{|}~-]+)@([\w-]+(?:\.[\w-]+)*)")
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)*")


def _unescape(match: re.Match[str]) -> str:
    code, char = match.groups()
    if code is not None:
        return chr(int(code, 16))
    return _SIMPLE_ESCAPES.get(char, char)


def canonical_text(text: str) -> str:
    """The text with JSON escapes decoded, in Unicode NFC, case-folded."""
    if "\\" in text:
        text = _ESCAPE.sub(_unescape, text)
        # a surrogate pair written as two escapes is one character
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if text.isascii():  # the common case, and the same result, faster
        return text.lower()
    return unicodedata.normalize("NFC", text).casefold()


def _domain(domain: str) -> str:
    """IDN labels (``xn--...``) decoded, so both spellings of a domain are one."""
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError, ValueError):  # else kept as written
                label = canonical_text(label[4:].encode("ascii").decode("punycode"))
        labels.append(label)
    return ".".join(labels)


def addresses_in(text: str) -> set[str]:
    """Every normalised address the text mentions, also inside a longer name: for
    ``export-victim@erase.io.ndjson``, each local part that starts after a non-alphanumeric
    character (``victim``) with each domain that ends before one (``erase.io``). So
    ``avictim@erase.io`` is another person."""
    text = canonical_text(text)
    found: set[str] = set()
    at = text.find("@")
    while at >= 0:
        start = at  # the local part: back over the characters an address may hold
        while start and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_SYMBOLS):
            start -= 1
        domain = _DOMAIN.match(text, at + 1)
        if start < at and domain:
            local, name = text[start:at], _domain(domain.group())
            starts = [0] + [i + 1 for i, c in enumerate(local[:-1]) if not c.isalnum()]
            ends = [j for j, c in enumerate(name) if j and not c.isalnum()] + [len(name)]
            found.update(f"{local[s:]}@{name[:e]}" for s in starts for e in ends)
        at = text.find("@", at + 1)
    return found


def normalize_email(value: Any) -> str | None:
    """The address as erasure matches it (see ``addresses_in``); None if it is not one."""
    if not isinstance(value, str):
        return None
    text = canonical_text(value.strip(EMAIL_WHITESPACE))
    match = _ADDRESS.fullmatch(text)
    if match is None:
        return None
    return f"{match.group(1)}@{_domain(match.group(2))}"


def email_hash(salt: str, email: str) -> str:
    return hashlib.sha256(f"{salt}:{email}".encode("utf-8", "surrogatepass")).hexdigest()


def redacted_file(salt: str, name: str) -> str:
    """What replaces a file name that mentions a forgotten person: stable per name, so the
    rows of one file still group together."""
    return f"<erased file {email_hash(salt, name)[:16]}>"


@dataclass(frozen=True)
class Tombstones:
    salt: str
    hashes: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def mentioned_in(self, text: str) -> bool:
        """Whether the text mentions a forgotten person's address (in any spelling)."""
        return any(email_hash(self.salt, a) in self.hashes for a in addresses_in(text))

    def redact(self, source_file: str) -> str:
        """The file name as stored: redacted if it mentions a forgotten person."""
        if self and self.mentioned_in(source_file):
            return redacted_file(self.salt, source_file)
        return source_file


NO_TOMBSTONES = Tombstones("", frozenset())


def read_tombstones(backend: Backend) -> Tombstones:
    def work(execute: Execute) -> Tombstones:
        salt = execute(f"select salt from {backend.schema}.erasure_salt")
        hashes = execute(f"select email_hash from {backend.schema}.erasures")
        return Tombstones(salt[0][0] if salt else "", frozenset(row[0] for row in hashes))

    return backend.transaction("reading the erasure tombstones", work)
