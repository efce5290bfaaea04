"""Connections to the profile's targets, with one-line errors that say what to do.

Shared by ``funnel-load`` (writes ``raw``) and ``funnel-report`` (reads the marts).
"""

from __future__ import annotations

from typing import Any

from crm_funnel.errors import TerminalError, TransientError
from crm_funnel.profile import DuckDBTarget, PostgresTarget, Target


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
        if "lock" in msg.lower():
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
            return con.execute(sql).fetchall()
        except duckdb.CatalogException as exc:
            raise _not_built(exc, target) from None
        finally:
            con.close()
    import psycopg2.errors

    con = connect_postgres(target, application_name="funnel-report")
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    except psycopg2.errors.UndefinedTable as exc:
        raise _not_built(exc, target) from None
    finally:
        con.close()


def _not_built(exc: BaseException, target: Target) -> TerminalError:
    return TerminalError(f"{one_line(exc)} in {target.describe()}: run dbt build first")
