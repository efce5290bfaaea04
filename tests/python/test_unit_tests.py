"""dbt's unit tests (the scoring, stage, state, mapping and mart rules on fixed inputs).

They run here once per target, in their own step, and in no other build: the tests that
load data build with ``--exclude-resource-type unit_test`` (see ``conftest.run_dbt``).
dbt reads the column types of a unit test's inputs from the warehouse, so the raw tables
are created by a one-event load and every model is built empty (``--empty``) first.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ProfileRef, run_dbt, run_funnel_load

EVENT = {
    "email": "unit@example.com",
    "event_type": "view",
    "channel": "web",
    "event_time": "2026-01-01T00:00:00Z",
}


def test_every_unit_test_passes(tmp_path: Path, warehouse_profile: ProfileRef) -> None:
    ref = warehouse_profile
    events = tmp_path / "one.ndjson"
    events.write_text(json.dumps(EVENT) + "\n")
    loaded = run_funnel_load(events, *ref.cli_args(), "--quiet")
    assert loaded.returncode == 0, loaded.stderr

    run_dbt(ref, "build", "--empty", "--resource-type", "seed", "--resource-type", "model",
            work_dir=tmp_path)  # fmt: skip
    run_dbt(
        ref,
        "test",
        "--select",
        "test_type:unit",
        work_dir=tmp_path,
        unit_tests=True,
        artifacts=True,
    )

    target = tmp_path / "target"
    declared = json.loads((target / "manifest.json").read_text())["unit_tests"]
    results = json.loads((target / "run_results.json").read_text())["results"]
    outcomes = {
        r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")
    }
    assert declared, "the project declares no unit tests"
    assert outcomes == dict.fromkeys(declared, "pass")
