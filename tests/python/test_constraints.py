"""A null in a mart's not-null column fails the build (DuckDB and PostgreSQL).

The marts' contracts carry their not-null checks as ``not_null`` constraints, which the
warehouse enforces when dbt writes the table, not as data tests after it: a model that
would publish a null in such a column errors, and the mart keeps its last good rows.
Checked on both paths of the incremental ``fct_activities`` (an incremental run, then a
full refresh) and on a table mart, after a bug upstream put a null in an intermediate
table (simulated by an update).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    MODELS_ONLY,
    ProfileRef,
    execute,
    fetch,
    generate_events,
    run_dbt,
    run_funnel_load,
)

AS_OF = {"as_of": "2026-07-01T00:00:00Z"}


def assert_fails_on_null(ref: ProfileRef, work: Path, model: str, column: str, *args: str) -> None:
    before = fetch(ref, f"select count(*) from marts.{model}")
    result = run_dbt(
        ref, "run", "--select", model, *args, work_dir=work, dbt_vars=AS_OF, check=False
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "not-null constraint" in result.stdout or "NOT NULL constraint" in result.stdout
    assert column in result.stdout
    assert fetch(ref, f"select count(*) from marts.{model} where {column} is null") == [(0,)]
    assert fetch(ref, f"select count(*) from marts.{model}") == before


@pytest.mark.parametrize("warehouse_profile", ["duckdb", "postgres"], indirect=True)
def test_a_null_in_a_not_null_mart_column_fails_the_build(
    warehouse_profile: ProfileRef, tmp_path: Path
) -> None:
    ref = warehouse_profile
    events = generate_events(tmp_path / "events.ndjson", 400, 11)
    loaded = run_funnel_load(*ref.cli_args(), events)
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(
        ref, "build", *MODELS_ONLY, "--select", "+fct_activities +rpt_suppression_list",
        work_dir=tmp_path, dbt_vars=AS_OF,
    )  # fmt: skip

    # an activity without an event type, newer than any fct_activities holds
    execute(
        ref,
        "update intermediate.int_activities_enriched set event_type = null, "
        "validated_at = validated_at + interval '1 day' "
        "where activity_id = (select min(activity_id) from intermediate.int_activities_enriched)",
    )
    assert_fails_on_null(ref, tmp_path, "fct_activities", "event_type")
    assert_fails_on_null(ref, tmp_path, "fct_activities", "event_type", "--full-refresh")

    # a suppressed contact without an email
    assert fetch(ref, "select count(*) from marts.rpt_suppression_list")[0][0] > 0
    execute(
        ref,
        "update intermediate.int_contacts_suppressed set email = null "
        "where contact_id = (select min(contact_id) from intermediate.int_contacts_suppressed)",
    )
    assert_fails_on_null(ref, tmp_path, "rpt_suppression_list", "email")
