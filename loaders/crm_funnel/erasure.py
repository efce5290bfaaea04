"""Erasure: forget a person everywhere, and never land them again.

``funnel-forget EMAIL...`` deletes every raw event, spreadsheet row (``raw.sheet_rows``)
and load error that mentions the normalised email, and the person's rows in every table
dbt built (incremental models and the state-history snapshot keep rows a rebuild does
not replace), and records a salted SHA-256 tombstone in ``raw.erasures``; the loaders
skip every record or sheet row that mentions a tombstoned address (counted as
``erased_skipped``). The next ``dbt build`` rebuilds every model without them. The salt
lives in ``raw.erasure_salt``, so the tombstones never hold an email in clear.
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
    """The erasure tables, and ``sheet_rows`` (the other raw table erasure deletes from).

    The loader creates these with its own tables, so that every raw table the dbt
    sources name exists after the first load of any kind.
    """
    from crm_funnel.tabular import sheet_rows_ddl  # noqa: PLC0415 - tabular imports loader

    return [
        f"""create table if not exists {schema}.erasures (
            email_hash {text_type} primary key, erased_at timestamp not null)""",
        f"create table if not exists {schema}.erasure_salt (salt {text_type} not null)",
        *sheet_rows_ddl(schema, text_type),
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


# What dbt builds keeps data a rebuild does not replace (incremental models recompute
# only the contacts with new data; the snapshot keeps history), so forgetting also
# deletes, in every table dbt built: the person's rows (by contact_id, the MD5 of the
# normalised email, as the models compute it) and every row whose raw JSON, properties or
# notes (a contacts sheet's free text) mention the email. Other contacts whose activities
# mentioned the person lose their per-contact incremental rows and get their remaining
# activities re-stamped (validated_at), so the next build recomputes them from what is left.
MENTION_COLUMNS = ("payload", "properties", "notes")  # notes: the contacts sheet's free text


def contact_id(email: str) -> str:
    return hashlib.md5(email.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Forgotten:
    email: str
    events_removed: int
    load_errors_removed: int
    model_rows_removed: int
    sheet_rows_removed: int = 0

    def summary(self) -> str:
        return (
            f"forgot {self.email}: removed {self.events_removed:,} raw events and "
            f"{self.load_errors_removed:,} load errors, {self.model_rows_removed:,} rows of "
            f"built models, {self.sheet_rows_removed:,} raw sheet rows"
        )


def built_tables(execute: Execute, raw_schema: str) -> dict[str, set[str]]:
    """Column names of every base table outside the raw schema (what dbt built)."""
    rows = execute(
        "select c.table_schema, c.table_name, c.column_name"
        " from information_schema.columns as c"
        " inner join information_schema.tables as t"
        " on c.table_schema = t.table_schema and c.table_name = t.table_name"
        " where t.table_type = 'BASE TABLE'"
        " and c.table_schema not in (?, 'information_schema', 'pg_catalog')",
        [raw_schema],
    )
    tables: dict[str, set[str]] = {}
    for schema, table, column in rows:
        tables.setdefault(f'"{schema}"."{table}"', set()).add(column.lower())
    return tables


def forget_in_models(execute: Execute, raw_schema: str, email: str, now: Any) -> int:
    """Delete the person from every built table; re-stamp contacts that mentioned them."""
    tables = built_tables(execute, raw_schema)
    person = contact_id(email)
    mentioners: set[str] = set()
    for table, columns in tables.items():
        for column in MENTION_COLUMNS:
            if column in columns and "contact_id" in columns:
                found = execute(
                    f"select distinct contact_id from {table} where strpos(lower({column}), ?) > 0",
                    [email],
                )
                mentioners.update(row[0] for row in found if row[0] != person)
    removed = 0
    for table, columns in tables.items():
        if "contact_id" in columns:
            removed += len(
                execute(f"delete from {table} where contact_id = ? returning 1", [person])
            )
        for column in MENTION_COLUMNS:
            if column in columns:
                removed += len(
                    execute(
                        f"delete from {table} where strpos(lower({column}), ?) > 0 returning 1",
                        [email],
                    )
                )
    for other in sorted(mentioners):
        for table, columns in tables.items():
            if {"contact_id", "refreshed_at"} <= columns:  # per-contact incremental rows
                execute(f"delete from {table} where contact_id = ?", [other])
            if {"contact_id", "validated_at"} <= columns:  # their remaining activities
                execute(f"update {table} set validated_at = ? where contact_id = ?", [now, other])
    return removed


def forget(backend: Backend, emails: Iterable[str], erased_at: Any) -> list[Forgotten]:
    """Delete every raw and built row of each email and record its tombstone (one transaction)."""
    s = backend.schema

    def work(execute: Execute) -> list[Forgotten]:
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
            # spreadsheet rows (funnel-load --kind ...): the row's JSON holds the cells
            sheet_rows = execute(
                f"delete from {s}.sheet_rows where strpos(lower(payload), ?) > 0 returning 1",
                [email],
            )
            modelled = forget_in_models(execute, s, email, erased_at)
            done.append(Forgotten(email, len(events), len(errors), modelled, len(sheet_rows)))
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
    from crm_funnel.tabular import ensure_sheet_rows

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
            ensure_sheet_rows(backend)  # a warehouse from before spreadsheet loads
            for forgotten in forget(backend, emails, utcnow()):
                print(forgotten.summary())
    except FunnelError as exc:
        print(f"funnel-forget: error: {exc}", file=sys.stderr)
        return 2
    print("run `dbt build` to remove them from every model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
