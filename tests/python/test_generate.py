"""Tests of `funnel-generate`: determinism, size, dirt, realism and its command line."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import gzip
import io
import json
import re
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from crm_funnel.devtools import generate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
SEEDS = reference.Seeds.load(REPO_ROOT / "seeds")
EMAIL_RE = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
TIME_SHAPE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}.*)?")
WS = reference.WHITESPACE
with open(REPO_ROOT / "seeds" / "lifecycle_states.csv", newline="", encoding="utf-8") as _handle:
    LIFECYCLE_STATES = frozenset(row["lifecycle_state"] for row in csv.DictReader(_handle))
with open(REPO_ROOT / "seeds" / "event_types.csv", newline="", encoding="utf-8") as _handle:
    ENGAGEMENT_TYPES = frozenset(
        row["event_type"] for row in csv.DictReader(_handle) if row["is_engagement"] == "true"
    )
DAY = dt.timedelta(days=1)
# Canonical types only the webhook formats (Resend, Segment) or the contacts sheet produce.
NON_NATIVE_TYPES = frozenset(
    {"email_delivery_delayed", "email_failed", "identify", "contact_imported"}
)
# Canonical types people write about the queue: the generator's --sheets queue.ndjson.
QUEUE_TYPES = frozenset(
    {"queue_item_resolved", "queue_item_snoozed", "queue_item_escalated", "interaction_logged"}
)
# The rules reference.classify reads (the dbt_project.yml defaults it needs).
CLASSIFY_RULES = {
    "valid_email_regex": EMAIL_RE.pattern,
    "min_event_date": "2000-01-01",
    "unknown_channel": "unknown",
    "reporting_currency": "EUR",
}


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("funnel-generate")
    if script.exists():
        return [str(script)]
    found = shutil.which("funnel-generate")
    return [found] if found else [sys.executable, "-m", "crm_funnel.devtools.generate"]


def run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*_cli(), *args], capture_output=True, timeout=120)


def generate_bytes(events: int, seed: int = 1, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    generate.generate(buffer, events, seed, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


def lines_of(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


@pytest.fixture(scope="module")
def dirty_lines() -> list[str]:
    return lines_of(generate_bytes(2000, seed=11))


@pytest.fixture(scope="module")
def clean_records() -> list[dict]:
    return [json.loads(line) for line in lines_of(generate_bytes(20_000, seed=5, dirty_rate=0))]


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for name in ("a.ndjson", "b.ndjson", "a.ndjson.gz", "b.ndjson.gz"):
        result = run_cli("--events", "2500", "--seed", "9", "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    plain_a = (tmp_path / "a.ndjson").read_bytes()
    assert plain_a == (tmp_path / "b.ndjson").read_bytes()
    assert (tmp_path / "a.ndjson.gz").read_bytes() == (tmp_path / "b.ndjson.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.ndjson.gz").read_bytes()) == plain_a
    stdout = run_cli("--events", "2500", "--seed", "9", "--out", "-", "--quiet")
    assert stdout.returncode == 0 and stdout.stdout == plain_a
    assert generate_bytes(2500, seed=9) == plain_a


def test_different_seeds_differ() -> None:
    assert generate_bytes(500, seed=1) != generate_bytes(500, seed=2)


def test_gzip_output_is_gzip(tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson.gz"
    assert run_cli("--events", "300", "--out", str(out)).returncode == 0
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert len(lines_of(gzip.decompress(out.read_bytes()))) == 300


# --------------------------------------------------------------------------- size


@pytest.mark.parametrize("events", [1, 2, 17, 999, 2000, 4321])
def test_exactly_n_lines(events: int) -> None:
    assert len(lines_of(generate_bytes(events, seed=events))) == events


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.3, 1.0])
def test_n_respected_at_any_dirty_rate(rate: float) -> None:
    assert len(lines_of(generate_bytes(1500, seed=3, dirty_rate=rate))) == 1500


def test_memory_does_not_grow_with_events() -> None:
    class Sink(io.RawIOBase):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            return len(data)

    def peak(events: int) -> int:
        tracemalloc.start()
        try:
            generate.generate(Sink(), events, 4)  # type: ignore[arg-type]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(5_000), peak(30_000)
    assert large < small * 1.5 + 512 * 1024, (small, large)


# --------------------------------------------------------------------------- dirt


def _is_invalid_override(obj: dict) -> bool:
    """A manual_override whose properties.state (stripped) is not a lifecycle state."""
    event_type = obj.get("event_type")
    if not isinstance(event_type, str) or event_type.strip(WS).lower() != "manual_override":
        return False
    state = (obj.get("properties") or {}).get("state")
    return not isinstance(state, str) or state.strip(WS) not in LIFECYCLE_STATES


def _dirty_kinds(lines: list[str]) -> collections.Counter:
    """Recognise each dirty kind from the text alone (independently of the generator)."""
    kinds: collections.Counter = collections.Counter()
    seen_with_id: set[str] = set()
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            kinds["invalid_json"] += 1
            continue
        if not isinstance(obj, dict):
            kinds["non_object_json"] += 1
            continue
        if line in seen_with_id:
            kinds["duplicate_line"] += 1
            continue
        if isinstance(obj.get("event_id"), str) and obj["event_id"]:
            seen_with_id.add(line)
        email = obj.get("email")
        if "email" not in obj or email is None:
            kinds["missing_email"] += 1
        elif not isinstance(email, str):
            kinds["non_string_email"] += 1
        elif not email.strip(WS):
            kinds["empty_email"] += 1
        elif not EMAIL_RE.match(email.strip(WS).lower()):
            kinds["malformed_email"] += 1
        elif email != email.strip(WS).lower():
            kinds["email_whitespace_case"] += 1
        event_type = obj.get("event_type")
        if _is_invalid_override(obj):
            kinds["invalid_override_state"] += 1
        if not isinstance(event_type, str) or not event_type.strip(WS):
            kinds["missing_event_type"] += 1
        elif event_type not in SEEDS.canonical_types:
            normal = event_type.strip(WS).lower()
            if normal in SEEDS.canonical_types or normal in SEEDS.aliases:
                kinds["event_type_alias_case"] += 1
            else:
                kinds["unknown_event_type"] += 1
        event_time = obj.get("event_time")
        if not isinstance(event_time, str) or not event_time.strip(WS):
            kinds["missing_event_time"] += 1
        else:
            instant = reference.parse_event_time(event_time)
            if instant is None:
                shape = TIME_SHAPE_RE.fullmatch(event_time.strip(WS))
                impossible = shape is not None and not event_time.endswith(" PST")
                kinds["impossible_event_time" if impossible else "unparseable_event_time"] += 1
            elif not dt.datetime(2000, 1, 1) <= instant <= dt.datetime(2030, 1, 1):
                kinds["out_of_range_event_time"] += 1
        channel = obj.get("channel")
        if not isinstance(channel, str) or not channel.strip(WS):
            kinds["missing_channel"] += 1
    return kinds


@pytest.mark.parametrize("seed", [11, 12, 2026])
def test_every_dirty_kind_present(seed: int) -> None:
    kinds = _dirty_kinds(lines_of(generate_bytes(2000, seed=seed)))
    missing = [kind for kind in generate.DIRTY_KINDS if kinds[kind] == 0]
    assert not missing, f"absent dirty kinds: {missing} (found {dict(kinds)})"


def test_dirty_rate_is_respected(dirty_lines: list[str]) -> None:
    total = sum(_dirty_kinds(dirty_lines).values())
    # 2% of 2000 = 40 dirty lines; a few records accidentally match two kinds.
    assert 36 <= total <= 48, total


def test_no_dirt_at_rate_zero(clean_records: list[dict]) -> None:
    lines = [json.dumps(record, ensure_ascii=False) for record in clean_records]
    assert not _dirty_kinds(lines)


def test_dirty_valid_variants_stay_valid(dirty_lines: list[str]) -> None:
    rules = {**CLASSIFY_RULES, "future_tolerance_hours": 24}
    as_of = dt.datetime(2026, 7, 1)
    emails = set()
    padded = []
    for line in dirty_lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("email"), str):
            emails.add(obj["email"])
            if obj["email"] != obj["email"].strip(WS).lower():
                padded.append(obj)
    assert padded
    for obj in padded:
        result = reference.classify(obj, "k", rules, SEEDS, as_of)
        if isinstance(result, str):
            continue  # also hit by another dirty kind
        # The same contact appears elsewhere with its clean spelling.
        assert result.email in emails


# --------------------------------------------------------------------------- realism


def test_clean_records_are_all_valid(clean_records: list[dict]) -> None:
    rules = {**CLASSIFY_RULES, "future_tolerance_hours": 0}
    as_of = dt.datetime(2026, 6, 30, 23, 59, 59)
    for record in clean_records:
        result = reference.classify(record, "k", rules, SEEDS, as_of)
        assert not isinstance(result, str), (result, record)
        assert dt.datetime(2025, 1, 1) <= result.event_at, record


def test_contact_times_strictly_increase(clean_records: list[dict]) -> None:
    by_contact: dict[str, list[dt.datetime]] = collections.defaultdict(list)
    for record in clean_records:
        by_contact[record["email"]].append(reference.parse_event_time(record["event_time"]))
    for email, times in by_contact.items():
        ordered = sorted(times)
        gaps = [(b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False)]
        assert all(gap >= 1 for gap in gaps), (email, ordered)


def test_about_twelve_events_per_contact(clean_records: list[dict]) -> None:
    contacts = {record["email"] for record in clean_records}
    assert 9 <= len(clean_records) / len(contacts) <= 15


def test_vocabulary_channels_and_industries(clean_records: list[dict]) -> None:
    types = collections.Counter(record["event_type"] for record in clean_records)
    native = SEEDS.canonical_types - NON_NATIVE_TYPES - QUEUE_TYPES
    assert native <= set(types), native - set(types)
    assert not (NON_NATIVE_TYPES | QUEUE_TYPES) & set(types)
    channels = {record["channel"].strip().lower() for record in clean_records}
    assert set(generate.CHANNELS) <= channels
    industries = {record.get("industry") for record in clean_records} - {None}
    assert {"SaaS", "Fintech", "Healthcare", "Education", "Retail"} <= industries


def test_channels_convert_differently(clean_records: list[dict]) -> None:
    first: dict[str, tuple[dt.datetime, str]] = {}
    converted: set[str] = set()
    for record in clean_records:
        at = reference.parse_event_time(record["event_time"])
        if record["email"] not in first or at < first[record["email"]][0]:
            first[record["email"]] = (at, record["channel"].strip().lower())
        if record["event_type"] in ("demo_booked", "deal_closed", "purchase"):
            converted.add(record["email"])
    rates = {}
    for channel in ("referral", "email", "paid_search", "partner"):
        members = [email for email, (_, ch) in first.items() if ch == channel]
        rates[channel] = sum(email in converted for email in members) / len(members)
    assert rates["referral"] > rates["email"] and rates["partner"] > rates["paid_search"], rates


def test_properties(clean_records: list[dict]) -> None:
    for record in clean_records:
        props = record.get("properties", {})
        if record["event_type"].startswith("email_"):
            assert props.get("campaign_id") and isinstance(props.get("sequence_step"), int)
        if record["event_type"] in ("deal_closed", "purchase"):
            assert props["amount"] > 0 and props["currency"] in ("EUR", "USD", "GBP")
    bounce_types = collections.Counter(
        r["properties"]["bounce_type"] for r in clean_records if r["event_type"] == "email_bounced"
    )
    assert set(bounce_types) == {"hard", "permanent", "soft"}, bounce_types
    sources = {
        str(r["properties"]["lead_source"]).strip().lower()
        for r in clean_records
        if "lead_source" in r.get("properties", {})
    }
    assert {"referral", "organic", "paid", "event", "partner"} <= sources


def _by_contact(records: list[dict]) -> dict[str, list[tuple[dt.datetime, dict]]]:
    """Each contact's records in time order, with their parsed instants."""
    found: dict[str, list[tuple[dt.datetime, dict]]] = collections.defaultdict(list)
    for record in records:
        found[record["email"]].append((reference.parse_event_time(record["event_time"]), record))
    for events in found.values():
        events.sort(key=lambda item: item[0])
    return found


def test_appointments_are_scheduled_then_held_or_missed(clean_records: list[dict]) -> None:
    bookings = outcomes = upcoming = rescheduled = 0
    held = collections.Counter()
    end = dt.datetime(2026, 7, 1)
    for email, events in _by_contact(clean_records).items():
        meeting: tuple[dt.datetime, dt.datetime] | None = None  # (booked, scheduled)
        for at, record in events:
            kind = record["event_type"]
            if kind == "demo_booked":
                bookings += 1
                scheduled = reference.parse_event_time(record["properties"]["scheduled_at"])
                assert scheduled is not None, record
                assert scheduled.date() - at.date() in [DAY * n for n in range(1, 15)], record
                if meeting is not None:
                    rescheduled += 1  # booked again before the last one had an outcome
                meeting = (at, scheduled)
                upcoming += scheduled >= end
            elif kind in ("appointment_held", "appointment_no_show"):
                outcomes += 1
                held[kind] += 1
                assert record["channel"].strip(WS).lower() == "direct", record
                assert meeting is not None, (email, record)
                assert at >= meeting[1] or len(record["event_time"]) == 10, (email, record)
                meeting = None
    assert bookings > 150 and outcomes > 0.75 * bookings, (bookings, outcomes)
    assert held["appointment_held"] > 2 * held["appointment_no_show"] > 0, held
    assert upcoming > 0 and rescheduled > 0, (upcoming, rescheduled)


def test_deals_carry_a_contract_end(clean_records: list[dict]) -> None:
    as_of = dt.date(2026, 7, 1)
    renewals = 0
    deals = [r for r in clean_records if r["event_type"] == "deal_closed"]
    assert deals
    for record in deals:
        closed = reference.parse_event_time(record["event_time"]).date()
        text = record["properties"]["contract_end"]
        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text), record
        contract_end = dt.date.fromisoformat(text)
        months = (contract_end.year - closed.year) * 12 + contract_end.month - closed.month
        assert 6 <= months <= 24 and contract_end > closed, record
        renewals += as_of <= contract_end < as_of + 90 * DAY
    assert renewals > 0


def test_manual_overrides(clean_records: list[dict]) -> None:
    contacts = {record["email"] for record in clean_records}
    overrides = [r for r in clean_records if r["event_type"] == "manual_override"]
    assert 0.002 <= len(overrides) / len(contacts) <= 0.012, (len(overrides), len(contacts))
    states = collections.Counter(r["properties"]["state"] for r in overrides)
    assert set(states) <= LIFECYCLE_STATES, states
    assert states["Hot"] + states["Disqualified"] + states["VIP"] > len(overrides) / 2, states
    for record in overrides:
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", record["properties"]["set_by"]), record


def test_invalid_override_states_are_only_the_dirty_kind() -> None:
    overrides = []
    for line in lines_of(generate_bytes(20_000, seed=5)):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the invalid_json kind
        event_type = record.get("event_type") if isinstance(record, dict) else None
        if isinstance(event_type, str) and event_type.strip(WS).lower() == "manual_override":
            overrides.append(record)
    invalid = sum(_is_invalid_override(r) for r in overrides)
    # One dirty slot in 50, cycling through the kinds: about 400 / len(DIRTY_KINDS).
    per_kind = 20_000 * generate.DEFAULT_DIRTY_RATE / len(generate.DIRTY_KINDS)
    assert per_kind - 2 <= invalid <= per_kind + 2, invalid
    assert len(overrides) - invalid > 0


def test_customers_refer_several_colleagues(clean_records: list[dict]) -> None:
    referrals = collections.Counter()
    for email, events in _by_contact(clean_records).items():
        customer = False
        for _, record in events:
            customer = customer or record["event_type"] in ("deal_closed", "purchase")
            if record["event_type"] == "referral_given":
                assert customer, (email, record)
                referrals[email] += 1
    assert max(referrals.values()) <= 4
    assert sum(1 for n in referrals.values() if n >= 3) > 0, referrals
    assert sum(1 for n in referrals.values() if n == 1) > 0, referrals


def test_quiet_contacts_get_reengagement_touches(clean_records: list[dict]) -> None:
    """Touches 90+ days after the last engagement: spaced days to weeks; some re-engage."""
    quiet = reengaged = bought_back = three_windows = 0
    for events in _by_contact(clean_records).values():
        last_engaged: dt.datetime | None = None
        touches: list[dt.datetime] = []
        for at, record in events:
            if record["event_type"] in ENGAGEMENT_TYPES:
                if touches:
                    reengaged += 1
                    bought_back += record["event_type"] == "purchase"
                    touches = []
                last_engaged = at
            elif (
                record["event_type"] == "email_sent"
                and last_engaged is not None
                and at >= last_engaged + 90 * DAY
            ):
                if touches:
                    assert at - touches[-1] >= 3 * DAY, (touches, at)
                else:
                    quiet += 1
                touches.append(at)
                start = last_engaged + 90 * DAY
                windows = {(touch - start) // (14 * DAY) for touch in touches}
                three_windows += len(windows) == 3
    assert quiet > 20 and 0 < bought_back < reengaged < quiet and three_windows > 0, (
        quiet,
        reengaged,
        bought_back,
        three_windows,
    )


def test_some_contacts_buy_first(clean_records: list[dict]) -> None:
    first = [events[0][1]["event_type"] for events in _by_contact(clean_records).values()]
    assert 0 < first.count("purchase") < len(first) * 0.05


def test_event_ids_and_time_formats(clean_records: list[dict]) -> None:
    without_id = sum(
        1
        for r in clean_records
        if not isinstance(r.get("event_id"), (str, int)) or r["event_id"] == ""
    )
    assert 0.15 <= without_id / len(clean_records) <= 0.25
    assert any(isinstance(r.get("event_id"), int) for r in clean_records)
    formats = collections.Counter()
    for record in clean_records:
        text = record["event_time"]
        if text.endswith("Z"):
            formats["z"] += 1
        if re.search(r"[+-][0-9]{2}(:?[0-9]{2})?$", text) and len(text) > 10:
            formats["offset"] += 1
        if re.search(r"[+-][0-9]{4}$", text):
            formats["offset_no_colon"] += 1
        if re.fullmatch(r"[0-9-]{10}[T ][0-9:.]{8,15}", text):
            formats["naive"] += 1
        if len(text) == 10:
            formats["date_only"] += 1
        if re.search(r"\.[0-9]{1,6}", text):
            formats["fraction"] += 1
    assert formats["z"] > len(clean_records) / 2
    for name in ("offset", "offset_no_colon", "naive", "date_only", "fraction"):
        assert formats[name] > 0, formats


def test_start_and_end_bound_the_times() -> None:
    data = generate_bytes(
        3000, seed=8, dirty_rate=0, start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31)
    )
    times = [reference.parse_event_time(json.loads(line)["event_time"]) for line in lines_of(data)]
    assert min(times) >= dt.datetime(2024, 3, 1)
    assert max(times) < dt.datetime(2024, 4, 1)


# --------------------------------------------------------------------------- command line


def test_help_has_examples() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert b"examples:" in result.stdout and b"--dirty-rate" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--out", "x.ndjson"],
        ["--events", "0", "--out", "{tmp}/x"],
        ["--events", "ten", "--out", "{tmp}/x"],
        ["--events", "10", "--seed", "abc", "--out", "{tmp}/x"],
        ["--events", "10", "--dirty-rate", "1.5", "--out", "{tmp}/x"],
        ["--events", "10", "--dirty-rate", "nan", "--out", "{tmp}/x"],
        ["--events", "10", "--start", "2025-13-01", "--out", "{tmp}/x"],
        ["--events", "10", "--start", "2025-06-01", "--end", "2025-01-01", "--out", "{tmp}/x"],
        ["--events", "10", "--out", "{tmp}/no/such/dir/x.ndjson"],
        ["--events", "10", "--out", "{tmp}/x", "--bogus"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    result = run_cli(*(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("funnel-generate: error:"), stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""


# --------------------------------------------------------------------------- --sheets

with open(REPO_ROOT / "seeds" / "orchestrators.csv", newline="", encoding="utf-8") as _handle:
    ORCHESTRATOR_NAMES = frozenset(row["orchestrator"] for row in csv.DictReader(_handle))
with open(REPO_ROOT / "seeds" / "fx_rates.csv", newline="", encoding="utf-8") as _handle:
    FX_CURRENCIES = frozenset(row["currency"] for row in csv.DictReader(_handle))
SHEET_START, SHEET_END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
RESEND_TYPES = {
    "email.sent",
    "email.delivered",
    "email.delivery_delayed",
    "email.opened",
    "email.clicked",
    "email.bounced",
    "email.complained",
}
SEGMENT_EVENTS = {"Signed Up", "Trial Started", "Email Opened", "Demo Booked", "Order Completed"}
NUMBER_RE = re.compile(r"[+-]?[0-9]{1,15}(\.[0-9]{1,6})?")


def _header_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lstrip("\ufeff").lower()).strip("_")


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    return [_header_key(cell) for cell in rows[0]], rows[1:]


def _in_range(instant: dt.datetime) -> bool:
    return (
        dt.datetime.combine(SHEET_START, dt.time())
        <= instant
        < dt.datetime.combine(SHEET_END + DAY, dt.time())
    )


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """20,000 clean events of seed 3 with their --sheets files (written in-process)."""
    folder = tmp_path_factory.mktemp("sheets")
    recorder = generate.SheetRecorder(3, SHEET_START, SHEET_END)
    buffer = io.BytesIO()
    generate.generate(buffer, 20_000, 3, 0.0, SHEET_START, SHEET_END, recorder)
    counts = recorder.write(str(folder))
    records = [json.loads(line) for line in lines_of(buffer.getvalue())]
    first: dict[str, tuple[dt.datetime, str]] = {}
    campaigns: dict[str, dt.datetime] = {}
    for record in records:
        at = reference.parse_event_time(record["event_time"])
        email = record["email"].strip(WS).lower()
        if email not in first or at < first[email][0]:
            first[email] = (at, record["channel"].strip(WS).lower())
        campaign = record.get("properties", {}).get("campaign_id")
        if campaign:
            campaigns[campaign] = min(at, campaigns.get(campaign, at))
    return {
        "dir": folder,
        "counts": counts,
        "events": buffer.getvalue(),
        "first": first,
        "campaigns": campaigns,
    }


def test_queue_file_holds_every_queue_type_for_known_contacts(sheets: dict) -> None:
    text = (sheets["dir"] / "queue.ndjson").read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]
    # the replies that raise the items, then what people did about them
    assert {record["event_type"] for record in records} == QUEUE_TYPES | {"email_replied"}
    assert {record["email"].strip(WS).lower() for record in records} <= set(sheets["first"])


def test_sheets_leave_the_events_unchanged(sheets: dict) -> None:
    plain = generate_bytes(20_000, seed=3, dirty_rate=0.0, start=SHEET_START, end=SHEET_END)
    assert plain == sheets["events"]


def test_sheets_are_deterministic(tmp_path: Path) -> None:
    outputs = []
    for name, seed in (("a", "4"), ("b", "4"), ("c", "5")):
        folder = tmp_path / name
        result = run_cli(
            "--events", "3000", "--seed", seed, "--out", str(tmp_path / f"{name}.ndjson"),
            "--sheets", str(folder),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert b"contacts.csv (" in result.stderr
        outputs.append({file: (folder / file).read_bytes() for file in generate.SHEET_FILES})
    assert outputs[0] == outputs[1]
    assert all(outputs[0][file] != outputs[2][file] for file in generate.SHEET_FILES)
    plain = run_cli("--events", "3000", "--seed", "4", "--out", "-", "--quiet")
    assert plain.stdout == (tmp_path / "a.ndjson").read_bytes()


def test_contacts_sheet(sheets: dict) -> None:
    path = sheets["dir"] / "contacts.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # saved by Excel as CSV UTF-8
    header, rows = _read_csv(path)
    assert header == [
        "full_name", "email", "phone", "company", "role", "industry", "country", "timezone",
        "channel_of_origin", "lead_status", "tags", "notes", "date_added",
        "assigned_orchestrator",
    ]  # fmt: skip
    assert len(rows) == sheets["counts"]["contacts.csv"]
    first = sheets["first"]
    in_events = sheet_only = bad_email = bad_date = 0
    emails = set()
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        email = cells["email"].strip(WS).lower()
        added = reference.parse_event_time(cells["date_added"])
        assert cells["assigned_orchestrator"] in ORCHESTRATOR_NAMES | {""}, cells
        assert cells["lead_status"] in {
            "New", "Contacted", "Engaged", "Qualified", "Customer", "Unsubscribed",
        }  # fmt: skip
        if not EMAIL_RE.match(email):
            bad_email += 1
            continue
        if added is None:
            bad_date += 1
            continue
        assert email not in emails, email  # one row per person
        emails.add(email)
        if email in first:
            in_events += 1
            first_at, channel = first[email]
            assert cells["channel_of_origin"].strip(WS).lower() == channel, (cells, channel)
            assert added < first_at, (cells, first_at)
        else:
            sheet_only += 1
            assert cells["channel_of_origin"].strip(WS).lower() in generate.CHANNELS
    contacts = len(first)
    assert 0.25 <= in_events / contacts <= 0.35, (in_events, contacts)
    assert 0.03 <= sheet_only / contacts <= 0.07, (sheet_only, contacts)
    assert 2 <= bad_email <= 10 and 2 <= bad_date <= 10, (bad_email, bad_date)
    data = path.read_bytes()
    assert b"\r\n" in data and b'"webinar, newsletter"' in data  # CRLF, quoted commas


def test_spend_sheet(sheets: dict) -> None:
    header, rows = _read_csv(sheets["dir"] / "spend.csv")
    assert header == ["date", "channel", "spend", "currency"]
    valid: dict[tuple[dt.date, str], str] = {}
    bad = 0
    for date_text, channel, spend, currency in rows:
        day = reference.parse_event_time(date_text)
        if day is None or not NUMBER_RE.fullmatch(spend) or currency not in FX_CURRENCIES:
            bad += 1
            continue
        assert (day.date(), channel) not in valid
        assert float(spend) > 0
        valid[(day.date(), channel)] = currency
    assert 2 <= bad <= 5
    channels = {channel for _, channel in valid}
    assert channels <= set(generate.CHANNELS) and len(channels) >= 5
    days = {day for day, _ in valid}
    assert days == {SHEET_START + DAY * n for n in range((SHEET_END - SHEET_START).days + 1)}
    assert len(valid) == len(days) * len(channels)  # every channel every day
    currencies = collections.Counter(valid.values())
    assert currencies["EUR"] > len(valid) / 2 and currencies["USD"] and currencies["GBP"]


def _resend_tags(data: dict) -> dict[str, str]:
    tags = data["tags"]
    if isinstance(tags, dict):
        return tags
    return {tag["name"]: tag["value"] for tag in tags}


def test_resend_webhooks(sheets: dict) -> None:
    lines = (sheets["dir"] / "resend.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == sheets["counts"]["resend.ndjson"] > 100
    shapes = collections.Counter()
    bounce_types = collections.Counter()
    for line in lines:
        payload = json.loads(line)
        assert payload["type"] in RESEND_TYPES
        created = reference.parse_event_time(payload["created_at"])
        assert created is not None and _in_range(created)
        data = payload["data"]
        (to,) = data["to"]
        match = re.fullmatch(r"(.+) <(.+)>", to)
        shapes["display_name" if match else "plain"] += 1
        address = match.group(2) if match else to
        assert address in sheets["first"], address  # one of the event contacts
        shapes["tags_" + type(data["tags"]).__name__] += 1
        tags = _resend_tags(data)
        assert tags["campaign_id"].startswith("cmp-") and tags["sequence_step"] in {"1", "2"}
        if payload["type"] == "email.bounced":
            bounce_types[data["bounce"]["type"]] += 1
        if payload["type"] == "email.clicked":
            assert {"ipAddress", "link", "timestamp", "userAgent"} <= set(data["click"])
    assert shapes["display_name"] > shapes["plain"] > 0, shapes
    assert shapes["tags_dict"] > 0 and shapes["tags_list"] > 0, shapes
    assert set(bounce_types) <= {"Permanent", "Transient"} and bounce_types, bounce_types


def test_segment_calls(sheets: dict) -> None:
    lines = (sheets["dir"] / "segment.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == sheets["counts"]["segment.ndjson"] > 100
    message_ids = set()
    events = collections.Counter()
    for line in lines:
        call = json.loads(line)
        assert call["messageId"] not in message_ids
        message_ids.add(call["messageId"])
        at = reference.parse_event_time(call["timestamp"])
        assert at is not None and _in_range(at)
        email = call["context"]["traits"]["email"].lower()
        assert email in sheets["first"]
        assert at >= sheets["first"][email][0]
        campaign = call["context"].get("campaign")
        if campaign is not None:
            assert set(campaign) == {"source", "medium", "name"}
        if call["type"] == "identify":
            events["identify"] += 1
            assert call["traits"]["email"].lower() == email
            continue
        assert call["type"] == "track" and call["event"] in SEGMENT_EVENTS
        events[call["event"]] += 1
        if call["event"] == "Order Completed":
            props = call["properties"]
            assert props["revenue"] > 0 and props["currency"] in {"EUR", "USD", "GBP"}
    assert set(events) == SEGMENT_EVENTS | {"identify"}, events


def test_campaigns_sheet(sheets: dict) -> None:
    header, rows = _read_csv(sheets["dir"] / "campaigns.csv")
    assert header == [
        "campaign_id", "name", "goal", "channel", "status", "start_date", "end_date",
        "target_segment", "owner",
    ]  # fmt: skip
    used = dict(sheets["campaigns"])
    for line in (sheets["dir"] / "resend.ndjson").read_text(encoding="utf-8").splitlines():
        payload = json.loads(line)
        campaign = _resend_tags(payload["data"])["campaign_id"]
        at = reference.parse_event_time(payload["created_at"])
        used[campaign] = min(at, used.get(campaign, at))
    assert [row[0] for row in rows] == sorted(used)  # one row per campaign the events use
    for campaign_id, name, _goal, channel, status, start, end, _segment, owner in rows:
        assert name and channel == "email" and owner in ORCHESTRATOR_NAMES
        starts = dt.date.fromisoformat(start)
        assert starts <= used[campaign_id].date()
        assert status in {"active", "completed", "paused"}
        if end:
            assert dt.date.fromisoformat(end) >= starts
        else:
            assert status == "active"


def test_sheets_directory_error_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = run_cli(
        "--events", "10", "--out", str(tmp_path / "x.ndjson"), "--sheets", str(blocker / "dir")
    )
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.count("\n") == 1, stderr
    assert stderr.startswith("funnel-generate: error: cannot create --sheets"), stderr
    assert not (tmp_path / "x.ndjson").exists()
