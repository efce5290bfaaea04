"""Opening the raw-schema writer of a target (the one place that picks the engine)."""

from __future__ import annotations

from crm_funnel.errors import TerminalError
from crm_funnel.warehouse.backend import Backend
from crm_funnel.warehouse.duckdb import DuckDBBackend
from crm_funnel.warehouse.postgres import PostgresBackend
from crm_funnel.warehouse.profile import DuckDBTarget, PostgresTarget, Target


def open_backend(target: Target, raw_schema: str = "raw") -> Backend:
    """Connect to the target and make sure the raw tables exist."""
    backend: Backend
    if isinstance(target, DuckDBTarget):
        backend = DuckDBBackend(target, raw_schema)
    elif isinstance(target, PostgresTarget):
        backend = PostgresBackend(target, raw_schema)
    else:  # pragma: no cover - profile.py only returns the two
        raise TerminalError(f"unsupported target type {type(target).__name__}")
    try:
        backend.ensure_tables()
    except BaseException:
        backend.close()
        raise
    return backend
