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

import pytest
from conftest import MODELS_ONLY, ProfileRef, fetch, generate_events, run_dbt, run_funnel_load
from test_privileges import Roles, create_roles, write_targets

AS_OF = {"as_of": "2026-07-01T00:00:00Z"}


def run_forget(ref: ProfileRef, *emails: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.erasure", *ref.cli_args(), *emails],
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


def mentions(ref: ProfileRef, *needles: str) -> dict[str, int]:
    """Rows mentioning any of ``needles`` (case-insensitive) per schema.table.column."""
    columns: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for schema, table, column in text_columns(ref):
        columns[schema, table].append(column)
    mark = "?" if ref.kind == "duckdb" else "%s"
    found = {}
    for (schema, table), names in columns.items():  # one scan per table
        counts = ", ".join(
            "sum(case when "
            + " or ".join(f'strpos(lower("{name}"), {mark}) > 0' for _ in needles)
            + " then 1 else 0 end)"
            for name in names
        )
        params = list(needles) * len(names)
        row = fetch(ref, f'select {counts} from "{schema}"."{table}"', params)[0]
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


# A second person with a non-ASCII address, in four spellings the models see as three
# contacts; funnel-forget is given a fifth (upper case, IDN domain).
UNICODE_PERSON = "jörg@bücher.de"
UNICODE_SPELLINGS = (
    "Jörg@bücher.de",
    "jo\u0308rg@bücher.de",  # NFD: o + combining diaeresis
    "jörg@xn--bcher-kva.de",  # the IDN (punycode) domain
    "j\\u00f6rg@b\\u00fccher.de",  # JSON escapes, as written in the file
)
# what the models make of them (decoded JSON, lower-cased): one contact per spelling
UNICODE_CONTACTS = ("jörg@bücher.de", "jo\u0308rg@bücher.de", "jörg@xn--bcher-kva.de")


def spelled_event(event_id: str, email_json: str, event_type: str = "view") -> str:
    """An NDJSON line whose email is written exactly as given (escapes included)."""
    return (
        f'{{"event_id": "{event_id}", "email": "{email_json}", "event_type": "{event_type}",'
        ' "event_time": "2026-02-01T10:00:00Z"}'
    )


def test_forgotten_person_is_in_no_table_and_never_comes_back(
    tmp_path: Path, warehouse_profile: ProfileRef, request: pytest.FixtureRequest
) -> None:
    """Every spelling (JSON escapes, Unicode NFC/NFD, IDN) and the address inside a file
    name is erased, after a build and after a full refresh; on PostgreSQL funnel-forget
    runs as the eraser role, and a role with too few privileges changes nothing."""
    ref = warehouse_profile
    lines = generated_events(tmp_path)
    person, other = busiest_emails(lines)
    upper = person.upper()
    local, domain = person.split("@")
    escaped = [f"{local}\\u0040{domain}", f"\\u{ord(local[0]):04x}{local[1:]}@{domain}"]
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
        *(spelled_event(f"escaped-{i}", text) for i, text in enumerate(escaped)),
        *(
            spelled_event(f"unicode-{i}", text, "signup")
            for i, text in enumerate(UNICODE_SPELLINGS)
        ),
    ]
    original = tmp_path / "original.ndjson"
    original.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run_funnel_load(*ref.cli_args(), original).returncode == 0
    # an export named after the person, holding someone else's event
    named = tmp_path / f"export-{person}.ndjson"
    named.write_text(spelled_event("named-1", "filemate@example.org") + "\n", encoding="utf-8")
    assert run_funnel_load(*ref.cli_args(), named).returncode == 0
    run_dbt(ref, "build", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=AS_OF)
    before = mentions(ref, person)
    assert "marts.dim_contacts.email" in before
    assert before.get("raw.load_errors.raw_text") == 1
    for place in ("raw.loads", "raw.events", "marts.fct_activities"):
        assert f"{place}.source_file" in before, before
    for contact in UNICODE_CONTACTS:
        # (quarantined: the models take only ASCII addresses, but keep the event)
        assert "intermediate.int_events_validated.email" in mentions(ref, contact), contact
    # the state history (dbt snapshot) keys the person by contact_id, the MD5 of the email
    person_ids = [hashlib.md5(e.encode()).hexdigest() for e in (person, *UNICODE_CONTACTS)]
    assert mentions(ref, person_ids[0]).get("snapshots.snap_contact_states.contact_id") == 1
    needles = [person, *(e.lower() for e in escaped), *UNICODE_CONTACTS, "jörg", "xn--bcher"]
    needles += ["j\\u00f6rg", *person_ids]

    forget_ref = ref
    if ref.kind == "postgres":  # as the least-privilege roles
        roles = Roles()
        request.addfinalizer(lambda: roles.drop(ref.conn))
        profiles = write_targets(tmp_path / "roles", ref.conn, roles)
        create_roles(ProfileRef(profiles, "admin", "postgres", ref.conn), tmp_path, roles)
        roles.create_logins(ref.conn)
        as_loader = run_forget(ProfileRef(profiles, "loader", "postgres", ref.conn), person)
        assert as_loader.returncode == 2, as_loader.stdout + as_loader.stderr
        assert len(as_loader.stderr.splitlines()) == 1, as_loader.stderr
        assert "this role may not erase" in as_loader.stderr
        assert "nothing was changed" in as_loader.stderr
        assert mentions(ref, person) == before  # changed nothing
        forget_ref = ProfileRef(profiles, "eraser", "postgres", ref.conn)
    forgot = run_forget(forget_ref, f" {upper}\t", "JÖRG@XN--BCHER-KVA.DE")
    assert forgot.returncode == 0, forgot.stderr
    removed = before["raw.events.payload"] + len(escaped)
    assert f"forgot {person}: removed {removed:,} raw events and 1 load errors, " in forgot.stdout
    assert f"forgot {UNICODE_PERSON}: removed {len(UNICODE_SPELLINGS)} raw events" in forgot.stdout
    assert mentions(ref, *needles) == {}  # gone from the raw and built tables at once
    assert fetch(ref, "select count(*) from raw.erasures")[0][0] == 2
    # the other person's event from the named export stays, its file name redacted
    files = fetch(
        ref,
        "select distinct source_file from marts.fct_activities where contact_id = "
        f"'{hashlib.md5(b'filemate@example.org').hexdigest()}'",
    )
    assert len(files) == 1 and files[0][0].startswith("<erased file "), files

    # an old export of the same events (other bytes, so not skipped as a known file),
    # and a new export named after the person: its name is stored redacted
    old_copy = tmp_path / "old-export.ndjson.gz"
    old_copy.write_bytes(gzip.compress(original.read_bytes()))
    reload = run_funnel_load(*ref.cli_args(), old_copy)
    assert reload.returncode == 0, reload.stderr
    spellings = [person, *(e.lower() for e in escaped), *(e.lower() for e in UNICODE_SPELLINGS)]
    mentioning = sum(1 for line in lines if any(s in line.lower() for s in spellings))
    assert f"{mentioning:,} erased records" in reload.stdout
    renamed = tmp_path / f"Export-{upper}-2.ndjson"
    renamed.write_text(spelled_event("named-2", "filemate@example.org") + "\n", encoding="utf-8")
    assert run_funnel_load(*ref.cli_args(), renamed).returncode == 0
    run_dbt(ref, "build", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=AS_OF)
    assert mentions(ref, *needles) == {}
    run_dbt(ref, "build", "--full-refresh", *MODELS_ONLY, work_dir=tmp_path, dbt_vars=AS_OF)
    assert mentions(ref, *needles) == {}
    # everyone else is still there
    assert "marts.dim_contacts.email" in mentions(ref, other)
    assert "marts.dim_contacts.email" in mentions(ref, "filemate@example.org")
