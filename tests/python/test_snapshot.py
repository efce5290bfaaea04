"""State history: the dbt snapshot answers "what was each contact's stage, state, score
and track on a past date", dated by the builds' as_of (DuckDB and PostgreSQL).

Three builds of the same loaded events at three as_of dates: the lifecycle moves with
time alone (dormant spells start), so contacts change between builds. The expected
history is what ``dim_contacts`` said after each build, captured by the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import MODELS_ONLY, ProfileRef, fetch, generate_events, run_dbt, run_funnel_load

TRACKED = "funnel_stage, lifecycle_state, lifecycle_funnel, nurture_track, intent_score"
AS_OF = ("2026-04-01T00:00:00Z", "2026-05-15T00:00:00Z", "2026-07-15T00:00:00Z")
# The snapshot and the models it reads (dim_contacts and its parents).
SNAPSHOT = ("--select", "+snap_contact_states", *MODELS_ONLY)
INSTANT = ("2026-04-01 00:00:00", "2026-05-15 00:00:00", "2026-07-15 00:00:00")


def contacts_now(ref: ProfileRef) -> dict[str, tuple[Any, ...]]:
    rows = fetch(ref, f"select contact_id, {TRACKED} from marts.dim_contacts")
    return {row[0]: tuple(row[1:]) for row in rows}


def history_at(ref: ProfileRef, instant: str) -> dict[str, tuple[Any, ...]]:
    """Each contact's version valid at ``instant`` (valid_from <= instant < valid_to)."""
    when = f"cast('{instant}' as timestamp)"
    rows = fetch(
        ref,
        f"select contact_id, {TRACKED} from snapshots.snap_contact_states"
        f" where dbt_valid_from <= {when} and (dbt_valid_to is null or dbt_valid_to > {when})",
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def test_snapshot_answers_the_state_at_a_past_date(
    tmp_path: Path, warehouse_profile: ProfileRef
) -> None:
    ref = warehouse_profile
    events = generate_events(
        tmp_path / "events.ndjson", 1500, 5, "--start", "2026-01-01", "--end", "2026-03-31"
    )
    assert run_funnel_load(*ref.cli_args(), events).returncode == 0

    seen = []
    for as_of in AS_OF:
        run_dbt(ref, "build", *SNAPSHOT, work_dir=tmp_path, dbt_vars={"as_of": as_of})
        seen.append(contacts_now(ref))
    # the test means something only if time alone changed some contacts
    changed = [c for c in seen[0] if seen[0][c] != seen[1][c] or seen[1][c] != seen[2][c]]
    assert len(changed) >= 10, "too few contacts changed between the builds"

    for instant, expected in zip(INSTANT, seen, strict=True):
        assert history_at(ref, instant) == expected, instant
    # one version per contact and distinct tracked values: the number of changes plus one
    versions = sum(1 + (seen[0][c] != seen[1][c]) + (seen[1][c] != seen[2][c]) for c in seen[0])
    assert fetch(ref, "select count(*) from snapshots.snap_contact_states")[0][0] == versions

    # a rebuild at the same as_of records nothing new
    run_dbt(ref, "build", "--select", "snap_contact_states", work_dir=tmp_path,
            dbt_vars={"as_of": AS_OF[-1]})  # fmt: skip
    assert fetch(ref, "select count(*) from snapshots.snap_contact_states")[0][0] == versions
