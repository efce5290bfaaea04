"""Tests of ``funnel-load`` against real DuckDB and PostgreSQL databases (no mocks).

Expectations are computed from the inputs each test generates, with an event-key
function written here independently of the loader.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    LOAD_SKIPPED,
    ProfileRef,
    execute,
    fetch,
    parse_load_summary,
    run_funnel_load,
    write_profiles,
)
from crm_funnel.errors import TerminalError
from crm_funnel.ingest.cli import main
from crm_funnel.ingest.inputs import LoadInput
from crm_funnel.ingest.progress import Progress
from crm_funnel.ingest.readers import read_to_csv

# --------------------------------------------------------------------------- helpers


def expected_key(obj: dict[str, Any]) -> str:
    """The documented key of a native event: namespaced, long ids hashed."""
    event_id = obj.get("event_id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        kind, value = "int", str(event_id)
    elif isinstance(event_id, str) and event_id:
        kind, value = "id", event_id
    else:
        canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "native:sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    if len(f"native:{kind}:{value}") > 200:
        return f"native:{kind}-sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    return f"native:{kind}:{value}"


def native_events(n: int, prefix: str = "e") -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}{i}",
            "email": f"user{i % 7}@example.com",
            "event_type": ("view", "click", "signup")[i % 3],
            "channel": "web",
            "event_time": f"2026-01-{1 + i % 28:02d}T10:00:00Z",
            "company": "Acme",
            "industry": "SaaS",
            "properties": {"campaign_id": f"c{i % 4}"},
        }
        for i in range(n)
    ]


def ndjson(objs: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


def load(capsys: pytest.CaptureFixture[str], ref: ProfileRef, *args: Any) -> list[str]:
    """Run funnel-load in this process; it must succeed; return its stdout lines."""
    capsys.readouterr()
    rc = main([*ref.cli_args(), "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert err == ""
    return out.splitlines()


def counts(ref: ProfileRef) -> dict[str, int]:
    return {
        table: fetch(ref, f"select count(*) from raw.{table}")[0][0]
        for table in ("events", "load_errors", "loads")
    }


def events(ref: ProfileRef) -> dict[str, tuple[str, int, str, str]]:
    rows = fetch(
        ref,
        "select event_key, source_file, source_position, source_format, payload from raw.events",
    )
    return {key: (file, int(pos), fmt, payload) for key, file, pos, fmt, payload in rows}


def load_errors(ref: ProfileRef) -> list[tuple[int, str, str]]:
    rows = fetch(
        ref,
        "select source_position, raw_text, reason from raw.load_errors order by source_position",
    )
    return [(int(pos), text, reason) for pos, text, reason in rows]


def loads(ref: ProfileRef) -> list[dict[str, Any]]:
    columns = (
        "load_id, source_file, checksum, source_format, records_read, events_loaded, "
        "duplicates_skipped, errors, status, started_at, finished_at"
    )
    rows = fetch(ref, f"select {columns} from raw.loads order by started_at")
    return [dict(zip(columns.split(", "), row, strict=True)) for row in rows]


def snapshot(ref: ProfileRef) -> dict[str, list[tuple]]:
    return {
        "events": sorted(fetch(ref, "select * from raw.events")),
        "load_errors": sorted(map(repr, fetch(ref, "select * from raw.load_errors"))),
        "loads": sorted(fetch(ref, "select * from raw.loads")),
    }


def raw_tables(ref: ProfileRef) -> set[str]:
    if ref.kind == "duckdb" and not Path(ref.conn["path"]).exists():
        return set()
    rows = fetch(ref, "select table_name from information_schema.tables where table_schema = 'raw'")
    return {r[0] for r in rows}


def assert_nothing_committed(ref: ProfileRef, before: dict[str, list[tuple]] | None) -> None:
    if before is None:
        tables = raw_tables(ref)
        if tables:
            assert counts(ref) == {"events": 0, "load_errors": 0, "loads": 0}
    else:
        assert snapshot(ref) == before


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("funnel-load: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --------------------------------------------------------------------------- NDJSON


TRICKY_STRINGS = [
    "comma, \"double quotes\", 'single'",
    "back\\slash and \\n literal",
    "real newline\nand\r\ncarriage return\tand tab",
    "unicode: é ü 日本語 🎉 \u2028 line separator",
    'csv ,,,"""\n"',
    "control \u0001 \u001f \u0000 escapes",
    "",
]


def test_ndjson_lands_every_record_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    objs: list[dict[str, Any]] = []
    for i, text in enumerate(TRICKY_STRINGS):
        objs.append(
            {"event_id": f"t{i}", "event_type": "view", "note": text, "n": [i, {"x": text}]}
        )
    objs += [
        {"event_id": 42, "event_type": "click"},
        {"event_type": "signup", "email": "no-id@example.com"},
        {"event_id": "", "event_type": "signup", "email": "empty-id@example.com"},
        {"event_id": None, "event_type": "view"},
        {"event_id": True, "event_type": "view"},
        {"event_id": 1.5, "event_type": "view"},
        {"event_id": "ünï-id", "event_type": "view"},
    ]
    # different spellings of JSON text: all must be kept exactly as written
    lines = []
    for i, obj in enumerate(objs):
        if i % 3 == 0:
            lines.append(json.dumps(obj, ensure_ascii=False))
        elif i % 3 == 1:
            lines.append(json.dumps(obj, separators=(",", ":")))
        else:
            lines.append(" " + json.dumps(obj, separators=(" ,  ", " : "), ensure_ascii=False))
    path = tmp_path / "events.ndjson"
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(data)

    before = datetime.now(timezone.utc).replace(tzinfo=None)
    out = load(capsys, warehouse_profile, path)
    after = datetime.now(timezone.utc).replace(tzinfo=None)

    assert len(out) == 1
    s = parse_load_summary(out[0])
    assert (s["name"], s["read"], s["new"], s["dup"], s["err"]) == (
        str(path),
        len(objs),
        len(objs),
        0,
        0,
    )
    expected = {
        expected_key(obj): (str(path.resolve()), i + 1, "native", lines[i])
        for i, obj in enumerate(objs)
    }
    assert events(warehouse_profile) == expected
    assert load_errors(warehouse_profile) == []
    (row,) = loads(warehouse_profile)
    assert row["load_id"] == s["load"]
    assert row["source_file"] == str(path.resolve())
    assert row["checksum"] == hashlib.sha256(data).hexdigest()
    assert row["source_format"] == "native"
    assert (row["records_read"], row["events_loaded"]) == (len(objs), len(objs))
    assert (row["duplicates_skipped"], row["errors"], row["status"]) == (0, 0, "complete")
    slack = timedelta(seconds=1)
    assert before - slack <= row["started_at"] <= row["finished_at"] <= after + slack
    loaded_at = fetch(warehouse_profile, "select distinct load_id, loaded_at from raw.events")
    assert [r[0] for r in loaded_at] == [s["load"]]
    assert before - slack <= loaded_at[0][1] <= after + slack


def test_bad_records_go_to_load_errors_with_reason_and_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    good = native_events(3, prefix="g")
    raw_lines: list[bytes] = [
        b"\xef\xbb\xbf" + json.dumps(good[0]).encode(),  # 1: BOM at the start of the file
        b"",  # 2: blank (not a record)
        b"{oops",  # 3
        b"[1, 2]",  # 4
        b'"just a string"',  # 5
        b"12.5",  # 6
        b"true",  # 7
        b"null",  # 8
        b'{"bad": "\xff\xfe"}',  # 9: invalid UTF-8
        b'{"nul": 1}\x00',  # 10: NUL byte
        json.dumps(good[1]).encode() + b"\r",  # 11: CRLF line ending
        b"   \t ",  # 12: whitespace only (not a record)
        b'{"n": NaN}',  # 13: NaN is not JSON
        b'{"a": 1} {"b": 2}',  # 14: two objects on one line
        b'{"lone": "\\ud800"}',  # 15: a lone surrogate escape cannot be stored as UTF-8
        b'{"email": "first@x.io", "email": "second@x.io"}',  # 16: engines disagree on which
        b'{"p": {"n": 1, "\\u006e": 2}}',  # 17: the same key, once spelled with an escape
        json.dumps(good[2]).encode(),  # 18, no final newline
    ]
    path = tmp_path / "dirty.ndjson"
    path.write_bytes(b"\n".join(raw_lines))

    (line,) = load(capsys, warehouse_profile, path)
    s = parse_load_summary(line)
    errors = load_errors(warehouse_profile)
    expected_errors = [
        (3, "{oops", "invalid JSON: "),
        (4, "[1, 2]", "not a JSON object (got array)"),
        (5, '"just a string"', "not a JSON object (got string)"),
        (6, "12.5", "not a JSON object (got number)"),
        (7, "true", "not a JSON object (got boolean)"),
        (8, "null", "not a JSON object (got null)"),
        (9, '{"bad": "\\xff\\xfe"}', "invalid UTF-8"),
        (10, '{"nul": 1}\\x00', "invalid JSON: "),
        (13, '{"n": NaN}', "invalid JSON: "),
        (14, '{"a": 1} {"b": 2}', "invalid JSON: "),
        (15, '{"lone": "\\ud800"}', "invalid JSON: lone UTF-16 surrogate escape"),
        (16, '{"email": "first@x.io", "email": "second@x.io"}', 'duplicate JSON key "email"'),
        (17, '{"p": {"n": 1, "\\u006e": 2}}', 'duplicate JSON key "n"'),
    ]
    assert [(p, t) for p, t, _ in errors] == [(p, t) for p, t, _ in expected_errors]
    for (_, _, reason), (_, _, prefix) in zip(errors, expected_errors, strict=True):
        assert reason.startswith(prefix), reason
        if prefix == "invalid JSON: ":
            assert len(reason) > len(prefix)
    assert events(warehouse_profile) == {
        "native:id:g0": (str(path.resolve()), 1, "native", json.dumps(good[0])),
        "native:id:g1": (str(path.resolve()), 11, "native", json.dumps(good[1])),
        "native:id:g2": (str(path.resolve()), 18, "native", json.dumps(good[2])),
    }
    assert (s["read"], s["new"], s["dup"], s["err"]) == (16, 3, 0, 13)
    (row,) = loads(warehouse_profile)
    assert row["records_read"] == row["events_loaded"] + row["duplicates_skipped"] + row["errors"]
    assert (row["records_read"], row["errors"]) == (16, 13)


def test_identical_bad_lines_are_stored_once_and_counted_by_every_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    bad = ["{oops", "[1, 2]", "{oops"]
    first = write_ndjson(tmp_path / "first.ndjson", ['{"event_id": "a"}', *bad])
    second = write_ndjson(tmp_path / "second.ndjson", ['{"event_id": "b"}', "[1, 2]", "{new"])
    out = load(capsys, warehouse_profile, first, second)
    summaries = [parse_load_summary(x) for x in out]
    assert [(s["read"], s["new"], s["err"]) for s in summaries] == [(4, 1, 3), (3, 1, 2)]
    assert [(r["records_read"], r["errors"]) for r in loads(warehouse_profile)] == [(4, 3), (3, 2)]
    rows = fetch(
        warehouse_profile,
        "select source_file, source_position, raw_text from raw.load_errors "
        "order by source_file, source_position",
    )
    assert rows == [
        (str(first.resolve()), 2, "{oops"),
        (str(first.resolve()), 3, "[1, 2]"),
        (str(second.resolve()), 3, "{new"),
    ]


def test_an_empty_file_is_never_taken_for_another_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    zero_gz = tmp_path / "export.ndjson.gz"  # 0 bytes although the name ends in .gz
    zero_gz.write_bytes(b"")
    out = load(capsys, warehouse_profile, empty, zero_gz, empty)
    assert [parse_load_summary(x)["read"] for x in out] == [0, 0, 0]  # none skipped
    assert [r["source_file"] for r in loads(warehouse_profile)] == [
        str(empty.resolve()),
        str(zero_gz.resolve()),
        str(empty.resolve()),
    ]


def test_event_keys_are_namespaced_by_format_and_type_and_long_ids_hashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    long_id = "x" * 10_000
    lines = [
        '{"event_id": "abc", "event_type": "view", "v": 1}',
        '{"event_id": 7, "event_type": "view"}',
        '{"event_type": "view", "email": "a@b.co", "v": 2}',
        '{"event_id": "abc", "event_type": "view", "v": "second"}',  # same id: duplicate
        '{ "v" : 2, "email" : "a@b.co", "event_type" : "view" }',  # same content: duplicate
        '{"event_id": "7", "event_type": "other"}',  # the string "7" is not the number 7
        '{"event_id": "", "v": 3}',
        '{"event_id": false, "v": 3}',
        # another system's id that happens to equal a native one: a different event
        '{"type": "track", "event": "Order Completed", "messageId": "abc", "userId": "u"}',
        json.dumps({"event_id": long_id, "event_type": "view"}),
        json.dumps({"event_id": long_id, "event_type": "click"}),  # same id: duplicate
    ]
    path = tmp_path / "keys.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (line,) = load(capsys, warehouse_profile, path)
    s = parse_load_summary(line)
    assert (s["read"], s["new"], s["dup"], s["err"]) == (11, 8, 3, 0)

    landed = events(warehouse_profile)
    objs = [json.loads(x) for x in lines[:8] + lines[9:]]
    first: dict[str, int] = {}
    for i, obj in enumerate(objs):
        first.setdefault(expected_key(obj), i + (i >= 8))
    first["segment:id:abc"] = 8
    assert {k: v[1] for k, v in landed.items()} == {k: i + 1 for k, i in first.items()}
    assert landed["native:id:abc"][2:] == ("native", lines[0])
    assert landed["segment:id:abc"][2:] == ("segment", lines[8])
    assert landed["native:int:7"][3] == lines[1]
    assert landed["native:id:7"][3] == lines[5]
    content_key = hashlib.sha256(b'{"email":"a@b.co","event_type":"view","v":2}').hexdigest()
    assert landed[f"native:sha256:{content_key}"][1:] == (3, "native", lines[2])
    long_key = "native:id-sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert landed[long_key][3] == lines[9]
    assert max(map(len, landed)) <= 200
    (row,) = loads(warehouse_profile)
    assert (row["events_loaded"], row["duplicates_skipped"]) == (8, 3)


OLD_RAW_DDL = [  # raw.loads and raw.events as the loader made them before namespaced keys
    """create table raw.loads (
        load_id text primary key, source_file text not null, checksum text not null,
        source_format text not null, records_read bigint not null,
        events_loaded bigint not null, duplicates_skipped bigint not null,
        errors bigint not null, erased_skipped bigint not null, status text not null,
        started_at timestamp not null, finished_at timestamp not null)""",
    """create table raw.events (
        event_key text not null primary key, load_id text not null,
        source_file text not null, source_position bigint not null,
        source_format text not null, payload text not null, loaded_at timestamp not null)""",
]


def test_events_landed_with_old_keys_are_still_duplicates_after_the_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    old = [
        ("m-1", "native", '{"event_id": "m-1", "event_type": "view"}'),
        ("7", "native", '{"event_id": 7, "event_type": "view"}'),
        (
            hashlib.sha256(b'{"email":"a@b.co","event_type":"view"}').hexdigest(),
            "native",
            '{"event_type": "view", "email": "a@b.co"}',
        ),
        ("s-1", "segment", '{"type": "track", "messageId": "s-1", "userId": "u"}'),
    ]
    execute(
        warehouse_profile,
        "create schema raw",
        *OLD_RAW_DDL,
        "insert into raw.loads values ('old', 'old.ndjson', 'c0ffee', 'mixed', 4, 4, 0, 0, 0, "
        "'complete', '2026-01-01 00:00:00', '2026-01-01 00:00:01')",
        *(
            f"insert into raw.events values ('{key}', 'old', 'old.ndjson', {i + 1}, '{fmt}', "
            f"'{payload}', '2026-01-01 00:00:00')"
            for i, (key, fmt, payload) in enumerate(old)
        ),
    )
    redelivered = [payload for _, _, payload in old]
    new = [
        '{"type": "track", "event": "Order Completed", "messageId": "m-1", "userId": "u"}',
        '{"event_id": "m-2", "event_type": "view"}',
    ]
    path = write_ndjson(tmp_path / "again.ndjson", redelivered + new)
    (line,) = load(capsys, warehouse_profile, path)
    s = parse_load_summary(line)
    assert (s["read"], s["new"], s["dup"], s["err"]) == (6, 2, 4, 0)
    assert set(events(warehouse_profile)) == {key for key, _, _ in old} | {
        "segment:id:m-1",
        "native:id:m-2",
    }
    # and the events landed now are duplicates of themselves from now on
    path = write_ndjson(tmp_path / "once-more.ndjson", [*redelivered, *new, "{}"])
    (line,) = load(capsys, warehouse_profile, path)
    s = parse_load_summary(line)
    assert (s["read"], s["new"], s["dup"], s["err"]) == (7, 1, 6, 0)
    if warehouse_profile.kind == "duckdb":  # rebuilt without the old primary key
        assert fetch(
            warehouse_profile,
            "select count(*) from duckdb_constraints() where schema_name = 'raw' "
            "and table_name = 'events' and constraint_type = 'PRIMARY KEY'",
        ) == [(0,)]
        assert fetch(warehouse_profile, "select count(*) from raw.events") == [(7,)]


def write_ndjson(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- JSON arrays


def test_json_array_keeps_each_elements_original_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    objs: list[Any] = native_events(40, prefix="a")
    objs[5]["note"] = TRICKY_STRINGS[2]
    objs[6]["note"] = "x" * (2_500_000)  # one element bigger than a read chunk
    objs.insert(10, 12345)  # not objects: to load_errors
    objs.insert(20, ["nested", {"list": 1}])
    objs.insert(30, None)
    texts = []
    for i, obj in enumerate(objs):
        if i % 2:
            texts.append(json.dumps(obj, indent=2, ensure_ascii=False))
        else:
            texts.append(json.dumps(obj, indent=4).replace("\n", "\r\n"))
    data = "\ufeff\n  [\n" + ",\n".join(texts) + "\n]\n"
    path = tmp_path / "events.json"
    path.write_bytes(data.encode("utf-8"))

    (line,) = load(capsys, warehouse_profile, path)
    s = parse_load_summary(line)
    assert (s["read"], s["new"], s["dup"], s["err"]) == (43, 40, 0, 3)
    src = str(path.resolve())
    assert events(warehouse_profile) == {
        expected_key(obj): (src, i + 1, "native", texts[i])
        for i, obj in enumerate(objs)
        if isinstance(obj, dict)
    }
    errors = load_errors(warehouse_profile)
    assert [(p, t) for p, t, _ in errors] == [(11, texts[10]), (21, texts[20]), (31, texts[30])]
    assert [r for _, _, r in errors] == [
        "not a JSON object (got number)",
        "not a JSON object (got array)",
        "not a JSON object (got null)",
    ]


def load_fails(capsys: pytest.CaptureFixture[str], ref: ProfileRef, *args: Any) -> str:
    """Run funnel-load in this process; it must fail with one line; return the line."""
    capsys.readouterr()
    rc = main([*ref.cli_args(), "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("funnel-load: error: ")
    return line


def test_json_array_bad_element_is_one_error_and_the_rest_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    texts = [json.dumps(o) for o in native_events(2_000, prefix="j")]
    bad = {
        6: b'{"event_id": "nan", "n": NaN}',
        700: b'{"event_id": "utf8", "name": "J\xf6rg"}',
        1_500: b'{"email": "first@x.io", "email": "second@x.io", "event_type": "view"}',
        1_900: b'{"event_id": "deep", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    }
    elements = [bad.get(i + 1, text.encode()) for i, text in enumerate(texts)]
    path = tmp_path / "big.json"
    path.write_bytes(b"[\n" + b",\n".join(elements) + b"\n]\n")
    (line,) = load(capsys, warehouse_profile, path)
    s = parse_load_summary(line)
    assert (s["read"], s["new"], s["dup"], s["err"]) == (2_000, 1_996, 0, 4)
    assert len(events(warehouse_profile)) == 1_996
    errors = load_errors(warehouse_profile)
    assert [(pos, text) for pos, text, _ in errors] == [
        (6, bad[6].decode()),
        (700, '{"event_id": "utf8", "name": "J\\xf6rg"}'),
        (1_500, bad[1_500].decode()),
        (1_900, bad[1_900].decode()),  # complete, however long
    ]
    assert [reason for _, _, reason in errors] == [
        "invalid JSON: NaN is not valid JSON",
        "invalid UTF-8",
        'duplicate JSON key "email"',
        "invalid JSON: nested too deeply",
    ]
    (row,) = loads(warehouse_profile)
    assert row["records_read"] == row["events_loaded"] + row["duplicates_skipped"] + row["errors"]


@pytest.mark.parametrize(
    ("tail", "reason", "offset"),
    [
        (b', {"event_id": "broken" "no comma"}]', "invalid JSON: Expecting ',' delimiter", 24),
        (b"]\n" + b'{"event_id": "nd1"}\n{"event_id": "nd2"}\n', "extra data after", 2),
        (b", \xff]", "invalid UTF-8", 2),
        (b",", "unexpected end of file: the JSON array is not closed", 1),
    ],
    ids=["syntax", "ndjson-after", "utf8-between", "truncated"],
)
def test_json_array_syntax_break_rejects_the_whole_file_naming_the_byte(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    warehouse_profile: ProfileRef,
    tail: bytes,
    reason: str,
    offset: int,
) -> None:
    head = "[" + ", ".join(json.dumps(o) for o in native_events(3, prefix="s"))
    path = tmp_path / "broken.json.gz"
    path.write_bytes(gzip.compress(head.encode() + tail))
    before = snapshot(warehouse_profile) if raw_tables(warehouse_profile) else None
    line = load_fails(capsys, warehouse_profile, path)
    assert f"cannot read the decompressed data of {path}: {reason}" in line, line
    assert f"at byte {len(head) + offset:,};" in line, line
    assert "nothing was loaded" in line
    assert_nothing_committed(warehouse_profile, before)


# --------------------------------------------------------------------------- gzip, dirs, globs


def test_gzip_by_name_and_by_magic_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    first, second = native_events(50, prefix="z"), native_events(30, prefix="y")
    gz_named = tmp_path / "events.ndjson.gz"
    gz_named.write_bytes(gzip.compress(ndjson(first)))
    disguised = tmp_path / "array.json"  # gzip content without the .gz name
    disguised.write_bytes(gzip.compress(json.dumps(second, indent=1).encode()))

    out = load(capsys, warehouse_profile, "--format", "native", gz_named, disguised)
    assert [(parse_load_summary(x)["read"], parse_load_summary(x)["new"]) for x in out] == [
        (50, 50),
        (30, 30),
    ]
    assert {r["source_format"] for r in loads(warehouse_profile)} == {"native"}
    by_file = {r["source_file"]: r["checksum"] for r in loads(warehouse_profile)}
    assert by_file == {
        str(gz_named.resolve()): hashlib.sha256(gz_named.read_bytes()).hexdigest(),
        str(disguised.resolve()): hashlib.sha256(disguised.read_bytes()).hexdigest(),
    }
    landed = events(warehouse_profile)
    assert landed["native:id:z7"][3] == json.dumps(first[7], ensure_ascii=False)
    assert json.loads(landed["native:id:y3"][3]) == second[3]


def test_directory_recursive_and_quoted_glob(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    root = tmp_path / "drop"
    (root / "sub" / "deeper").mkdir(parents=True)
    files = {
        root / "b.ndjson": native_events(4, prefix="b"),
        root / "sub" / "a.json": native_events(3, prefix="a"),
        root / "sub" / "deeper" / "c.jsonl.gz": native_events(2, prefix="c"),
        root / "d.NDJSON": native_events(1, prefix="d"),
    }
    for path, objs in files.items():
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(ndjson(objs)))
        elif path.suffix == ".json":
            path.write_text(json.dumps(objs))
        else:
            path.write_bytes(ndjson(objs))
    (root / "notes.txt").write_text("not an input")
    (root / "sub" / "x.csv").write_text("a,b\n")

    out = load(capsys, warehouse_profile, root)
    expected_order = sorted(files)
    assert [parse_load_summary(x)["name"] for x in out] == [str(p) for p in expected_order]
    assert [parse_load_summary(x)["new"] for x in out] == [len(files[p]) for p in expected_order]
    assert len(events(warehouse_profile)) == 10

    other = tmp_path / "more"
    other.mkdir()
    for i in range(3):
        (other / f"part{i}.ndjson").write_bytes(ndjson(native_events(2, prefix=f"p{i}-")))
    (other / "skip.txt").write_text("x")
    out = load(capsys, warehouse_profile, f"{other}/part*.ndjson")
    assert [parse_load_summary(x)["name"] for x in out] == [
        str(other / f"part{i}.ndjson") for i in range(3)
    ]
    assert len(events(warehouse_profile)) == 16
    assert len(loads(warehouse_profile)) == 7


# --------------------------------------------------------------------------- idempotency


def test_reloading_the_same_file_or_the_same_events_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    objs = native_events(25, prefix="i")
    path = tmp_path / "events.ndjson"
    path.write_bytes(ndjson(objs) + b"not json\n")
    (line,) = load(capsys, warehouse_profile, path)
    first = parse_load_summary(line)
    before = snapshot(warehouse_profile)

    (line,) = load(capsys, warehouse_profile, path)
    skipped = LOAD_SKIPPED.fullmatch(line)
    assert skipped and skipped["load"] == first["load"] and skipped["name"] == str(path)
    assert snapshot(warehouse_profile) == before

    # the same events in another file (new order, other spacing, one new event)
    again = tmp_path / "again.ndjson"
    shuffled = list(reversed(objs)) + native_events(1, prefix="new")
    again.write_text(
        "\n\n".join(json.dumps(o, separators=(",", ":")) for o in shuffled), encoding="utf-8"
    )
    (line,) = load(capsys, warehouse_profile, again)
    s = parse_load_summary(line)
    assert (s["read"], s["new"], s["dup"], s["err"]) == (26, 1, 25, 0)
    after = events(warehouse_profile)
    assert {k: v for k, v in after.items() if k != "native:id:new0"} == {
        k: v for k, v in events_from(before).items()
    }
    assert after["native:id:new0"][:2] == (str(again.resolve()), 51)
    assert counts(warehouse_profile) == {"events": 26, "load_errors": 1, "loads": 2}


def events_from(snap: dict[str, list[tuple]]) -> dict[str, tuple[str, int, str, str]]:
    # raw.events column order: event_key, load_id, source_file, source_position,
    # source_format, payload, loaded_at
    return {r[0]: (r[2], int(r[3]), r[4], r[5]) for r in snap["events"]}


def test_stdin_via_the_console_script(tmp_path: Path, warehouse_profile: ProfileRef) -> None:
    objs = native_events(20, prefix="in")
    data = ndjson(objs) + b"[1]\n"
    proc = run_funnel_load(*warehouse_profile.cli_args(), "-", input=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # short load: no progress line
    s = parse_load_summary(proc.stdout.strip())
    assert (s["name"], s["read"], s["new"], s["err"]) == ("<stdin>", 21, 20, 1)
    (row,) = loads(warehouse_profile)
    assert (row["source_file"], row["checksum"]) == ("<stdin>", hashlib.sha256(data).hexdigest())
    assert {v[0] for v in events(warehouse_profile).values()} == {"<stdin>"}

    again = run_funnel_load(*warehouse_profile.cli_args(), "-", input=data)
    assert again.returncode == 0, again.stderr
    skipped = LOAD_SKIPPED.fullmatch(again.stdout.strip())
    assert skipped and skipped["load"] == s["load"] and skipped["name"] == "<stdin>"

    # gzip on stdin is recognised by its magic bytes: same events, all duplicates
    packed = run_funnel_load(*warehouse_profile.cli_args(), "-", input=gzip.compress(data))
    assert packed.returncode == 0, packed.stderr
    s = parse_load_summary(packed.stdout.strip())
    assert (s["read"], s["new"], s["dup"], s["err"]) == (21, 0, 20, 1)
    # the same bad line is counted by both loads but stored once
    assert counts(warehouse_profile) == {"events": 20, "load_errors": 1, "loads": 2}


# --------------------------------------------------------------------------- all-or-nothing


def test_a_failing_insert_rolls_back_the_whole_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    # raw.loads rejects loads of 3+ records: the LAST statement of the load fails, after
    # the events and errors were inserted in the same transaction.
    text = "text" if warehouse_profile.kind == "postgres" else "varchar"
    statements = [
        "create schema if not exists raw",
        f"""create table raw.loads (load_id {text} primary key, source_file {text} not null,
            checksum {text} not null, source_format {text} not null,
            records_read bigint not null check (records_read < 3),
            events_loaded bigint not null, duplicates_skipped bigint not null,
            errors bigint not null, erased_skipped bigint not null, status {text} not null,
            started_at timestamp not null, finished_at timestamp not null)""",
    ]
    execute(warehouse_profile, *statements)
    small = tmp_path / "small.ndjson"
    small.write_bytes(ndjson(native_events(2, prefix="ok")))
    load(capsys, warehouse_profile, small)
    before = snapshot(warehouse_profile)

    big = tmp_path / "big.ndjson"
    big.write_bytes(ndjson(native_events(5, prefix="no")) + b"not json\n")
    proc = run_funnel_load(*warehouse_profile.cli_args(), big)
    assert_one_line_error(proc, "nothing was committed")
    assert snapshot(warehouse_profile) == before
    assert counts(warehouse_profile) == {"events": 2, "load_errors": 0, "loads": 1}


def _truncated_gzip(path: Path, n: int = 5000) -> None:
    packed = gzip.compress(ndjson(native_events(n, prefix="t")))
    path.write_bytes(packed[: len(packed) * 2 // 3])


def test_truncated_gzip_commits_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse_profile: ProfileRef
) -> None:
    good = tmp_path / "good.ndjson"
    good.write_bytes(ndjson(native_events(3, prefix="good")))
    load(capsys, warehouse_profile, good)
    before = snapshot(warehouse_profile)

    bad = tmp_path / "cut.ndjson.gz"
    _truncated_gzip(bad)
    with gzip.open(bad, "rb") as fh:  # the first part really is readable
        assert fh.read(1000).startswith(b'{"event_id": "t0"')
    proc = run_funnel_load(*warehouse_profile.cli_args(), bad)
    assert_one_line_error(proc, "cut.ndjson.gz", "gzip")
    assert proc.stdout == ""
    assert_nothing_committed(warehouse_profile, before)

    # several files: the ones before the bad one are loaded, the bad one is not
    other = tmp_path / "other.ndjson"
    other.write_bytes(ndjson(native_events(4, prefix="other")))
    proc = run_funnel_load(*warehouse_profile.cli_args(), "--quiet", other, bad)
    assert_one_line_error(proc, "gzip")
    assert parse_load_summary(proc.stdout.strip())["new"] == 4
    assert counts(warehouse_profile) == {"events": 7, "load_errors": 0, "loads": 2}


def test_interrupt_exits_130_and_commits_nothing(warehouse_profile: ProfileRef) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm_funnel.ingest.cli", *warehouse_profile.cli_args(), "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    # More than a pipe holds: when this returns, the loader is reading stdin.
    proc.stdin.write(ndjson(native_events(20_000, prefix="int")))
    proc.stdin.flush()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("funnel-load: interrupted"), lines
    assert out == b""
    assert_nothing_committed(warehouse_profile, None)


# --------------------------------------------------------------------------- error cases


def test_missing_file_and_empty_glob(tmp_path: Path, warehouse_profile: ProfileRef) -> None:
    proc = run_funnel_load(*warehouse_profile.cli_args(), tmp_path / "nope.ndjson")
    assert_one_line_error(proc, "nope.ndjson")
    proc = run_funnel_load(*warehouse_profile.cli_args(), f"{tmp_path}/*.ndjson")
    assert_one_line_error(proc, "no files match")
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    proc = run_funnel_load(*warehouse_profile.cli_args(), empty)
    assert_one_line_error(proc, "empty_dir")
    assert_nothing_committed(warehouse_profile, None)


def test_unknown_target_and_bad_profiles(tmp_path: Path, duckdb_profile: ProfileRef) -> None:
    data = tmp_path / "e.ndjson"
    data.write_bytes(ndjson(native_events(2)))
    profiles_dir = duckdb_profile.profiles_dir
    proc = run_funnel_load("--profiles-dir", profiles_dir, "--target", "prod", data)
    assert_one_line_error(proc, "'prod'", str(profiles_dir / "profiles.yml"), "available: ci")

    nowhere = tmp_path / "no_profiles"
    nowhere.mkdir()
    proc = run_funnel_load("--profiles-dir", nowhere, data)
    assert_one_line_error(proc, str(nowhere / "profiles.yml"), "profiles.yml.example")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "profiles.yml").write_text("crm_funnel: [unclosed\n  target: x\n")
    proc = run_funnel_load("--profiles-dir", broken, data)
    assert_one_line_error(proc, "not valid YAML")

    unset = write_profiles(tmp_path / "unset", "duckdb", path="{{ env_var('CRM_NOT_SET_X') }}")
    env = {k: v for k, v in os.environ.items() if k != "CRM_NOT_SET_X"}
    proc = run_funnel_load("--profiles-dir", unset, data, env=env)
    assert_one_line_error(proc, "CRM_NOT_SET_X")
    assert not Path(duckdb_profile.conn["path"]).exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_postgres_connection_errors(tmp_path: Path, pg_server: dict[str, Any]) -> None:
    data = tmp_path / "e.ndjson"
    data.write_bytes(ndjson(native_events(2)))

    unreachable = write_profiles(
        tmp_path / "unreachable", "postgres", **{**pg_server, "port": _closed_port()}, dbname="x"
    )
    proc = run_funnel_load("--profiles-dir", unreachable, data)
    assert_one_line_error(proc, "cannot reach PostgreSQL at 127.0.0.1:")

    missing_db = write_profiles(
        tmp_path / "missing_db", "postgres", **pg_server, dbname="crm_funnel_no_such_db"
    )
    proc = run_funnel_load("--profiles-dir", missing_db, data)
    assert_one_line_error(proc, "crm_funnel_no_such_db", "does not exist")

    bad_user = write_profiles(
        tmp_path / "bad_user",
        "postgres",
        **{**pg_server, "user": "crm_funnel_no_such_role"},
        dbname="postgres",
        password="wrong",
    )
    proc = run_funnel_load("--profiles-dir", bad_user, data)
    assert_one_line_error(proc, "bad credentials for user crm_funnel_no_such_role")


def test_locked_duckdb_file(tmp_path: Path, duckdb_profile: ProfileRef) -> None:
    data = tmp_path / "e.ndjson"
    data.write_bytes(ndjson(native_events(2)))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            str(duckdb_profile.conn["path"]),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        proc = run_funnel_load(*duckdb_profile.cli_args(), data)
        assert_one_line_error(proc, "another process")
    finally:
        holder.kill()
        holder.wait()
    assert_nothing_committed(duckdb_profile, None)


def test_help_has_description_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: funnel-load" in out and "examples:" in out and "funnel-load -" in out


# --------------------------------------------------------------------------- pure Python


class _Trickle(io.RawIOBase):
    """A stream that returns at most a few bytes per read (like a slow pipe)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.step = data, 0, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.step = self.step % 7 + 1
        n = self.step if size < 0 else min(size, self.step)
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


@pytest.mark.parametrize("layout", ["ndjson", "array", "array-broken", "array-bad-utf8"])
def test_chunk_boundaries_do_not_change_the_result(tmp_path: Path, layout: str) -> None:
    objs: list[Any] = native_events(30, prefix="cb")
    objs[3]["note"] = "ünïcødé 日本語 🎉 " * 20
    objs.insert(7, 1234567890123)
    if layout == "ndjson":
        data = b"\xef\xbb\xbf" + ndjson(objs) + b"{bad\r\n\xff\n\n"
    else:
        data = (
            "[" + ",\n ".join(json.dumps(o, indent=1, ensure_ascii=False) for o in objs)
        ).encode()
        data += {
            "array": b"]\n",
            "array-broken": b", {nope} ]",
            "array-bad-utf8": b', {"x": "\xff"}]',
        }[layout]

    def run(stream: Any, name: str) -> tuple[bytes, bytes, int, int] | str:
        out = tmp_path / name
        out.mkdir()
        try:
            batch = read_to_csv(
                LoadInput("x", None), stream, out, "auto", Progress("x", enabled=False)
            )
        except TerminalError as exc:
            return str(exc)
        assert batch.checksum == hashlib.sha256(data).hexdigest()
        return (
            batch.events_csv.read_bytes(),
            batch.errors_csv.read_bytes(),
            batch.event_rows,
            batch.error_rows,
        )

    whole = run(io.BytesIO(data), "whole")
    trickled = run(_Trickle(data), "trickle")
    assert trickled == whole
    if layout == "array-broken":  # the same byte offset however the input is chunked
        offset = data.index(b"nope")
        assert (
            whole == f"cannot read x: invalid JSON: Expecting property name enclosed in "
            f"double quotes at byte {offset:,}; nothing was loaded from it, fix the JSON "
            "array and load the file again"
        )
        return
    assert isinstance(whole, tuple)
    assert whole[2] == 30
    assert whole[3] == (3 if layout == "ndjson" else 1 if layout == "array" else 2)


def test_progress_lines_plain_and_tty() -> None:
    plain = io.StringIO()
    with Progress("big.ndjson", stream=plain, interval=0.05) as progress:
        progress.records = 1234
        time.sleep(0.3)
    lines = plain.getvalue().splitlines()
    assert lines and all(
        re.fullmatch(r"funnel-load: big\.ndjson: 1,234 records read \([\d,]+/s\)", x) for x in lines
    ), lines

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    with Progress("big.ndjson", stream=tty, interval=0.05) as progress:
        progress.records = 10
        time.sleep(0.3)
    assert "\r" in tty.getvalue() and "\n" not in tty.getvalue()

    quiet = io.StringIO()
    with Progress("x", stream=quiet, enabled=False, interval=0.01) as progress:
        time.sleep(0.05)
    assert quiet.getvalue() == ""


def test_a_postgres_data_error_names_its_cause_and_asks_for_no_retry(
    postgres_profile: ProfileRef,
) -> None:
    """psycopg2 calls "index row requires N bytes" an OperationalError, like a lost
    connection; it is a property of the data, and a retry cannot help."""
    from crm_funnel.errors import TransientError
    from crm_funnel.warehouse.open import open_backend
    from crm_funnel.warehouse.profile import load_target

    target = load_target(str(postgres_profile.profiles_dir), postgres_profile.target)
    with open_backend(target) as backend:
        too_long = os.urandom(5_000).hex()  # does not compress below the btree limit
        with pytest.raises(TerminalError) as caught:
            backend.transaction(
                "load of x.ndjson",
                lambda execute: execute(
                    "insert into raw.events values (?, 'l', 'f', 1, 'native', '{}', now())",
                    [too_long],
                ),
            )
    message = str(caught.value)
    assert not isinstance(caught.value, TransientError)
    assert "index row requires" in message and "nothing was committed" in message, message
    assert "retry" not in message and "connection" not in message, message
