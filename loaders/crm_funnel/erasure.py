"""Erasure: forget a person everywhere, and never land them again.

``funnel-forget EMAIL...`` deletes every raw event and load error that mentions the
normalised email, and the person's rows of the state-history snapshot (which a rebuild
does not replace), and records a salted SHA-256 tombstone in ``raw.erasures``; the loader
skips every record that mentions a tombstoned address (counted as ``erased_skipped``). The next
``dbt build`` rebuilds every model without them. The salt lives in ``raw.erasure_salt``,
so the tombstones never hold an email in clear.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.profile import add_target_arguments, load_target

if TYPE_CHECKING:
    from crm_funnel.loader import Backend, Execute

# what the dbt models strip around an email (staging: strip_whitespace)
EMAIL_WHITESPACE = " \t\r\n\f"


def normalize_email(value: Any) -> str | None:
    """The email as the models normalise it: stripped and lower-cased; None if not a string."""
    if not isinstance(value, str):
        return None
    return value.strip(EMAIL_WHITESPACE).lower() or None


# Anything that looks like an address: the tombstones hold salted hashes, not emails, so a
# record is checked by hashing every address it mentions.
_EMAIL_LIKE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def email_hash(salt: str, email: str) -> str:
    return hashlib.sha256(f"{salt}:{email}".encode("utf-8", "surrogatepass")).hexdigest()


def erasure_ddl(schema: str, text_type: str) -> list[str]:
    return [
        f"""create table if not exists {schema}.erasures (
            email_hash {text_type} primary key, erased_at timestamp not null)""",
        f"create table if not exists {schema}.erasure_salt (salt {text_type} not null)",
    ]


@dataclass(frozen=True)
class Tombstones:
    salt: str
    hashes: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def mentioned_in(self, text: str) -> bool:
        """Whether any email-like string in the text is a forgotten person's."""
        return any(
            email_hash(self.salt, match.group().lower()) in self.hashes
            for match in _EMAIL_LIKE.finditer(text)
        )


NO_TOMBSTONES = Tombstones("", frozenset())


def read_tombstones(backend: Backend) -> Tombstones:
    def work(execute: Execute) -> Tombstones:
        salt = execute(f"select salt from {backend.schema}.erasure_salt")
        hashes = execute(f"select email_hash from {backend.schema}.erasures")
        return Tombstones(salt[0][0] if salt else "", frozenset(row[0] for row in hashes))

    return backend.transaction("reading the erasure tombstones", work)


# The dbt snapshot keeps history that a rebuild does not replace: rows are deleted by
# contact_id (the MD5 of the normalised email, as the models compute it).
SNAPSHOT_SCHEMA, SNAPSHOT_TABLE = "snapshots", "snap_contact_states"


def contact_id(email: str) -> str:
    return hashlib.md5(email.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Forgotten:
    email: str
    events_removed: int
    load_errors_removed: int
    snapshot_rows_removed: int

    def summary(self) -> str:
        return (
            f"forgot {self.email}: removed {self.events_removed:,} raw events and "
            f"{self.load_errors_removed:,} load errors, {self.snapshot_rows_removed:,} "
            "state-history rows"
        )


def forget(backend: Backend, emails: Iterable[str], erased_at: Any) -> list[Forgotten]:
    """Delete every raw row that mentions each email and record its tombstone (one transaction)."""
    s = backend.schema

    def work(execute: Execute) -> list[Forgotten]:
        has_snapshot = execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [SNAPSHOT_SCHEMA, SNAPSHOT_TABLE],
        )
        salt_rows = execute(f"select salt from {s}.erasure_salt")
        if salt_rows:
            salt = salt_rows[0][0]
        else:
            salt = secrets.token_hex(16)
            execute(f"insert into {s}.erasure_salt (salt) values (?)", [salt])
        done = []
        for email in emails:
            digest = email_hash(salt, email)
            if not execute(f"select 1 from {s}.erasures where email_hash = ?", [digest]):
                execute(f"insert into {s}.erasures values (?, ?)", [digest, erased_at])
            # any mention counts: the email field, a property, or the text of a bad line
            events = execute(
                f"delete from {s}.events where strpos(lower(payload), ?) > 0 returning 1",
                [email],
            )
            errors = execute(
                f"delete from {s}.load_errors where strpos(lower(raw_text), ?) > 0 returning 1",
                [email],
            )
            history = []
            if has_snapshot:
                history = execute(
                    f"delete from {SNAPSHOT_SCHEMA}.{SNAPSHOT_TABLE} where contact_id = ? "
                    "returning 1",
                    [contact_id(email)],
                )
            done.append(Forgotten(email, len(events), len(errors), len(history)))
        return done

    return backend.transaction("forgetting", work)


EPILOG = """\
examples:
  funnel-forget ann@acme.io
  funnel-forget --target postgres ann@acme.io bob@example.com

Then run `dbt build`: the models are rebuilt from raw data without them. Re-loading an
old file never brings them back (their records are counted as erased and skipped)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="funnel-forget",
        description="Erase people: delete every raw record that mentions their email and "
        "keep a salted-hash tombstone so that they are never loaded again.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("emails", nargs="+", metavar="EMAIL", help="email address to forget")
    add_target_arguments(parser)
    parser.add_argument("--raw-schema", default="raw", metavar="SCHEMA", help="default: raw")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from crm_funnel.loader import open_backend, utcnow

    args = build_parser().parse_args(argv)
    try:
        emails = []
        for raw in args.emails:
            email = normalize_email(raw)
            if email is None or "@" not in email:
                raise TerminalError(f"{raw!r} is not an email address")
            emails.append(email)
        target = load_target(args.profiles_dir, args.target)
        with open_backend(target, args.raw_schema) as backend:
            for forgotten in forget(backend, emails, utcnow()):
                print(forgotten.summary())
    except FunnelError as exc:
        print(f"funnel-forget: error: {exc}", file=sys.stderr)
        return 2
    print("run `dbt build` to remove them from every model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
