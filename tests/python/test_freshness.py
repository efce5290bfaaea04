"""Source freshness of the raw tables follows the vars raw_freshness_warn/error_hours."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ProfileRef, execute, run_dbt, run_funnel_load


def test_freshness_passes_warns_and_errors_by_the_vars(
    tmp_path: Path, duckdb_profile: ProfileRef
) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text(
        json.dumps(
            {
                "email": "a@b.io",
                "event_type": "view",
                "event_time": "2026-01-01T00:00:00Z",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    assert run_funnel_load(*duckdb_profile.cli_args(), events).returncode == 0

    def freshness(hours_ago: int, **thresholds: int) -> tuple[int, str]:
        execute(
            duckdb_profile,
            f"update raw.events set loaded_at = current_timestamp::timestamp"
            f" - interval {hours_ago} hour",
            f"update raw.loads set finished_at = current_timestamp::timestamp"
            f" - interval {hours_ago} hour",
        )
        proc = run_dbt(
            duckdb_profile,
            "source",
            "freshness",
            work_dir=tmp_path,
            dbt_vars=thresholds,
            check=False,
        )
        return proc.returncode, proc.stdout

    code, out = freshness(1)
    assert code == 0 and "PASS freshness of raw.events" in out
    code, out = freshness(30)
    assert code == 0 and "WARN freshness of raw.events" in out
    code, out = freshness(30, raw_freshness_warn_hours=48, raw_freshness_error_hours=96)
    assert code == 0 and "PASS freshness of raw.events" in out
    code, out = freshness(80)
    assert code != 0 and "ERROR STALE freshness of raw.events" in out
