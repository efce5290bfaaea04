"""Tests of the webhook formats ``funnel-load`` understands, on real DuckDB and PostgreSQL.

* Resend: every real payload in ``../shared/data/resend-webhooks/`` lands as 'resend' with
  the sha256 of its canonical JSON as the key, so a provider's retry is a duplicate.
* Segment ``track`` / ``identify`` (samples written here per the Segment spec) land as
  'segment' keyed by ``messageId``.
* Svix envelopes (headers + raw body, what ``funnel-webhook`` spools) are verified with the
  signing secrets in ``CRM_FUNNEL_WEBHOOK_SECRET``; the body lands verbatim keyed by the
  svix-id, anything that fails lands in ``raw.load_errors`` with the reason.

Signatures and keys are computed here, independently of the loader; one envelope uses the
example printed in Svix's documentation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, ProfileRef, fetch, parse_load_summary, run_funnel_load
from crm_funnel.ingest.cli import main
from crm_funnel.ingest.formats import detect_format

RESEND_FIXTURES = REPO_ROOT.parent / "shared" / "data" / "resend-webhooks"
RESEND_FILES = ("captured_payloads.ndjson", "documented_examples.ndjson")
SECRET_ENV = "CRM_FUNNEL_WEBHOOK_SECRET"

# The example of Svix's documentation ("Verifying signatures manually").
SVIX_DOCS_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # pragma: allowlist secret
SVIX_DOCS_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SVIX_DOCS_TIMESTAMP = 1614265330
SVIX_DOCS_BODY = '{"test": 2432232314}'
SVIX_DOCS_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# --------------------------------------------------------------------------- helpers


def canonical_key(obj: Any, fmt: str) -> str:
    """The content-hash key of a record of format ``fmt``."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{fmt}:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_secret() -> tuple[str, bytes]:
    """A fresh ``whsec_`` secret and its HMAC key."""
    key = os.urandom(24)
    return "whsec_" + base64.b64encode(key).decode(), key


def sign(key: bytes, message_id: str, timestamp: int | str, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(
    body: Any,
    message_id: str,
    timestamp: int | str,
    signature: str | None,
    received_at: Any = None,
    *,
    names: tuple[str, str, str] = ("svix-id", "svix-timestamp", "svix-signature"),
) -> str:
    headers: dict[str, Any] = {names[0]: message_id, names[1]: str(timestamp)}
    if signature is not None:
        headers[names[2]] = signature
    document: dict[str, Any] = {"headers": headers, "body": body}
    if received_at is not None:
        document["received_at"] = received_at
    return json.dumps(document, ensure_ascii=False)


def load(capsys: pytest.CaptureFixture[str], ref: ProfileRef, *args: Any) -> list[str]:
    """Run funnel-load in this process; it must succeed; return its stdout lines."""
    capsys.readouterr()
    rc = main([*ref.cli_args(), "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert err == ""
    return out.splitlines()


def events(ref: ProfileRef) -> dict[str, tuple[str, str, int]]:
    """event_key -> (source_format, payload, source_position)."""
    rows = fetch(ref, "select event_key, source_format, payload, source_position from raw.events")
    return {key: (fmt, payload, int(pos)) for key, fmt, payload, pos in rows}


def load_errors(ref: ProfileRef) -> list[tuple[int, str, str]]:
    rows = fetch(
        ref,
        "select source_position, raw_text, reason from raw.load_errors order by source_position",
    )
    return [(int(pos), text, reason) for pos, text, reason in rows]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- detection


def test_detect_format_rules() -> None:
    assert detect_format({"event_type": "view", "type": "email.opened", "data": {}}) == "native"
    assert detect_format({"type": "email.opened", "data": {"email_id": "x"}}) == "resend"
    assert detect_format({"type": "email.opened", "data": "x"}) == "native"  # data not object
    assert detect_format({"type": "contact.created", "data": {}}) == "native"
    assert detect_format({"type": "track", "messageId": "m1"}) == "segment"
    assert detect_format({"type": "IDENTIFY", "userId": "u1"}) == "segment"
    assert detect_format({"type": "Track", "anonymousId": "a1"}) == "segment"
    assert detect_format({"type": "track", "messageId": ""}) == "native"  # no usable id
    assert detect_format({"type": "page", "messageId": "m1"}) == "native"
    assert detect_format({"hello": "world"}) == "native"


# --------------------------------------------------------------------------- Resend


def test_every_real_resend_payload_lands_as_resend_and_retries_dedup(
    tmp_path: Path, warehouse_profile: ProfileRef, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [RESEND_FIXTURES / name for name in RESEND_FILES]
    lines = [line for path in files for line in path.read_text("utf-8").splitlines() if line]
    assert len(lines) == 15  # the fixtures as documented in their README
    expected = {canonical_key(json.loads(line), "resend"): line for line in lines}
    assert len(expected) == len(lines)

    out = load(capsys, warehouse_profile, *files)
    summaries = [parse_load_summary(line) for line in out]
    assert [(s["read"], s["new"], s["dup"], s["err"]) for s in summaries] == [
        (8, 8, 0, 0),
        (7, 7, 0, 0),
    ]
    landed = events(warehouse_profile)
    assert {key: payload for key, (_, payload, _) in landed.items()} == expected
    assert {fmt for fmt, _, _ in landed.values()} == {"resend"}
    assert fetch(warehouse_profile, "select distinct source_format from raw.loads") == [("resend",)]

    # the same files again: skipped
    out = load(capsys, warehouse_profile, *files)
    assert all(line.startswith("skipped ") for line in out), out

    # the provider retries: the same bodies re-serialised (other key order and spacing),
    # one of them twice, in another file -> nothing new
    retries = [json.dumps(dict(reversed(json.loads(line).items())), indent=1) for line in lines]
    retry_file = write_lines(
        tmp_path / "retries.ndjson", [" ".join(r.split()) for r in retries] + [lines[0]]
    )
    (summary,) = map(parse_load_summary, load(capsys, warehouse_profile, retry_file))
    assert (summary["read"], summary["new"], summary["dup"], summary["err"]) == (16, 0, 16, 0)
    assert len(events(warehouse_profile)) == 15


# --------------------------------------------------------------------------- Segment


def segment_samples() -> list[dict[str, Any]]:
    """track / identify calls shaped like analytics.js sends them (Segment spec)."""
    context = {
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "page": {"path": "/pricing", "url": "https://acme.example/pricing"},
        "campaign": {"source": "linkedin", "medium": "paid_social", "name": "spring_launch"},
        "traits": {"email": "  Ana.Lopez@Example.com "},
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    common = {"integrations": {}, "version": 2, "sentAt": "2026-03-02T10:15:01.120Z"}
    return [
        {
            "type": "identify",
            "messageId": "ajs-next-1772446500000-6f1c2b7e-1",
            "anonymousId": "5f0c1a3e-9d2b-4c1a-8e3f-2b9a7d6c5e41",
            "userId": "usr_1042",
            "traits": {"email": "ana.lopez@example.com", "name": "Ana Lopez", "company": "Acme"},
            "context": context,
            "timestamp": "2026-03-02T10:15:00.000Z",
            **common,
        },
        {
            "type": "track",
            "event": "Signed Up",
            "messageId": "ajs-next-1772446560000-6f1c2b7e-2",
            "userId": "usr_1042",
            "properties": {"plan": "trial"},
            "context": context,
            "timestamp": "2026-03-02T10:16:00.000Z",
            **common,
        },
        {
            "type": "track",
            "event": "Email Link Clicked",
            "messageId": "ajs-next-1772450000000-6f1c2b7e-3",
            "userId": "usr_1042",
            "properties": {
                "email_subject": "Your trial is ready",
                "link_url": "https://acme.example/start",
                "campaign_id": "cmp_spring",
            },
            "context": {**context, "campaign": {"source": "resend", "medium": "email"}},
            "timestamp": "2026-03-02T11:13:20.000Z",
            **common,
        },
        {
            "type": "Track",  # some emitters capitalise the call type
            "event": "Trial Started",
            "messageId": "rudder-7c1d4e9a-0b2f-4a61-9b8e-3f5d2c1a0e77",
            "anonymousId": "5f0c1a3e-9d2b-4c1a-8e3f-2b9a7d6c5e41",
            "properties": {"email": "ana.lopez@example.com"},
            "context": context,
            "timestamp": "2026-03-02T11:20:00.000Z",
            **common,
        },
        {  # no messageId (a hand-written server call): content hash
            "type": "track",
            "event": "Email Opened",
            "userId": "usr_1042",
            "properties": {"email_subject": "Your trial is ready"},
            "context": {"traits": {"email": "ana.lopez@example.com"}},
            "timestamp": "2026-03-02T11:12:00.000Z",
        },
    ]


def test_segment_track_and_identify_keyed_by_message_id(
    tmp_path: Path, warehouse_profile: ProfileRef, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = segment_samples()
    retry = {**samples[1], "sentAt": "2026-03-02T10:16:09.000Z"}  # same messageId, resent
    lines = [json.dumps(s) for s in samples] + [json.dumps(retry)]
    path = write_lines(tmp_path / "segment.ndjson", lines)

    (summary,) = map(parse_load_summary, load(capsys, warehouse_profile, path))
    assert (summary["read"], summary["new"], summary["dup"], summary["err"]) == (6, 5, 1, 0)
    expected = {
        f"segment:id:{sample['messageId']}"
        if sample.get("messageId")
        else canonical_key(sample, "segment"): line
        for sample, line in zip(samples, lines[:-1], strict=True)
    }
    landed = events(warehouse_profile)
    assert {key: payload for key, (_, payload, _) in landed.items()} == expected
    assert {fmt for fmt, _, _ in landed.values()} == {"segment"}
    # the first occurrence of a messageId wins
    assert landed["segment:id:ajs-next-1772446560000-6f1c2b7e-2"][2] == 2

    # the same messageId in another file: nothing new
    again = write_lines(tmp_path / "again.ndjson", [json.dumps(retry)])
    (summary,) = map(parse_load_summary, load(capsys, warehouse_profile, again))
    assert (summary["new"], summary["dup"]) == (0, 1)


def test_forced_format(
    tmp_path: Path, warehouse_profile: ProfileRef, capsys: pytest.CaptureFixture[str]
) -> None:
    # a Segment call without any id is not recognised by auto-detection; --format forces it
    segment = {"type": "track", "event": "Signed Up", "properties": {"email": "b@example.com"}}
    resend = {"event_id": "e-1", "type": "email.sent", "data": "not an object"}
    seg_file = write_lines(tmp_path / "seg.ndjson", [json.dumps(segment)])
    res_file = write_lines(tmp_path / "res.ndjson", [json.dumps(resend)])
    load(capsys, warehouse_profile, "--format", "segment", seg_file)
    load(capsys, warehouse_profile, "--format", "resend", res_file)
    landed = events(warehouse_profile)
    assert {key: fmt for key, (fmt, _, _) in landed.items()} == {
        canonical_key(segment, "segment"): "segment",
        canonical_key(resend, "resend"): "resend",  # not its event_id: Resend keys are hashes
    }


# --------------------------------------------------------------------------- Svix envelopes


def test_svix_envelopes_are_verified(
    tmp_path: Path,
    warehouse_profile: ProfileRef,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_secret, old = new_secret()
    new_secret_text, new = new_secret()
    _, unknown = new_secret()
    # rotation: the old and the new secret, and the one of Svix's documentation
    monkeypatch.setenv(SECRET_ENV, f" {old_secret}\n{new_secret_text}  {SVIX_DOCS_KEY} ")
    payloads = [
        line
        for name in RESEND_FILES
        for line in (RESEND_FIXTURES / name).read_text("utf-8").splitlines()
    ]
    opened, clicked, delivered = payloads[6], payloads[7], payloads[9]
    pretty = json.dumps({**json.loads(opened), "note": "Zoë ✓"}, indent=2, ensure_ascii=False)
    sent_at = 1_772_446_500  # 2026-03-02T10:15:00Z
    received = iso(sent_at + 20)
    now = int(datetime.now(timezone.utc).timestamp())

    good: dict[str, tuple[str, str]] = {}  # svix-id -> (format, body)
    lines: list[str] = []
    errors: list[tuple[int, str]] = []  # (line number, reason)

    def accept(message_id: str, fmt: str, body: str, line: str) -> None:
        lines.append(line)
        good[f"svix:id:{message_id}"] = (fmt, body)

    def reject(reason: str, line: str) -> None:
        lines.append(line)
        errors.append((len(lines), reason))

    def signed(key: bytes, message_id: str, body: Any, at: int = sent_at, **kw: Any) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        signature = sign(key, message_id, at, text)
        return envelope(body, message_id, at, signature, kw.pop("received_at", received), **kw)

    accept("msg_1", "resend", opened, signed(old, "msg_1", opened))
    # unbranded header names in any case, signed with the new secret
    names = ("Webhook-Id", "WEBHOOK-TIMESTAMP", "webhook-signature")
    accept("msg_2", "resend", clicked, signed(new, "msg_2", clicked, names=names))
    # several signatures (Svix sends one per active secret): one good one is enough
    several = f"v1,{'A' * 43}= v1a,ignored {sign(new, 'msg_3', sent_at, delivered)}"
    accept("msg_3", "resend", delivered, envelope(delivered, "msg_3", sent_at, several, received))
    # a pretty-printed, non-ASCII body is landed byte for byte (newlines included)
    accept("msg_4", "resend", pretty, signed(old, "msg_4", pretty))
    # no received_at: checked against the time of the load
    accept(
        "msg_5", "resend", opened, envelope(opened, "msg_5", now, sign(new, "msg_5", now, opened))
    )
    # exactly 5 minutes before received_at is still inside the tolerance
    accept("msg_6", "resend", delivered, signed(old, "msg_6", delivered, sent_at + 20 - 300))
    # the example of Svix's documentation (its body is not a Resend event)
    docs = envelope(
        SVIX_DOCS_BODY,
        SVIX_DOCS_ID,
        SVIX_DOCS_TIMESTAMP,
        SVIX_DOCS_SIGNATURE,
        iso(SVIX_DOCS_TIMESTAMP),
    )
    accept(SVIX_DOCS_ID, "native", SVIX_DOCS_BODY, docs)
    # a provider retry of msg_1: new timestamp and signature, same id -> a duplicate
    lines.append(signed(new, "msg_1", opened, sent_at + 60, received_at=iso(sent_at + 61)))

    invalid = "invalid webhook signature"
    reject(invalid, envelope(opened, "msg_b1", sent_at, "v1," + "A" * 43 + "=", received))
    reject(invalid, signed(unknown, "msg_b2", opened))
    tampered = opened.replace("to@example.org", "mallory@example.org")
    assert tampered != opened
    reject(
        invalid,
        envelope(tampered, "msg_b3", sent_at, sign(old, "msg_b3", sent_at, opened), received),
    )
    reject(
        invalid, envelope(opened, "msg_b4", sent_at, sign(old, "msg_b0", sent_at, opened), received)
    )
    reject(
        invalid,
        envelope(opened, "msg_b5", sent_at + 1, sign(old, "msg_b5", sent_at, opened), received),
    )
    outside = "webhook timestamp outside the 5-minute tolerance"
    reject(outside, signed(old, "msg_b6", opened, sent_at + 20 - 301))
    reject(outside, signed(new, "msg_b7", opened, sent_at + 20 + 301))
    reject(
        "missing webhook header svix-signature", envelope(opened, "msg_b8", sent_at, None, received)
    )
    reject(
        "webhook envelope: body is not a JSON object (got array)", signed(old, "msg_b9", "[1, 2]")
    )
    reject(
        "webhook envelope: body is invalid JSON: Expecting value", signed(old, "msg_b10", "nope")
    )
    reject(
        "webhook envelope: body is a JSON object, not the raw body text",
        signed(old, "msg_b11", json.loads(opened)),
    )
    reject(
        "webhook envelope: received_at is not an ISO-8601 timestamp",
        signed(old, "msg_b12", opened, received_at="yesterday"),
    )

    path = write_lines(tmp_path / "envelopes.ndjson", lines)
    (summary,) = map(parse_load_summary, load(capsys, warehouse_profile, path))
    assert (summary["read"], summary["new"], summary["dup"], summary["err"]) == (
        len(lines),
        len(good),
        1,
        len(errors),
    )
    landed = events(warehouse_profile)
    assert {key: (fmt, payload) for key, (fmt, payload, _) in landed.items()} == good
    assert load_errors(warehouse_profile) == [
        (number, lines[number - 1], reason) for number, reason in errors
    ]


def test_envelopes_without_a_secret_land_unverified(
    tmp_path: Path,
    warehouse_profile: ProfileRef,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    body = (RESEND_FIXTURES / RESEND_FILES[0]).read_text("utf-8").splitlines()[6]
    lines = [
        envelope(body, "msg_u1", 1, "v1,not-checked", "2020-01-01T00:00:00Z"),
        envelope(body, "msg_u2", 1, None),
        envelope("[]", "msg_u3", 1, None),
        json.dumps({"headers": {"svix-timestamp": "1"}, "body": body}),
    ]
    path = write_lines(tmp_path / "unverified.ndjson", lines)
    (summary,) = map(parse_load_summary, load(capsys, warehouse_profile, path))
    assert (summary["read"], summary["new"], summary["dup"], summary["err"]) == (4, 2, 0, 2)
    landed = events(warehouse_profile)
    assert {key: (fmt, payload) for key, (fmt, payload, _) in landed.items()} == {
        "svix:id:msg_u1": ("resend", body),
        "svix:id:msg_u2": ("resend", body),
    }
    assert [(n, reason) for n, _, reason in load_errors(warehouse_profile)] == [
        (3, "webhook envelope: body is not a JSON object (got array)"),
        (4, "webhook envelope: missing or unusable svix-id header"),
    ]


@pytest.mark.parametrize(
    "value",
    ["not-a-whsec-secret", "whsec_!!not*base64!!", "whsec_QUJDREVGR0hJSktMTU5PUA== whsec_"],
)
def test_malformed_secret_is_a_one_line_error(
    tmp_path: Path, duckdb_profile: ProfileRef, value: str
) -> None:
    body = (RESEND_FIXTURES / RESEND_FILES[1]).read_text("utf-8").splitlines()[0]
    path = write_lines(tmp_path / "one.ndjson", [envelope(body, "msg_1", 1, None)])
    env = {**os.environ, SECRET_ENV: value}
    proc = run_funnel_load(*duckdb_profile.cli_args(), path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"funnel-load: error: {SECRET_ENV}: "), lines[0]
    assert "whsec_" in lines[0]  # says what a secret looks like ...
    assert value.split()[0] not in lines[0]  # ... but never prints it
    assert fetch(duckdb_profile, "select count(*) from raw.loads") == [(0,)]


# --------------------------------------------------------------------------- fast decoding

# Records the fast path (orjson) must leave to the strict decoder, or decode identically.
TRICKY_LINES = [
    '{"a":1,"a":2}',  # duplicate key: orjson keeps the last
    '{"p":{"x":1,"x":2},"b":"c"}',  # ... nested
    '{"a":"x:y","a":"z"}',  # ... with a colon in a string
    '{"a":"\\u003a","a":"\\u003A:"}',  # ... with colons written as escapes
    '{"a" : 1 , "a" : 2}',  # ... spaced
    '[{"a":1,"a":2}]',  # ... in an array (an error either way, the reason must match)
    '{"a":NaN}',
    '{"a":"\\ud800"}',  # lone surrogate
    '{"a":18446744073709551616}',  # beyond 64 bits: orjson reads a float
    '{"event_id":-9223372036854775809}',
    '{"a":1e400}',
    '{"a":0.00001,"b":1e16,"c":-0.0,"d":1.5}',
    '{"a":' + "[" * 300 + "]" * 300 + "}",  # deep
    '{"a":' + "[" * 2000 + "]" * 2000 + "}",  # too deep for the strict decoder
    '{"email": "x@y.io", "event_type": "view", "properties": {"page": "/a:b"}}',
    '{"email":"x@y.io","event_type":"view","properties":{"page":"/a:b"}}',
    '\t{"a":"caf\\u00e9 \\"q\\"", "b":[1,true,null,{"c":""}]} ',
]


def _strict(text: str) -> Any:
    from crm_funnel.ingest.formats import DECODER

    try:
        return DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        return type(exc)


@pytest.mark.parametrize("line", TRICKY_LINES, ids=range(len(TRICKY_LINES)))
def test_fast_decode_is_the_strict_decoder_or_declines(line: str) -> None:
    from crm_funnel.ingest.formats import fast_decode

    fast = fast_decode(line.encode())
    if fast is not None:
        strict = _strict(line)
        assert fast == strict
        assert [type(v) for v in fast.values()] == [type(v) for v in strict.values()]
    if '"a":1,"a"' in line or '"a" : 1 , "a"' in line or "\\u003" in line or "x:y" in line:
        assert fast is None


def test_fast_path_keys_and_rows_match_the_strict_path(tmp_path: Path) -> None:
    """A compact and a spaced record get the same key; the fast path (orjson) and the
    strict path give every line the same event row or load error."""
    from crm_funnel.ingest import formats, sink
    from crm_funnel.ingest.progress import Progress
    from crm_funnel.warehouse.tombstones import NO_TOMBSTONES

    records: list[dict[str, Any]] = [
        {"event_type": "view", "email": "a@b.io", "properties": {"n": 1, "f": 0.5}},
        {"event_id": 7, "event_type": "view"},
        {"event_id": "e-1", "event_type": "signup", "x": "é:ü"},
        {"type": "email.sent", "data": {"id": "r-1", "at": 1e-05}},
        {"type": "track", "messageId": "m-1", "event": "Signed Up"},
        {"type": "identify", "anonymousId": "a-1", "traits": {"big": 2**70}},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines += [json.dumps(r, separators=(",", ":")) for r in records]
    lines += TRICKY_LINES

    def rows(fast: Any) -> tuple[list[str], str]:
        out = tmp_path / ("fast" if fast is formats.fast_decode else "strict")
        out.mkdir()
        s = sink.CsvSink(
            out,
            "auto",
            Progress("t", enabled=False),
            NO_TOMBSTONES,
        )
        original, sink.fast_decode = sink.fast_decode, fast
        try:
            s.add_lines([line.encode() for line in lines], 0)
        finally:
            sink.fast_decode = original
            s.close()
        return s.events_csv.read_text().splitlines(), s.errors_csv.read_text()

    fast_rows, fast_errors = rows(formats.fast_decode)
    strict_rows, strict_errors = rows(lambda line: None)
    assert fast_rows == strict_rows
    assert fast_errors == strict_errors
    keys = [row.split("\x1f")[0] for row in fast_rows]
    assert keys[: len(records)] == keys[len(records) : 2 * len(records)]


def test_canonical_hash_by_orjson_is_the_stdlib_one() -> None:
    from crm_funnel.ingest.formats import _canonical_hash

    values: list[Any] = [
        {"b": 1, "a": {"d": [1, "x", None, True], "c": 'é\u2028\x7f\x00\x1f"\\/😀'}},
        {"z": 2**63, "y": -(2**63), "x": 2**70, "w": "\ud800"},  # the stdlib way
        {"f": 0.00001, "g": 1e16, "h": [1.5, {"i": -0.0}]},  # floats: the stdlib way
        {"é": 1, "e": 2, "😀": 3, "\uffff": 4},
    ]
    for value in values:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        expected = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        assert _canonical_hash(value) == expected
