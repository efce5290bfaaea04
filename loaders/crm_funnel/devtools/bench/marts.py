"""Whether the marts after an incremental run equal a full rebuild.

Every mart (every model under ``models/marts``, from dbt's ``manifest.json``) is copied
into a schema of its own after the incremental run; after the full rebuild each copy is
compared with the rebuilt mart: row counts, then ``except all`` both ways over every
column but the incremental models' watermarks ``validated_at`` and ``refreshed_at`` (the
start of the dbt run that classified or recomputed a row: they differ between any two
builds by design).
"""

from __future__ import annotations

import json
from pathlib import Path

from crm_funnel.devtools.bench.warehouses import Session, Warehouse
from crm_funnel.errors import TerminalError
from crm_funnel.warehouse.connections import one_line

COPY_SCHEMA = "bench_incremental"
BUILD_TIME_COLUMNS = frozenset({"validated_at", "refreshed_at"})


def mart_relations(manifest: Path) -> dict[str, str]:
    """Mart name -> its quoted relation, for every model under ``models/marts``."""
    try:
        nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    except (OSError, ValueError, KeyError) as exc:
        raise TerminalError(f"cannot read {manifest}: {one_line(exc)}") from None
    return {
        node["name"]: node["relation_name"]
        for node in nodes
        if node["resource_type"] == "model" and node["fqn"][1:2] == ["marts"]
    }


def copy_marts(wh: Warehouse, marts: dict[str, str]) -> None:
    with wh.session() as session:
        session.cursor.execute(f"create schema {COPY_SCHEMA}")
        for name, relation in sorted(marts.items()):
            session.cursor.execute(f"create table {COPY_SCHEMA}.{name} as select * from {relation}")
        session.commit()


def _columns(session: Session, relation: str) -> list[str]:
    session.cursor.execute(f"select * from {relation} where 1 = 0")
    names = [column[0] for column in session.cursor.description]
    session.cursor.fetchall()
    return [f'"{name}"' for name in names if name not in BUILD_TIME_COLUMNS]


def differing_marts(wh: Warehouse, marts: dict[str, str]) -> dict[str, str]:
    """Mart name -> how its copy differs from the rebuilt mart (empty: all identical)."""
    with wh.session() as session:
        return _differences(session, marts)


def _differences(session: Session, marts: dict[str, str]) -> dict[str, str]:
    differences = {}
    for name, relation in sorted(marts.items()):
        columns = ", ".join(_columns(session, relation))
        copy = f"{COPY_SCHEMA}.{name}"
        session.cursor.execute(
            f"""select
                (select count(*) from {copy}),
                (select count(*) from {relation}),
                (select count(*) from (
                    select {columns} from {copy} except all select {columns} from {relation}
                ) as only_incremental),
                (select count(*) from (
                    select {columns} from {relation} except all select {columns} from {copy}
                ) as only_rebuilt)"""
        )
        incremental, rebuilt, only_incremental, only_rebuilt = session.cursor.fetchone()
        if only_incremental or only_rebuilt:
            differences[name] = (
                f"{incremental:,} rows after +1% vs {rebuilt:,} rebuilt; "
                f"{only_incremental:,} only after +1%, {only_rebuilt:,} only rebuilt"
            )
    session.commit()
    return differences
