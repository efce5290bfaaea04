"""Spreadsheet inputs end to end: ``funnel-load --kind contacts|spend|campaigns`` -> dbt.

The CSV files are written here (messy headers, a BOM, CRLF, a cell with a line break,
``;`` as separator, gzip, bad rows of every kind), loaded with the real ``funnel-load``,
built with the real ``dbt build`` on DuckDB and PostgreSQL, and the three consumer
models and the quarantine are compared with what this file computes from the rows it
wrote: the validation rules, "the last row of a file / the latest load wins", and the
FX conversion with the rates read from ``seeds/fx_rates.csv``. Then ``funnel-forget``
removes a sheet contact from raw and built tables and a later sheet cannot bring the
person back.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import subprocess
import sys
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import MODELS_ONLY, REPO_ROOT, ProfileRef, fetch, run_dbt, run_funnel_load
from crm_funnel.ingest.sheets import map_header, normalise_header

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402

WS = " \t\r\n\f"
EMAIL_RE = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
NUMBER_RE = re.compile(r"[+-]?[0-9]{1,15}(\.[0-9]{1,6})?")
REPORTING = "EUR"
with open(REPO_ROOT / "seeds" / "fx_rates.csv", newline="", encoding="utf-8") as _fh:
    FX = {row["currency"]: Decimal(row["rate_to_base"]) for row in csv.DictReader(_fh)}
SHEET_SUMMARY = re.compile(
    r"loaded (?P<name>.+): (?P<read>[\d,]+) rows? -> (?P<rows>[\d,]+) (?P<kind>\w+) rows?, "
    r"(?P<err>[\d,]+) errors?(?:, (?P<erased>[\d,]+) erased rows?)? \(load (?P<load>[0-9a-f]{32})\)"
)
WRONG_WIDTH = "wrong number of fields: {} where the header has {}"
BUILD = (
    "build",
    "--select",
    "+int_sheet_contacts_deduplicated +int_channel_spend_converted "
    "+int_campaigns_deduplicated +fct_quarantined_sheet_rows",
    *MODELS_ONLY,
)

# --------------------------------------------------------------------------- the files

CONTACT_HEADER_1 = [
    "\ufeff Full Name ", "E-Mail", "Phone Number", "Company", "Job Title", "Industry",
    "Country", "Time zone", "Channel of Origin", "Lead Status", "Tags", "Notes",
    "Date Added", "Assigned Orchestrator", "LinkedIn URL",
]  # fmt: skip
# canonical names of CONTACT_HEADER_1, in order (written independently of the loader)
CONTACT_KEYS_1 = [
    "full_name", "email", "phone", "company", "role", "industry", "country", "timezone",
    "channel_of_origin", "lead_status", "tags", "notes", "date_added",
    "assigned_orchestrator", "linkedin_url",
]  # fmt: skip
CONTACTS_1: list[list[str] | str | bytes] = [
    ["Ann Lee", " Ann.Lee@Example.COM ", "+49 30 1", "Acme", "CEO", "SaaS", "Germany",
     "Europe/Berlin", "LinkedIn", "New", "vip, webinar", 'Met at "Summit",\nwants pricing',
     "2026-01-05", "Amara Okafor", "https://linkedin.example/ann"],
    ["Bob Stone", "bob@x.io", "", "Bobco", "", "", "", "", "Referral", "Contacted", "", "",
     "2026-01-06T10:00:00+02:00", "Jonas Weber", ""],
    ["Bad Email", "not-an-email", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    "Short,row",
    ["No Mail", "  ", "", "", "", "", "", "", "email", "", "", "", "2026-01-01", "", ""],
    ["Dee", "d@x.io", "", "", "", "", "", "", "", "", "", "", "05/01/2026", "", ""],
    [""] * 15,
    b"Caf\xe9,cafe@x.io,,,,,,,,,,,,,",
    ["Bob Stone", "BOB@X.IO", "", "Bobco", "CTO", "", "", "", "referral", "Qualified", "",
     "", "2026-01-06", "Lucia Ferreira", ""],
    ["Chloe", "chloe@x.io", "", "", "", "", "", "", "", "", "", "", "2026-02-29", "", ""],
]  # fmt: skip
CONTACT_HEADER_2 = ["email", "name", "status", "owner", "created", "Comments"]
CONTACT_KEYS_2 = [
    "email", "full_name", "lead_status", "assigned_orchestrator", "date_added", "notes",
]  # fmt: skip
CONTACTS_2: list[list[str] | str | bytes] = [
    ["ann.lee@example.com", "Ann Lee-Smith", "Customer", "Priya Raman", "2026-01-05", ""],
    ["chloe@x.io", "Chloe Ng", "New", "", "", "Referred by Bob@x.io"],
    ["bob@x.io", "Robert", "Lost", "", "not a date", ""],
]
SPEND_HEADER_1 = ["Day", "Source", "Amount", "Currency Code"]
SPEND_1: list[list[str] | str | bytes] = [
    ["2026-01-05", "LinkedIn", "100.50", "EUR"],
    ["2026-01-05", "paid_search", "200", "USD"],
    ["2026-01-06", "linkedin", "1,000.00", "EUR"],
    ["2026-01-06", "linkedin", "80", "GBP"],
    ["2026-01-07", "linkedin", "5", "JPY"],
    ["2026-01-08", "", "5", "EUR"],
    ["2026-02-30", "linkedin", "5", "EUR"],
    ["", "linkedin", "5", "EUR"],
    ["2026-01-09", "linkedin", "", "EUR"],
    ["2026-01-09", "email", "12.5", ""],
    "2026-01-10;email;1;EUR;extra",
    ["2026-01-05T23:30:00-02:00", "webinar", "10", " eur "],
    ["2026-01-06", "LINKEDIN", "90.125", "GBP"],
]
SPEND_HEADER_2 = ["date", "channel", "spend", "currency"]
SPEND_2: list[list[str] | str | bytes] = [
    ["2026-01-05", "linkedin", "110", "CHF"],
    ["2026-01-11", "paid_search", "-5.5", "EUR"],
    ["2026-01-05", "paid_search", "abc", "USD"],
]
CAMPAIGN_HEADER = [
    "Campaign", "Campaign Name", "Objective", "Channel", "Status", "Start", "End", "Segment",
    "Campaign Owner",
]  # fmt: skip
CAMPAIGN_KEYS = [
    "campaign_id", "name", "goal", "channel", "status", "start_date", "end_date",
    "target_segment", "owner",
]  # fmt: skip
CAMPAIGNS: list[list[str] | str | bytes] = [
    ["cmp-a", "Welcome", "Activate", "Email", "Active", "2026-01-01", "2026-02-01", "New",
     "Sofia Rossi"],
    ["", "No id", "", "", "", "", "", "", ""],
    ["cmp-b", " ", "", "", "", "", "", "", ""],
    ["cmp-c", "C", "", "", "", "soon", "", "", ""],
    ["cmp-d", "D", "", "", "", "2026-02-01", "2026-01-01", "", ""],
    ["cmp-e", "E", "", "email", "Draft", "", "", "", ""],
    ["cmp-a", "Welcome v2", "Activate", "email", " Paused ", "2026-01-01T08:00:00Z",
     "2026-03-01", "New leads", "Sofia Rossi"],
    [" CMP-F ", "F", "", "", "", "2026-01-10", "2026-01-10", "", ""],
]  # fmt: skip


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str] | str | bytes],
    *,
    delimiter: str = ",",
    newline: str = "\r\n",
) -> Path:
    """Write a CSV file; a str/bytes row is written as is (a broken row)."""
    out = bytearray()
    for row in [header, *rows]:
        if isinstance(row, bytes):
            out += row + newline.encode()
        elif isinstance(row, str):
            out += (row + newline).encode("utf-8")
        else:
            buffer: list[str] = []
            writer = csv.writer(_Collect(buffer), delimiter=delimiter, lineterminator=newline)
            writer.writerow(row)
            out += "".join(buffer).encode("utf-8")
    data = bytes(out)
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


class _Collect:
    def __init__(self, buffer: list[str]) -> None:
        self.buffer = buffer

    def write(self, text: str) -> None:
        self.buffer.append(text)


# --------------------------------------------------------------------------- reference


def stripped(value: str | None) -> str | None:
    if value is None or not value.strip(WS):
        return None
    return value.strip(WS)


def sheet_rows(
    keys: list[str], rows: list[list[str] | str | bytes]
) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row, {key: cell}) of the rows that are landed (header = row 1)."""
    landed = []
    for number, row in enumerate(rows, start=2):
        if (
            isinstance(row, (str, bytes))
            or len(row) != len(keys)
            or not any(c.strip() for c in row)
        ):
            continue
        landed.append((number, dict(zip(keys, row, strict=True))))
    return landed


def parse_date(text: str | None) -> datetime | None:
    return None if text is None else reference.parse_event_time(text)


def last_in_file(rows: list[dict[str, Any]], key: str) -> None:
    """Flag every valid row that a later valid row of the same file repeats."""
    last: dict[Any, int] = {}
    for row in rows:
        if row["reason"] is None:
            last[row[key]] = row["row_number"]
    for row in rows:
        if row["reason"] is None and last[row[key]] != row["row_number"]:
            row["reason"] = row["duplicate"]


def contacts_reference(keys: list[str], rows: list[list[str] | str | bytes], file: str) -> list:
    out = []
    for number, cells in sheet_rows(keys, rows):
        email = stripped(cells.get("email"))
        email = email.lower() if email else None
        date_text = stripped(cells.get("date_added"))
        added = parse_date(date_text)
        if email is None:
            reason = "missing email"
        elif not EMAIL_RE.fullmatch(email):
            reason = "invalid email"
        elif date_text is not None and added is None:
            reason = "invalid date_added"
        else:
            reason = None
        source = stripped(cells.get("channel_of_origin"))
        out.append(
            {
                "source_file": file,
                "row_number": number,
                "reason": reason,
                "duplicate": "duplicate email in file",
                "email": email,
                "contact_id": hashlib.md5((email or "_null_").encode()).hexdigest(),
                "full_name": stripped(cells.get("full_name")),
                "phone": stripped(cells.get("phone")),
                "company": stripped(cells.get("company")),
                "role": stripped(cells.get("role")),
                "industry": stripped(cells.get("industry")),
                "country": stripped(cells.get("country")),
                "timezone": stripped(cells.get("timezone")),
                "lead_source": source.lower() if source else None,
                "lead_status": stripped(cells.get("lead_status")),
                "tags": stripped(cells.get("tags")),
                "notes": stripped(cells.get("notes")),
                "added_at": added,
                "owner": stripped(cells.get("assigned_orchestrator")),
            }
        )
    last_in_file(out, "email")
    return out


def spend_reference(keys: list[str], rows: list[list[str] | str | bytes], file: str) -> list:
    out = []
    for number, cells in sheet_rows(keys, rows):
        date_text = stripped(cells["date"])
        parsed = parse_date(date_text)
        channel = stripped(cells["channel"])
        spend_text = stripped(cells["spend"])
        currency = (stripped(cells["currency"]) or REPORTING).upper()
        if date_text is None:
            reason = "missing date"
        elif parsed is None:
            reason = "invalid date"
        elif channel is None:
            reason = "missing channel"
        elif spend_text is None:
            reason = "missing spend"
        elif not NUMBER_RE.fullmatch(spend_text):
            reason = "invalid spend"
        elif currency not in FX:
            reason = "unknown currency"
        else:
            reason = None
        out.append(
            {
                "source_file": file,
                "row_number": number,
                "reason": reason,
                "duplicate": "duplicate date and channel in file",
                "key": (parsed.date() if parsed else None, channel.lower() if channel else None),
                "spend": Decimal(spend_text) if reason is None else None,
                "currency": currency,
            }
        )
    last_in_file(out, "key")
    return out


def campaigns_reference(keys: list[str], rows: list[list[str] | str | bytes], file: str) -> list:
    out = []
    for number, cells in sheet_rows(keys, rows):
        start_text, end_text = stripped(cells["start_date"]), stripped(cells["end_date"])
        starts, ends = parse_date(start_text), parse_date(end_text)
        campaign_id, name = stripped(cells["campaign_id"]), stripped(cells["name"])
        if campaign_id is None:
            reason = "missing campaign_id"
        elif name is None:
            reason = "missing name"
        elif start_text is not None and starts is None:
            reason = "invalid start_date"
        elif end_text is not None and ends is None:
            reason = "invalid end_date"
        elif starts and ends and ends.date() < starts.date():
            reason = "end_date before start_date"
        else:
            reason = None
        lower = {k: (stripped(cells[k]) or "").lower() or None for k in ("channel", "status")}
        out.append(
            {
                "source_file": file,
                "row_number": number,
                "reason": reason,
                "duplicate": "duplicate campaign_id in file",
                "campaign_id": campaign_id,
                "campaign_name": name,
                "goal": stripped(cells["goal"]),
                "channel": lower["channel"],
                "status": lower["status"],
                "starts_on": starts.date() if starts else None,
                "ends_on": ends.date() if ends else None,
                "target_segment": stripped(cells["target_segment"]),
                "owner": stripped(cells["owner"]),
            }
        )
    last_in_file(out, "campaign_id")
    return out


def latest(loads: list[list[dict[str, Any]]], key: str) -> dict[Any, dict[str, Any]]:
    """The valid row of the latest load per key (``loads`` in load order)."""
    found: dict[Any, dict[str, Any]] = {}
    for rows in loads:
        for row in rows:
            if row["reason"] is None:
                found[row[key]] = row
    return found


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- helpers


def load(ref: ProfileRef, kind: str, path: Path, *extra: str) -> dict[str, Any]:
    proc = run_funnel_load(*ref.cli_args(), "--quiet", "--kind", kind, path, *extra)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    match = SHEET_SUMMARY.fullmatch(proc.stdout.strip())
    assert match, proc.stdout
    fields: dict[str, Any] = match.groupdict()
    for name in ("read", "rows", "err", "erased"):
        fields[name] = int((fields[name] or "0").replace(",", ""))
    assert fields["name"] == str(path) and fields["kind"] == kind
    return fields


def raw_counts(ref: ProfileRef) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        fetch(ref, f"select count(*) from raw.{table}")[0][0]
        for table in ("sheet_rows", "load_errors", "loads")
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("funnel-load: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def rows_of(ref: ProfileRef, sql: str) -> list[dict[str, Any]]:
    if ref.kind == "duckdb":
        import duckdb

        con = duckdb.connect(str(ref.conn["path"]), read_only=True)
        try:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()
    import psycopg2

    c = ref.conn
    con = psycopg2.connect(host=c["host"], port=c["port"], user=c["user"], dbname=c["dbname"])
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def mentions(ref: ProfileRef, needle: str) -> set[str]:
    """schema.table.column of every base table's text column that mentions ``needle``."""
    types = "('VARCHAR')" if ref.kind == "duckdb" else "('text', 'character varying')"
    columns = fetch(
        ref,
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c"
        " join information_schema.tables t on c.table_schema = t.table_schema"
        " and c.table_name = t.table_name"
        f" where t.table_type = 'BASE TABLE' and c.data_type in {types}"
        " and c.table_schema not in ('information_schema', 'pg_catalog')",
    )
    found = set()
    mark = "?" if ref.kind == "duckdb" else "%s"
    for schema, table, column in columns:
        sql = (
            f'select count(*) from "{schema}"."{table}" where strpos(lower("{column}"), {mark}) > 0'
        )
        if fetch(ref, sql, [needle])[0][0]:
            found.add(f"{schema}.{table}.{column}")
    return found


# --------------------------------------------------------------------------- tests


def test_headers_are_normalised_and_mapped() -> None:
    assert normalise_header("\ufeff Full Name ") == "full_name"
    assert normalise_header("E-Mail") == "e_mail"
    assert normalise_header("Date-Added (UTC)") == "date_added_utc"
    assert list(map_header(CONTACT_HEADER_1, "contacts", "f")) == CONTACT_KEYS_1
    assert list(map_header(CONTACT_HEADER_2, "contacts", "f")) == CONTACT_KEYS_2
    assert list(map_header(SPEND_HEADER_1, "spend", "f")) == SPEND_HEADER_2
    assert list(map_header(CAMPAIGN_HEADER, "campaigns", "f")) == CAMPAIGN_KEYS
    assert map_header(["Email", "", "x"], "contacts", "f") == ("email", None, "x")


def test_sheets_land_and_build_with_latest_wins_fx_and_quarantine(
    tmp_path: Path, warehouse_profile: ProfileRef
) -> None:
    ref = warehouse_profile
    files = {
        "contacts_1": write_csv(tmp_path / "contacts.csv", CONTACT_HEADER_1, CONTACTS_1),
        "contacts_2": write_csv(
            tmp_path / "contacts-2.csv", CONTACT_HEADER_2, CONTACTS_2, newline="\n"
        ),
        "spend_1": write_csv(
            tmp_path / "spend.csv.gz", SPEND_HEADER_1, SPEND_1, delimiter=";", newline="\n"
        ),
        "spend_2": write_csv(tmp_path / "spend-2.csv", SPEND_HEADER_2, SPEND_2),
        "campaigns": write_csv(tmp_path / "campaigns.csv", CAMPAIGN_HEADER, CAMPAIGNS),
    }
    name = {key: str(path.resolve()) for key, path in files.items()}

    # -- load: counts, load errors with row numbers, skip on reload
    c1 = load(ref, "contacts", files["contacts_1"])
    assert (c1["read"], c1["rows"], c1["err"]) == (9, 7, 2)  # the blank row is not a record
    s1 = load(ref, "spend", files["spend_1"])
    assert (s1["read"], s1["rows"], s1["err"]) == (13, 12, 1)
    cm = load(ref, "campaigns", files["campaigns"])
    assert (cm["read"], cm["rows"], cm["err"]) == (8, 8, 0)
    c2 = load(ref, "contacts", files["contacts_2"])
    s2 = load(ref, "spend", files["spend_2"])
    assert (c2["rows"], s2["rows"]) == (3, 3)
    errors = fetch(
        ref,
        "select source_file, source_position, raw_text, reason from raw.load_errors"
        " order by source_file, source_position",
    )
    assert errors == [
        (name["contacts_1"], 5, "Short,row", WRONG_WIDTH.format(2, 15)),
        (name["contacts_1"], 9, "Caf\\xe9,cafe@x.io,,,,,,,,,,,,,", "invalid UTF-8"),
        (name["spend_1"], 12, "2026-01-10;email;1;EUR;extra", WRONG_WIDTH.format(5, 4)),
    ]  # fmt: skip
    loads = fetch(
        ref,
        "select source_format, records_read, events_loaded, errors from raw.loads"
        " order by started_at",
    )
    assert loads == [
        ("sheet:contacts", 9, 7, 2),
        ("sheet:spend", 13, 12, 1),
        ("sheet:campaigns", 8, 8, 0),
        ("sheet:contacts", 3, 3, 0),
        ("sheet:spend", 3, 3, 0),
    ]
    before = raw_counts(ref)
    again = run_funnel_load(*ref.cli_args(), "--quiet", "--kind", "spend", files["spend_1"])
    assert again.returncode == 0 and again.stdout.startswith(f"skipped {files['spend_1']}: ")
    assert raw_counts(ref) == before
    # the payload keeps the cell text as written, under the canonical names
    payload = fetch(
        ref,
        "select payload from raw.sheet_rows where source_file = "
        f"'{name['contacts_1']}' and row_number = 2",
    )[0][0]
    assert '"email": " Ann.Lee@Example.COM "' in payload
    assert '"notes": "Met at \\"Summit\\",\\nwants pricing"' in payload

    # -- build and compare
    run_dbt(ref, *BUILD, work_dir=tmp_path)

    contact_loads = [
        contacts_reference(CONTACT_KEYS_1, CONTACTS_1, name["contacts_1"]),
        contacts_reference(CONTACT_KEYS_2, CONTACTS_2, name["contacts_2"]),
    ]
    expected_contacts = latest(contact_loads, "email")
    assert set(expected_contacts) == {"ann.lee@example.com", "bob@x.io", "chloe@x.io"}
    columns = [
        "contact_id", "email", "full_name", "phone", "company", "role", "industry", "country",
        "timezone", "lead_source", "lead_status", "tags", "notes", "added_at", "owner",
        "source_file", "row_number",
    ]  # fmt: skip
    actual = {
        row["email"]: row
        for row in rows_of(ref, "select * from intermediate.int_sheet_contacts_deduplicated")
    }
    assert set(actual) == set(expected_contacts)
    for email, row in actual.items():
        assert {c: row[c] for c in columns} == {c: expected_contacts[email][c] for c in columns}
        assert row["loaded_at"] is not None
    assert actual["bob@x.io"]["added_at"] == datetime(2026, 1, 6)  # the file's last Bob row

    spend_loads = [
        spend_reference(SPEND_HEADER_2, SPEND_1, name["spend_1"]),
        spend_reference(SPEND_HEADER_2, SPEND_2, name["spend_2"]),
    ]
    expected_spend = latest(spend_loads, "key")
    actual_spend = {
        (row["spend_date"], row["raw_channel"]): row
        for row in rows_of(ref, "select * from intermediate.int_channel_spend_converted")
    }
    assert set(actual_spend) == set(expected_spend)
    for key, row in actual_spend.items():
        want = expected_spend[key]
        converted = want["spend"] * FX[want["currency"]] / FX[REPORTING]
        assert (row["currency"], row["source_file"], row["row_number"]) == (
            want["currency"],
            want["source_file"],
            want["row_number"],
        ), key
        assert money(row["spend"]) == money(want["spend"]), key
        assert abs(money(row["spend_reporting"]) - money(converted)) <= Decimal("0.000001"), key
        spend_id = hashlib.md5(f"{key[0].isoformat()}|{key[1]}".encode()).hexdigest()
        assert row["spend_id"] == spend_id
    assert len(actual_spend) == 6  # 4 days of linkedin/paid_search/webinar/email, 1 override

    campaign_rows = campaigns_reference(CAMPAIGN_KEYS, CAMPAIGNS, name["campaigns"])
    expected_campaigns = latest([campaign_rows], "campaign_id")
    actual_campaigns = {
        row["campaign_id"]: row
        for row in rows_of(ref, "select * from intermediate.int_campaigns_deduplicated")
    }
    assert set(actual_campaigns) == {"cmp-a", "cmp-e", "CMP-F"} == set(expected_campaigns)
    fields = [
        "campaign_name", "goal", "channel", "status", "starts_on", "ends_on", "target_segment",
        "owner", "source_file", "row_number",
    ]  # fmt: skip
    for campaign_id, row in actual_campaigns.items():
        want = expected_campaigns[campaign_id]
        assert {f: row[f] for f in fields} == {f: want[f] for f in fields}, campaign_id

    quarantined = {
        (row["kind"], row["source_file"], row["row_number"]): row["reason"]
        for row in rows_of(ref, "select * from marts.fct_quarantined_sheet_rows")
    }
    expected_quarantine = {
        (kind, row["source_file"], row["row_number"]): row["reason"]
        for kind, loads_of_kind in (
            ("contacts", contact_loads),
            ("spend", spend_loads),
            ("campaigns", [campaign_rows]),
        )
        for rows in loads_of_kind
        for row in rows
        if row["reason"] is not None
    }
    assert quarantined == expected_quarantine
    assert len(quarantined) == 6 + 8 + 5
    # nothing vanishes: every landed row is valid or quarantined
    landed = fetch(ref, "select count(*) from raw.sheet_rows")[0][0]
    valid = sum(
        fetch(ref, f"select count(*) from intermediate.{model} where is_valid")[0][0]
        for model in (
            "int_sheet_contacts_validated",
            "int_channel_spend_validated",
            "int_campaigns_validated",
        )
    )
    assert landed == valid + len(quarantined)

    # -- erasure: the person leaves raw and built tables, and a later sheet cannot add them
    forgot = subprocess.run(
        [sys.executable, "-m", "crm_funnel.ops.erasure", *ref.cli_args(), "BOB@x.io"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert forgot.returncode == 0, forgot.stderr
    assert forgot.stdout.startswith("forgot bob@x.io: removed 0 raw events and 0 load errors, ")
    # file 1 rows 3 and 10, file 2 rows 3 (Chloe's notes mention Bob) and 4
    assert ", 4 raw sheet rows" in forgot.stdout
    assert mentions(ref, "bob@x.io") == set()  # also Chloe's current row (its notes)
    later = write_csv(
        tmp_path / "contacts-3.csv",
        ["Email", "Full Name"],
        [["Bob@X.io", "Bob again"], ["eve@x.io", "Eve"]],
    )
    c3 = load(ref, "contacts", later)
    assert (c3["read"], c3["rows"], c3["err"], c3["erased"]) == (2, 1, 0, 1)
    assert mentions(ref, "bob@x.io") == set()
    assert fetch(ref, "select erased_skipped from raw.loads order by started_at desc limit 1") == [
        (1,)
    ]


def test_missing_required_column_loads_nothing(tmp_path: Path, duckdb_profile: ProfileRef) -> None:
    ref = duckdb_profile
    good = write_csv(tmp_path / "a.csv", ["Email"], [["a@x.io"]])
    bad = write_csv(tmp_path / "b.csv", ["Date", "Channel", "Spend"], [["2026-01-01", "x", "1"]])
    # a bad spend file after a good one: the header check runs before anything is loaded
    proc = run_funnel_load(*ref.cli_args(), "--kind", "spend", bad)
    assert_one_line_error(
        proc, "b.csv", "no currency column for --kind spend", "nothing was loaded"
    )
    proc = run_funnel_load(*ref.cli_args(), "--kind", "contacts", good, tmp_path / "c.csv")
    assert_one_line_error(proc, "no such file or directory")
    write_csv(tmp_path / "c.csv", ["Name", "Phone"], [["Ann", "1"]])
    proc = run_funnel_load(*ref.cli_args(), "--kind", "contacts", good, tmp_path / "c.csv")
    assert_one_line_error(proc, "c.csv", "no email column", "'Name', 'Phone'")
    assert not Path(ref.conn["path"]).exists() or raw_counts(ref) == (0, 0, 0)
    # two columns meaning the same thing, an empty file, a CSV given as events
    write_csv(tmp_path / "d.csv", ["Email", "E-mail"], [["a@x.io", "b@x.io"]])
    proc = run_funnel_load(*ref.cli_args(), "--kind", "contacts", tmp_path / "d.csv")
    assert_one_line_error(proc, "'Email' and 'E-mail'", "both mean email")
    (tmp_path / "e.csv").write_bytes(b"")
    proc = run_funnel_load(*ref.cli_args(), "--kind", "campaigns", tmp_path / "e.csv")
    assert_one_line_error(proc, "no header row")
    proc = run_funnel_load(*ref.cli_args(), good)
    assert_one_line_error(proc, "is a CSV file", "--kind")
    proc = run_funnel_load(*ref.cli_args(), "--kind", "contacts", "--format", "native", good)
    assert_one_line_error(proc, "--format applies to events only")
    assert not Path(ref.conn["path"]).exists() or raw_counts(ref) == (0, 0, 0)


def test_stdin_and_directories(tmp_path: Path, duckdb_profile: ProfileRef) -> None:
    ref = duckdb_profile
    folder = tmp_path / "sheets"
    folder.mkdir()
    write_csv(folder / "one.csv", ["Email"], [["a@x.io"], ["b@x.io"]])
    write_csv(folder / "two.csv.gz", ["Email"], [["c@x.io"]])
    (folder / "notes.txt").write_text("not a sheet")
    proc = run_funnel_load(*ref.cli_args(), "--quiet", "--kind", "contacts", folder)
    assert proc.returncode == 0, proc.stderr
    assert [SHEET_SUMMARY.fullmatch(line)["rows"] for line in proc.stdout.splitlines()] == [
        "2",
        "1",
    ]
    data = b"email,full_name\nd@x.io,Dee\n"
    proc = run_funnel_load(*ref.cli_args(), "--quiet", "--kind", "contacts", "-", input=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("loaded <stdin>: 1 row -> 1 contacts row, 0 errors")
    stdin_rows = "select source_file, row_number from raw.sheet_rows where payload like '%d@x.io%'"
    assert fetch(ref, stdin_rows) == [("<stdin>", 2)]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated(
    tmp_path: Path, duckdb_profile: ProfileRef, delimiter: str
) -> None:
    path = write_csv(
        tmp_path / "spend.csv",
        SPEND_HEADER_2,
        [["2026-01-05", "linkedin", "1,5", "EUR"]],
        delimiter=delimiter,
    )
    result = load(duckdb_profile, "spend", path)
    assert (result["rows"], result["err"]) == (1, 0)
    payload = fetch(duckdb_profile, "select payload from raw.sheet_rows")[0][0]
    assert '"spend": "1,5"' in payload
