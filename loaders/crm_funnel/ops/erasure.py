"""Erasure: forget a person everywhere, and never land them again.

``funnel-forget EMAIL...`` works in one transaction on every table of the warehouse (raw
and every table dbt built, snapshots included). An address is matched decoded and
normalised (see ``addresses_in``): JSON escapes decoded (``victim\\u0040erase.io``),
Unicode NFC and case folding, IDN domains in either spelling (``bücher.de`` =
``xn--bcher-kva.de``), also inside a longer name (``export-victim@erase.io.ndjson``). A
row with the address in any text column is deleted, except that a file name
(``source_file``) is rewritten to ``<erased file HASH>``, so the other records of that
file stay. The person's rows are also deleted by ``contact_id`` (the snapshot keeps only
that). A salted SHA-256 tombstone goes to ``raw.erasures``; the loaders skip every record
or sheet row that mentions a tombstoned address (counted as ``erased_skipped``) and store
such a file's name redacted the same way. The salt lives in ``raw.erasure_salt``, so the
tombstones never hold an email in clear.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm_funnel.errors import FunnelError, TerminalError
from crm_funnel.warehouse.backend import utcnow
from crm_funnel.warehouse.open import open_backend
from crm_funnel.warehouse.profile import add_target_arguments, load_target
from crm_funnel.warehouse.sheet_rows import ensure_sheet_rows
from crm_funnel.warehouse.tombstones import addresses_in, email_hash, normalize_email, redacted_file

if TYPE_CHECKING:
    from crm_funnel.warehouse.backend import Backend, Execute


def contact_id(email: str) -> str:
    return hashlib.md5(email.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Forgotten:
    email: str
    events_removed: int
    load_errors_removed: int
    model_rows_removed: int
    sheet_rows_removed: int = 0
    files_redacted: int = 0

    def summary(self) -> str:
        return (
            f"forgot {self.email}: removed {self.events_removed:,} raw events and "
            f"{self.load_errors_removed:,} load errors, {self.model_rows_removed:,} rows of "
            f"built models, {self.sheet_rows_removed:,} raw sheet rows; redacted "
            f"{self.files_redacted:,} file names"
        )


@dataclass(frozen=True)
class Table:
    name: str  # "schema"."table"
    columns: frozenset[str]
    text_columns: tuple[str, ...]


def every_table(execute: Execute, catalog_sql: str, raw_schema: str) -> list[Table]:
    """Every table erasure works on: raw and built, but not the tombstones. A table the
    user may not erase in stops the erasure before anything changes. ``catalog_sql``: the
    engine's list of columns (``Backend.catalog_sql``)."""
    columns: dict[str, list[tuple[str, bool]]] = collections.defaultdict(list)
    denied = set()
    for schema, table, column, is_text, allowed in execute(catalog_sql):
        if schema == raw_schema and table in ("erasures", "erasure_salt"):
            continue
        columns[f'"{schema}"."{table}"'].append((column, bool(is_text)))
        if not allowed:
            denied.add(f"{schema}.{table}")
    if denied:
        names = sorted(denied)
        raise TerminalError(
            f"this role may not erase (select, update, delete) in {len(names)} tables "
            f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); run funnel-forget "
            "as a member of the eraser role (README: Least privilege); nothing was changed"
        )
    return [
        Table(
            name,
            frozenset(c.lower() for c, _ in cols),
            tuple(c for c, is_text in cols if is_text),
        )
        for name, cols in sorted(columns.items())
    ]


def _candidates(non_ascii_sql: str, column: str, email: str) -> tuple[str, list[str]]:
    """A condition true for every value that may mention the address (the rest are
    checked in Python): its ASCII spelling, an escape, an IDN label or non-ASCII text."""
    quoted = f'"{column}"'
    tests = [f"strpos({quoted}, ?) > 0", f"strpos(lower({quoted}), 'xn--') > 0"]
    params = ["\\"]
    if email.isascii():
        tests.append(f"strpos(lower({quoted}), ?) > 0")
        params.append(email)
    tests.append(non_ascii_sql.format(quoted))
    return "(" + " or ".join(tests) + ")", params


def forget_everywhere(
    execute: Execute, non_ascii_sql: str, tables: list[Table], email: str, salt: str, now: Any
) -> tuple[collections.Counter[str], int]:
    """Delete every row that mentions the address (rewrite file names that do), and the
    person's rows by contact_id; return (rows removed per table, file names redacted)."""
    found: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    person = {contact_id(email)}
    mentioners: set[str] = set()
    for table in tables:
        if not table.text_columns:
            continue
        tests = [_candidates(non_ascii_sql, column, email) for column in table.text_columns]
        has_id = "contact_id" in table.columns
        selected = ", ".join(f'"{c}"' for c in table.text_columns)
        rows = execute(
            f"select {selected}{', contact_id' if has_id else ''} from {table.name}"
            f" where {' or '.join(sql for sql, _ in tests)}",
            [param for _, params in tests for param in params],
        )
        for row in rows:
            for column, value in zip(table.text_columns, row, strict=False):
                if value is not None and email in addresses_in(value):
                    found[table.name, column].add(value)
                    if has_id and column.lower() != "source_file":
                        (person if column.lower() == "email" else mentioners).add(row[-1])
    removed: collections.Counter[str] = collections.Counter()
    for table in tables:
        if "contact_id" in table.columns:
            for person_id in sorted(person):
                removed[table.name] += len(
                    execute(
                        f"delete from {table.name} where contact_id = ? returning 1", [person_id]
                    )
                )
    redacted = set()
    for (name, column), values in sorted(
        found.items(), key=lambda item: item[0][1] == "source_file"
    ):
        for value in sorted(values):
            if column.lower() == "source_file":
                execute(
                    f'update {name} set "{column}" = ? where "{column}" = ?',
                    [redacted_file(salt, value), value],
                )
                redacted.add(value)
            else:
                removed[name] += len(
                    execute(f'delete from {name} where "{column}" = ? returning 1', [value])
                )
    # Contacts whose activities mentioned the person lose their per-contact incremental
    # rows and get their remaining activities re-stamped (validated_at), so the next
    # build recomputes them from what is left.
    for other in sorted(mentioners - person - {None}):
        for table in tables:
            if {"contact_id", "refreshed_at"} <= table.columns:
                execute(f"delete from {table.name} where contact_id = ?", [other])
            if {"contact_id", "validated_at"} <= table.columns:
                execute(
                    f"update {table.name} set validated_at = ? where contact_id = ?", [now, other]
                )
    return removed, len(redacted)


def forget(backend: Backend, emails: Iterable[str], erased_at: Any) -> list[Forgotten]:
    """Erase each (normalised) email everywhere and record its tombstone (one transaction)."""
    s = backend.schema
    raw = {name: f'"{s}"."{name}"' for name in ("events", "load_errors", "sheet_rows")}

    def work(execute: Execute) -> list[Forgotten]:
        tables = every_table(execute, backend.catalog_sql, s)
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
            removed, files = forget_everywhere(
                execute, backend.non_ascii_sql, tables, email, salt, erased_at
            )
            counts = [removed.pop(raw[name], 0) for name in ("events", "load_errors", "sheet_rows")]
            modelled = sum(n for table, n in removed.items() if not table.startswith(f'"{s}".'))
            done.append(Forgotten(email, counts[0], counts[1], modelled, counts[2], files))
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
    args = build_parser().parse_args(argv)
    try:
        emails = []
        for raw in args.emails:
            email = normalize_email(raw)
            if email is None:
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
