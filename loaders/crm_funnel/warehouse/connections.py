"""Connections to the profile's targets, with one-line errors that say what to do.

Shared by the loaders (write ``raw``), the commands that read (``funnel-report``,
``funnel-pipeline``) and the dashboard (``read_only_session``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from crm_funnel.errors import TerminalError, TransientError
from crm_funnel.warehouse.profile import DuckDBTarget, PostgresTarget, Target


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, whitespace folded."""
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.splitlines()[0].split())


def connect_duckdb(target: DuckDBTarget, *, read_only: bool = False) -> Any:
    import duckdb

    path = target.path
    if not path.parent.is_dir():
        raise TerminalError(
            f"cannot open DuckDB file {path}: directory {path.parent} does not exist "
            f"(create it or fix 'path' in {target.profiles_file})"
        )
    if read_only and not path.exists():
        raise TerminalError(
            f"DuckDB file {path} does not exist (load events and run dbt build first)"
        )
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        msg = one_line(exc)
        # another process holds the lock, or this process has it open read-only (the
        # dashboard recording an action while a page reads): both pass
        if "lock" in msg.lower() or "different configuration" in msg.lower():
            raise TransientError(
                f"DuckDB file {path} is in use by another process (dbt? another "
                "funnel-load?); wait for it to finish and retry"
            ) from None
        raise TerminalError(f"cannot open DuckDB file {path}: {msg}") from None


def connect_postgres(target: PostgresTarget, *, application_name: str) -> Any:
    import psycopg2

    try:
        return psycopg2.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            dbname=target.dbname,
            connect_timeout=10,
            application_name=application_name,
        )
    except psycopg2.OperationalError as exc:
        raise _postgres_connect_error(target, exc) from None


def _postgres_connect_error(t: PostgresTarget, exc: Exception) -> Exception:
    where = f"{t.host}:{t.port}/{t.dbname}"
    low = str(exc).lower()
    if (
        "password authentication failed" in low
        or "no password supplied" in low
        or ("role" in low and "does not exist" in low)
        or "authentication failed" in low
    ):
        return TerminalError(
            f"bad credentials for user {t.user} at {where} "
            f"(check PGUSER/PGPASSWORD or {t.profiles_file})"
        )
    if "database" in low and "does not exist" in low:
        return TerminalError(
            f"database {t.dbname!r} does not exist at {t.host}:{t.port} "
            f"(create it: createdb {t.dbname}, or fix dbname in {t.profiles_file})"
        )
    if "could not translate host name" in low or "name or service not known" in low:
        return TerminalError(
            f"unknown PostgreSQL host {t.host!r} (fix host in {t.profiles_file} or PGHOST)"
        )
    return TransientError(
        f"cannot reach PostgreSQL at {t.host}:{t.port} ({one_line(exc)}); "
        "is the server running? check host/port in profiles.yml or PGHOST/PGPORT"
    )


def query_all(target: Target, sql: str) -> list[tuple[Any, ...]]:
    """Run one read-only query on the target and return all rows."""
    if isinstance(target, DuckDBTarget):
        import duckdb

        con = connect_duckdb(target, read_only=True)
        try:
            rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
            return rows
        except duckdb.CatalogException as exc:
            raise _not_built(exc, target) from None
        finally:
            con.close()
    import psycopg2.errors

    con = connect_postgres(target, application_name="funnel-report")
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            found: list[tuple[Any, ...]] = cur.fetchall()
            return found
    except psycopg2.errors.UndefinedTable as exc:
        raise _not_built(exc, target) from None
    finally:
        con.close()


def _not_built(exc: BaseException, target: Target) -> TerminalError:
    return TerminalError(f"{one_line(exc)} in {target.describe()}: run dbt build first")


def missing_relation_errors(
    target: Target, *, columns: bool = False
) -> tuple[type[BaseException], ...]:
    """Errors that mean a table or schema (with ``columns``, also a column) is missing."""
    if isinstance(target, DuckDBTarget):
        import duckdb

        return (duckdb.CatalogException, duckdb.BinderException)[: 1 + columns]
    import psycopg2.errors

    found = (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName)
    return (*found, psycopg2.errors.UndefinedColumn) if columns else found


def database_errors(target: Target) -> tuple[type[BaseException], ...]:
    """Every error the target's driver raises for a statement."""
    if isinstance(target, DuckDBTarget):
        import duckdb

        return (duckdb.Error,)
    import psycopg2

    return (psycopg2.Error,)


def placeholder(target: Target) -> str:
    """The driver's query parameter mark."""
    return "?" if isinstance(target, DuckDBTarget) else "%s"


@contextmanager
def cursor(target: Target, *, read_only: bool, application_name: str) -> Iterator[Any]:
    """A cursor; a writing one is one transaction, committed when the block succeeds."""
    if isinstance(target, DuckDBTarget):
        con = connect_duckdb(target, read_only=read_only)
        try:
            if not read_only:
                con.begin()
            yield con
            if not read_only:
                con.commit()
        finally:
            con.close()
        return
    con = connect_postgres(target, application_name=application_name)
    try:
        con.set_session(readonly=read_only, autocommit=read_only)
        with con.cursor() as cur:
            yield cur
        if not read_only:
            con.commit()
    finally:
        con.close()


def query_optional(target: Target, sql: str, application_name: str) -> list[tuple[Any, ...]] | None:
    """Rows of ``sql``, or ``None`` when a table it reads does not exist (yet).

    Connection problems raise the same one-line ``FunnelError`` as the other commands.
    """
    if isinstance(target, DuckDBTarget):
        if not target.path.exists():
            if not target.path.parent.is_dir():
                connect_duckdb(target)  # raises the one-line "directory does not exist"
            return None
        con = connect_duckdb(target, read_only=True)
        try:
            rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
            return rows
        except missing_relation_errors(target):
            return None
        finally:
            con.close()
    con = connect_postgres(target, application_name=application_name)
    try:
        con.set_session(readonly=True, autocommit=True)
        with con.cursor() as cur:
            cur.execute(sql)
            found: list[tuple[Any, ...]] = cur.fetchall()
            return found
    except missing_relation_errors(target):
        return None
    finally:
        con.close()


Rows = tuple[list[str], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Session:
    """An open read-only connection: ``run(sql, params)`` (``?`` placeholders) returns
    (column names, rows); ``catalog_sql`` lists (schema, table) of the two ``?`` schemas."""

    run: Callable[[str, Sequence[Any]], Rows]
    catalog_sql: str


# Every engine difference of the dashboard is in this one function (how to open a read-only
# connection, the placeholder style, where the catalog is).
@contextmanager
def read_only_session(target: Target, application_name: str) -> Iterator[Session]:
    """A read-only connection to ``target``, closed at the end.

    On PostgreSQL the catalog is ``pg_catalog``, which lists a table whatever the login
    may read (``information_schema`` hides tables without privileges, which would make an
    unreadable mart look "not built").
    """
    if isinstance(target, DuckDBTarget):
        con = connect_duckdb(target, read_only=True)

        def run(sql: str, params: Sequence[Any]) -> Rows:
            cursor = con.execute(sql, list(params))
            return [d[0] for d in cursor.description], cursor.fetchall()

        catalog_sql = (
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (?, ?)"
        )
    else:
        con = connect_postgres(target, application_name=application_name)
        con.set_session(readonly=True, autocommit=True)

        def run(sql: str, params: Sequence[Any]) -> Rows:
            with con.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), list(params))
                return [d[0] for d in cursor.description], cursor.fetchall()

        catalog_sql = (
            "select n.nspname, c.relname from pg_catalog.pg_class c "
            "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in (?, ?) and c.relkind in ('r', 'p', 'v', 'm', 'f')"
        )
    try:
        yield Session(run, catalog_sql)
    finally:
        con.close()
