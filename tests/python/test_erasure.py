"""Erasure: after funnel-forget and the next dbt build, the email is in no table at all,
and re-loading old data does not bring the person back (DuckDB and PostgreSQL)."""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from conftest import MODELS_ONLY, ProfileRef, fetch, generate_events, run_dbt, run_funnel_load

AS_OF = {"as_of": "2026-07-01T00:00:00Z"}


def run_forget(ref: ProfileRef, *emails: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_funnel.erasure", *ref.cli_args(), *emails],
        capture_output=True,
        text=True,
        timeout=120,
    )


def text_columns(ref: ProfileRef) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every text column of every table and view."""
    types = "('text', 'character varying', 'varchar', 'character')"
    if ref.kind == "duckdb":
        types = "('VARCHAR')"
    return fetch(
        ref,
        "select table_schema, table_name, column_name from information_schema.columns"
        f" where data_type in {types}"
        " and table_schema not in ('information_schema', 'pg_catalog')",
    )


def mentions(ref: ProfileRef, needle: str) -> dict[str, int]:
    """Rows mentioning ``needle`` (case-insensitive) per schema.table.column."""
    columns: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for schema, table, column in text_columns(ref):
        columns[schema, table].append(column)
    mark = "?" if ref.kind == "duckdb" else "%s"
    found = {}
    for (schema, table), names in columns.items():  # one scan per table
        counts = ", ".join(
            f'sum(case when strpos(lower("{name}"), {mark}) > 0 then 1 else 0 end)'
            for name in names
        )
        row = fetch(ref, f'select {counts} from "{schema}"."{table}"', [needle] * len(names))[0]
        for name, count in zip(names, row, strict=True):
            if count:
                found[f"{schema}.{table}.{name}"] = count
    return found


def generated_events(tmp_path: Path) -> list[str]:
    path = generate_events(tmp_path / "events.ndjson", 1500, 11)
    return path.read_text(encoding="utf-8").splitlines()


def busiest_emails(lines: list[str]) -> list[str]:
    emails = collections.Counter()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("email"), str):
            emails[record["email"].strip().lower()] += 1
    return [email for email, _ in emails.most_common(2)]


def test_forgotten_person_is_in_no_table_and_never_comes_back(
    tmp_path: Path, warehouse_profile: ProfileRef
) -> None:
    ref = warehouse_profile
    lines = generated_events(tmp_path)
    person, other = busiest_emails(lines)
    upper = person.upper()
    # the person also appears in someone else's event, and in a line that is not JSON
    lines += [
        json.dumps(
            {
                "event_id": "mention-1",
                "email": "colleague@example.org",
                "event_type": "referral_given",
                "event_time": "2026-01-05T10:00:00Z",
                "properties": {"referred": f"  {upper} "},
            }
        ),
        f'{{"email": "{person}", "event_type": "view", oops',
    ]
    original = tmp_path / "original.ndjson"
    original.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run_funnel_load(*ref.cli_args(), original).returncode == 0
    run_dbt(ref, "build", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=AS_OF)
    before = mentions(ref, person)
    assert "marts.dim_contacts.email" in before
    assert before.get("raw.load_errors.raw_text") == 1
    # the state history (dbt snapshot) keys the person by contact_id, the MD5 of the email
    person_id = hashlib.md5(person.encode()).hexdigest()
    assert mentions(ref, person_id).get("snapshots.snap_contact_states.contact_id") == 1

    forgot = run_forget(ref, f" {upper}\t")
    assert forgot.returncode == 0, forgot.stderr
    removed = before["raw.events.payload"]
    assert f"forgot {person}: removed {removed:,} raw events and 1 load errors, " in forgot.stdout
    assert mentions(ref, person) == {}  # gone from the built tables at once
    assert mentions(ref, person_id) == {}
    assert fetch(ref, "select count(*) from raw.erasures")[0][0] == 1

    # an old export of the same events (other bytes, so not skipped as a known file)
    old_copy = tmp_path / "old-export.ndjson.gz"
    old_copy.write_bytes(gzip.compress(original.read_bytes()))
    reload = run_funnel_load(*ref.cli_args(), old_copy)
    assert reload.returncode == 0, reload.stderr
    mentioning = sum(1 for line in lines if person in line.lower())
    assert f"{mentioning:,} erased records" in reload.stdout
    run_dbt(ref, "build", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=AS_OF)
    assert mentions(ref, person) == {}
    assert mentions(ref, person_id) == {}
    # everyone else is still there
    assert "marts.dim_contacts.email" in mentions(ref, other)
