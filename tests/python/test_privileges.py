"""Least privilege on PostgreSQL, and personal data kept out of the aggregate reports.

The roles come from the real ``dbt run-operation create_roles`` (macros/create_roles.sql),
data from the real ``funnel-load`` run as a LOGIN member of the loader role, and the models
from the real ``dbt build`` run as a LOGIN member of the transformer role. Then LOGIN members
of every role try to read and write each layer; each attempt must succeed or be refused with
a permission error exactly as the role design says. Roles are cluster-wide, so every test
names its own with a unique suffix (through the role vars) and drops them at the end.

The manifest tests read ``target/manifest.json``: every mart declares ``meta.access_tier``
(aggregate | contact), its grants follow the tier, and no aggregate report has a column, or
selects a name, that is marked ``meta: {sensitive: true}`` anywhere in the project.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
import yaml
from conftest import PROFILE, ProfileRef, run_dbt, run_funnel_load

AS_OF = "2026-07-01T00:00:00Z"
KINDS = ("loader", "transformer", "bi", "operator", "eraser")  # each has a LOGIN member
GROUPS = (*KINDS, "raw_owner")  # raw_owner has none
AGGREGATE_MARTS = (
    "rpt_funnel",
    "rpt_channel_effectiveness",
    "rpt_intent_by_source",
    "rpt_lifecycle_movement_summary",
    "rpt_funnel_membership",
    "rpt_appointment_outcomes",
    "rpt_revenue_by_source_funnel",
    "rpt_monthly_conversions",
    "rpt_campaign_performance",
    "rpt_channel_cac_ltv",
    "rpt_attribution_channel_roi",
    "rpt_cohorts",
    "rpt_stage_velocity",
    "rpt_funnel_over_time",
    "rpt_pipeline_forecast",
    "rpt_queue_health",
)
CONTACT_MARTS = (
    "dim_contacts",
    "fct_activities",
    "fct_lifecycle_transitions",
    "fct_quarantined_events",
    "rpt_lifecycle_movements",
    "rpt_appointments",
    "rpt_active_clients",
    "rpt_renewals_due",
    "rpt_orchestrator_queue",
    "fct_queue_item_history",
    "rpt_nurture_lists",
    "rpt_suppression_list",
    "rpt_contact_360",
    "rpt_attribution",
    "fct_quarantined_sheet_rows",
)
DBT_SCHEMAS = ("staging", "intermediate", "marts", "seeds", "snapshots")


# --------------------------------------------------------------------------- helpers


def _admin(pg: dict[str, Any], dbname: str | None = None) -> Any:
    con = psycopg2.connect(
        host=pg["host"], port=pg["port"], user=pg["user"], dbname=dbname or pg["dbname"]
    )
    con.autocommit = True
    return con


def _admin_run(pg: dict[str, Any], *statements: str) -> list[tuple]:
    con = _admin(pg)
    try:
        with con.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()


class Roles:
    """Group roles and their LOGIN members for one test, unique per run."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.group = {kind: f"crm_t{suffix}_{kind}" for kind in GROUPS}
        self.login = {kind: f"crm_t{suffix}_{kind}_login" for kind in KINDS}

    def dbt_vars(self, **extra: Any) -> dict[str, Any]:
        return {f"{kind}_role": name for kind, name in self.group.items()} | extra

    def create_logins(self, pg: dict[str, Any]) -> None:
        """One LOGIN user per group role but raw_owner. The loader and the transformer
        always act as their group role (``alter role ... set role``), so what they create
        is owned by the group, not by a person; the others just inherit privileges."""
        statements = []
        for kind in KINDS:
            login, group = self.login[kind], self.group[kind]
            statements.append(f"create role {login} login in role {group}")
            if kind in ("loader", "transformer"):
                statements.append(f"alter role {login} set role {group}")
        _admin_run(pg, *statements)

    def drop(self, pg: dict[str, Any]) -> None:
        names = [*self.login.values(), *self.group.values()]
        con = _admin(pg)
        try:
            with con.cursor() as cur:
                cur.execute("select rolname from pg_roles where rolname = any(%s)", [names])
                found = {row[0] for row in cur.fetchall()}
                existing = [name for name in names if name in found]
                for name in existing:
                    # its objects, privileges and default privileges in this database (one
                    # role at a time: a default ACL naming two of them trips a multi-role
                    # drop owned)
                    cur.execute(f"drop owned by {name} cascade")
                for name in existing:
                    cur.execute(f"drop role if exists {name}")
        finally:
            con.close()


@pytest.fixture
def roles(pg_database: dict[str, Any]) -> Iterator[Roles]:
    made = Roles()
    yield made
    made.drop(pg_database)


def write_targets(directory: Path, pg: dict[str, Any], roles: Roles) -> Path:
    """profiles.yml with target 'admin' (the superuser) and one per LOGIN user."""
    base = {
        "type": "postgres",
        "host": pg["host"],
        "port": int(pg["port"]),
        "password": "",
        "dbname": pg["dbname"],
        "schema": "public",
        "threads": 4,
    }
    outputs = {"admin": base | {"user": pg["user"]}}
    outputs |= {kind: base | {"user": roles.login[kind]} for kind in KINDS}
    directory.mkdir(parents=True, exist_ok=True)
    document = {PROFILE: {"target": "admin", "outputs": outputs}}
    (directory / "profiles.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def write_events(path: Path, prefix: str, count: int) -> Path:
    kinds = ["view", "download", "demo_booked", "purchase", "email_opened"]
    lines = [
        json.dumps(
            {
                "event_id": f"{prefix}-{i}",
                "email": f"person{i % 7}@example.com",
                "company": "Acme",
                "event_type": kinds[i % len(kinds)],
                "channel": ["linkedin", "email", "web"][i % 3],
                "event_time": f"2026-03-{1 + i % 27:02d}T10:00:00Z",
                "properties": {"lead_source": ["referral", "ads"][i % 2]},
            }
        )
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def attempt(pg: dict[str, Any], user: str, sql: str) -> str:
    """'ok', 'denied' (permission error), or 'error: ...'. Always rolled back."""
    con = psycopg2.connect(host=pg["host"], port=pg["port"], user=user, dbname=pg["dbname"])
    try:
        with con.cursor() as cur:
            cur.execute(sql)
        return "ok"
    except psycopg2.errors.InsufficientPrivilege:
        return "denied"
    except psycopg2.Error as exc:
        return f"error: {' '.join(str(exc).split())[:160]}"
    finally:
        con.rollback()
        con.close()


# The zero-row statements still need the privilege: PostgreSQL checks it before running.
def read(relation: str) -> str:
    return f"select * from {relation} limit 1"


def insert(relation: str) -> str:
    return f"insert into {relation} select * from {relation} where false"


def delete(relation: str) -> str:
    return f"delete from {relation} where false"


def update(relation: str, column: str) -> str:
    return f"update {relation} set {column} = {column} where false"


def create_table(schema: str) -> str:
    return f"create table {schema}.probe_{uuid.uuid4().hex[:6]} (x integer)"


def expectations() -> dict[str, list[tuple[str, str]]]:
    """(statement, 'ok' | 'denied') per role kind: the role design, as tested."""
    staging_view = "staging.stg_raw__events"
    intermediate = "intermediate.int_contacts_scored"
    seed = "seeds.funnel_stages"
    aggregates = [f"marts.{name}" for name in AGGREGATE_MARTS]
    contacts = [f"marts.{name}" for name in CONTACT_MARTS]
    not_for_readers = ["raw.events", "raw.load_errors", staging_view, intermediate, seed]
    return {
        "loader": [
            (read("raw.events"), "ok"),
            (read("raw.loads"), "ok"),
            (insert("raw.events"), "ok"),
            (insert("raw.load_errors"), "ok"),
            (delete("raw.events"), "denied"),  # raw is append-only: erasure is the eraser's
            (create_table("raw"), "denied"),  # raw_owner owns the raw tables
            (update("raw.events", "payload"), "denied"),
            (update("raw.loads", "status"), "denied"),
            ("alter table raw.events add column probe integer", "denied"),
            ("drop table raw.load_errors", "denied"),
            ("truncate raw.events", "denied"),
            *[(read(relation), "denied") for relation in [*aggregates, *contacts]],
            (read(staging_view), "denied"),
            (read(intermediate), "denied"),
            (create_table("marts"), "denied"),
            (create_table("staging"), "denied"),
            ("create schema probe_loader", "denied"),
        ],
        "transformer": [
            (read("raw.events"), "ok"),
            (read("raw.load_errors"), "ok"),
            (insert("raw.events"), "denied"),
            (delete("raw.events"), "denied"),
            (update("raw.events", "payload"), "denied"),
            (create_table("raw"), "denied"),
            *[(create_table(schema), "ok") for schema in DBT_SCHEMAS],
            (read("marts.dim_contacts"), "ok"),
            ("create schema probe_transformer", "denied"),
        ],
        "bi": [
            *[(read(relation), "ok") for relation in aggregates],
            *[(read(relation), "denied") for relation in contacts],
            *[(read(relation), "denied") for relation in not_for_readers],
            (insert("marts.rpt_funnel"), "denied"),
            (delete("marts.rpt_funnel"), "denied"),
            (create_table("marts"), "denied"),
            (create_table("public"), "denied"),
            ("create temp table probe_bi (x integer)", "denied"),  # PUBLIC loses TEMP
        ],
        "operator": [
            *[(read(relation), "ok") for relation in [*aggregates, *contacts]],
            *[(read(relation), "denied") for relation in not_for_readers],
            (update("marts.dim_contacts", "email"), "denied"),
            (delete("marts.fct_activities"), "denied"),
            (create_table("marts"), "denied"),
            ("create temp table probe_operator (x integer)", "denied"),
        ],
        "eraser": [  # funnel-forget: deletes and rewrites rows in raw and every built table
            *[(delete(relation), "ok") for relation in ("raw.events", "raw.load_errors")],
            (update("raw.loads", "source_file"), "ok"),
            (update("raw.events", "source_file"), "ok"),
            (insert("raw.erasures"), "ok"),
            *[(delete(relation), "ok") for relation in [*aggregates, *contacts, intermediate]],
            (delete("snapshots.snap_contact_states"), "ok"),
            (update("marts.fct_activities", "source_file"), "ok"),
            (insert("raw.events"), "denied"),
            (insert("marts.dim_contacts"), "denied"),
            (create_table("raw"), "denied"),
            (create_table("marts"), "denied"),
            ("alter table raw.events add column probe integer", "denied"),
            ("truncate raw.events", "denied"),
        ],
    }


def check_matrix(pg: dict[str, Any], roles: Roles, kinds: tuple[str, ...] = KINDS) -> list[str]:
    wrong = []
    for kind in kinds:
        for sql, expected in expectations()[kind]:
            got = attempt(pg, roles.login[kind], sql)
            if got != expected:
                wrong.append(f"{kind}: {sql!r} -> {got} (expected {expected})")
    return wrong


def create_roles(ref: ProfileRef, work_dir: Path, roles: Roles) -> str:
    proc = run_dbt(
        ref, "run-operation", "create_roles", work_dir=work_dir, dbt_vars=roles.dbt_vars()
    )
    assert "ready" in proc.stdout, proc.stdout[-2000:]
    return proc.stdout


# --------------------------------------------------------------------------- PostgreSQL


def test_each_role_reads_and_writes_only_its_layer(
    tmp_path: Path, pg_database: dict[str, Any], roles: Roles
) -> None:
    pg = pg_database
    profiles = write_targets(tmp_path / "profiles", pg, roles)

    def ref(target: str) -> ProfileRef:
        return ProfileRef(profiles, target, "postgres", pg)

    # Roles first (fresh database), then a first load by an administrator (an existing
    # warehouse whose raw tables the roles do not know yet), then create_roles again: it
    # is idempotent and grants on the tables that exist now.
    first = create_roles(ref("admin"), tmp_path, roles)
    created = first.split("roles created now: ")[1].split(")")[0].split(", ")
    assert sorted(created) == sorted(roles.group.values()), first[-2000:]
    admin_load = run_funnel_load(
        "--profiles-dir",
        profiles,
        "--target",
        "admin",
        "--quiet",
        write_events(tmp_path / "first.ndjson", "first", 40),
    )
    assert admin_load.returncode == 0, admin_load.stderr
    again = create_roles(ref("admin"), tmp_path, roles)
    assert "roles created now: none)" in again
    roles.create_logins(pg)

    # The loader role lands new events (insert, and select to de-duplicate) ...
    loader_load = run_funnel_load(
        "--profiles-dir",
        profiles,
        "--target",
        "loader",
        "--quiet",
        write_events(tmp_path / "second.ndjson", "first", 60),  # 40 known, 20 new
    )
    assert loader_load.returncode == 0, loader_load.stderr
    assert "20 new events, 40 duplicates" in loader_load.stdout
    assert _admin_run(pg, "select count(*) from raw.events") == [(60,)]

    # ... and the whole project builds as the transformer role, granting the marts.
    build_vars = roles.dbt_vars(grant_marts=True, as_of=AS_OF)
    run_dbt(ref("transformer"), "build", work_dir=tmp_path, dbt_vars=build_vars)
    owners = _admin_run(
        pg,
        "select schemaname || '.' || tablename, tableowner from pg_tables"
        f" where schemaname in {DBT_SCHEMAS}"
        " union all select schemaname || '.' || viewname, viewowner from pg_views"
        f" where schemaname in {DBT_SCHEMAS}",
    )
    assert len(owners) >= 15
    assert {owner for _, owner in owners} == {roles.group["transformer"]}, owners
    raw_owners = _admin_run(
        pg, "select distinct tableowner from pg_tables where schemaname = 'raw'"
    )
    assert raw_owners == [(roles.group["raw_owner"],)]

    wrong = check_matrix(pg, roles)
    assert not wrong, "privileges differ from the role design:\n" + "\n".join(wrong)

    # The grants are real reads of real rows, and survive a rebuild of the marts
    # (dbt replaces each table, then applies and revokes grants to match the config).
    con = psycopg2.connect(
        host=pg["host"], port=pg["port"], user=roles.login["bi"], dbname=pg["dbname"]
    )
    try:
        with con.cursor() as cur:
            cur.execute("select funnel_stage, contacts_reached from marts.rpt_funnel")
            funnel = dict(cur.fetchall())
    finally:
        con.close()
    assert funnel["Lead"] == 7, funnel
    run_dbt(
        ref("transformer"),
        "run",
        "--select",
        "path:models/marts",
        work_dir=tmp_path,
        dbt_vars=build_vars,
    )
    wrong = check_matrix(pg, roles, ("bi", "operator", "eraser"))
    assert not wrong, "privileges after a rebuild of the marts:\n" + "\n".join(wrong)


def test_no_login_owns_the_raw_tables(
    tmp_path: Path, pg_database: dict[str, Any], roles: Roles
) -> None:
    """The loader cannot create, own, update or alter raw tables: an administrator's first
    load creates them, create_roles hands them to raw_owner (which no login is a member
    of), then the loader appends, as before."""
    pg = pg_database
    profiles = write_targets(tmp_path / "profiles", pg, roles)
    admin = ProfileRef(profiles, "admin", "postgres", pg)
    create_roles(admin, tmp_path, roles)
    roles.create_logins(pg)

    def load(target: str, name: str) -> Any:
        events = write_events(tmp_path / f"{name}.ndjson", name, 10)
        return run_funnel_load("--profiles-dir", profiles, "--target", target, "--quiet", events)

    refused = load("loader", "fresh")  # a fresh database: no raw tables yet
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "run one funnel-load as a superuser, then `dbt run-operation create_roles`" in (
        refused.stderr
    )
    assert _admin_run(pg, "select count(*) from pg_tables where schemaname = 'raw'") == [(0,)]

    assert load("admin", "first").returncode == 0
    create_roles(admin, tmp_path, roles)
    owners = _admin_run(pg, "select distinct tableowner from pg_tables where schemaname = 'raw'")
    assert owners == [(roles.group["raw_owner"],)]
    loaded = load("loader", "second")
    assert loaded.returncode == 0, loaded.stderr
    assert _admin_run(pg, "select count(*) from raw.events") == [(20,)]
    loader = roles.login["loader"]
    for sql in (
        update("raw.events", "payload"),
        "alter table raw.events add column probe integer",
        delete("raw.events"),
        create_table("raw"),
    ):
        assert attempt(pg, loader, sql) == "denied", sql
    assert attempt(pg, roles.login["bi"], "create temp table probe (x integer)") == "denied"
    assert attempt(pg, roles.login["transformer"], read("raw.events")) == "ok"
    assert attempt(pg, roles.login["bi"], read("raw.events")) == "denied"
    # a login made a member of raw_owner would own raw: create_roles refuses that
    _admin_run(pg, f"grant {roles.group['raw_owner']} to {loader}")
    proc = run_dbt(
        admin,
        "run-operation",
        "create_roles",
        work_dir=tmp_path,
        dbt_vars=roles.dbt_vars(),
        check=False,
    )
    assert proc.returncode != 0
    assert "must have no members" in proc.stdout + proc.stderr


def test_create_roles_does_nothing_on_duckdb(tmp_path: Path, duckdb_profile: ProfileRef) -> None:
    proc = run_dbt(duckdb_profile, "run-operation", "create_roles", work_dir=tmp_path)
    assert "roles and grants are PostgreSQL-only" in proc.stdout
    assert "ready" not in proc.stdout


# --------------------------------------------------------------------------- manifest


def sensitive_names(manifest: dict[str, Any]) -> set[str]:
    """Names of the columns marked ``meta: {sensitive: true}`` in any model or source."""
    names = set()
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        for column in node.get("columns", {}).values():
            meta = {**(column.get("meta") or {}), **(column.get("config") or {}).get("meta", {})}
            if meta.get("sensitive") is True:
                names.add(column["name"].lower())
    return names


def access_tier(node: dict[str, Any]) -> Any:
    return (node["config"].get("meta") or {}).get("access_tier")


def _sql_without_safe_uses(sql: str) -> str:
    """The SQL without comments and without the uses of a column that cannot carry its
    value into the output: counting people is what an aggregate does (count(distinct
    contact_id)), and a per-contact key may join (a.contact_id = b.contact_id), group
    (group by / partition by) and pass unchanged through a CTE (alone on its line; the
    enforced contract decides which columns leave the model). Any other use (a
    function of it, a rename, a min/max) stays, and is flagged."""
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"count\s*\(\s*(distinct\s+)?[\w.\"]+\s*\)", "count(*)", sql, flags=re.I)
    sql = re.sub(r"[\w.\"]+\s*=\s*[\w.\"]+", " ", sql)
    sql = re.sub(r"\b(group|partition)\s+by\s+[\w.\", ]+", " ", sql, flags=re.I)
    return re.sub(r"^[ \t]*[\w\"]+(\.[\w\"]+)?[ \t]*,?[ \t]*$", " ", sql, flags=re.M)


def aggregate_leaks(manifest: dict[str, Any]) -> list[str]:
    """Why an aggregate-tier model could expose personal data; empty when none can."""
    sensitive = sensitive_names(manifest)
    leaks = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or access_tier(node) != "aggregate":
            continue
        name = node["name"]
        if not node["config"].get("contract", {}).get("enforced"):
            leaks.append(f"{name}: no enforced contract, so its columns are not fixed")
        for column in node.get("columns", {}):
            if column.lower() in sensitive:
                leaks.append(f"{name}: has column {column}, marked sensitive in the project")
        code = _sql_without_safe_uses(node.get("compiled_code") or "")
        for column in sorted(sensitive):
            if re.search(rf"\b{re.escape(column)}\b", code, flags=re.I):
                leaks.append(f"{name}: compiled SQL selects {column}, marked sensitive")
    return leaks


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """'postgres': `dbt parse` for a PostgreSQL target (never contacted) with the grants on
    and role names of our own; 'duckdb': `dbt compile` of the aggregate tier on DuckDB with
    the grants on too."""
    work = tmp_path_factory.mktemp("manifests")
    out: dict[str, dict[str, Any]] = {}
    pg_conn = {"host": "127.0.0.1", "port": 1, "user": "nobody", "dbname": "nowhere"}
    duck_conn = {"path": work / "compile.duckdb"}
    for kind, conn, args in (
        ("postgres", pg_conn, ["parse"]),
        ("duckdb", duck_conn, ["compile", "--select", "config.meta.access_tier:aggregate"]),
    ):
        directory = work / kind
        profiles = directory / "profiles"
        profiles.mkdir(parents=True)
        document = {PROFILE: {"target": "ci", "outputs": {"ci": _output(kind, conn)}}}
        (profiles / "profiles.yml").write_text(yaml.safe_dump(document))
        ref = ProfileRef(profiles, "ci", kind, conn)
        dbt_vars = {
            "grant_marts": True,
            "bi_role": "probe_bi",
            "operator_role": "probe_operator",
            "eraser_role": "probe_eraser",
            "as_of": AS_OF,
        }
        run_dbt(ref, *args, work_dir=directory, dbt_vars=dbt_vars, artifacts=True)
        out[kind] = json.loads((directory / "target" / "manifest.json").read_text())
    return out


def _output(kind: str, conn: dict[str, Any]) -> dict[str, Any]:
    if kind == "duckdb":
        return {"type": "duckdb", "path": str(conn["path"]), "schema": "main", "threads": 1}
    return {"type": "postgres", "password": "", "schema": "public", "threads": 1} | conn


def project_nodes(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["package_name"] == manifest["metadata"]["project_name"]
        and node["resource_type"] in ("model", "seed", "snapshot")
    ]


def test_every_mart_has_a_tier_and_grants_follow_it(
    manifests: dict[str, dict[str, Any]],
) -> None:
    erase = {"delete": ["probe_eraser"], "update": ["probe_eraser"]}  # dbt revokes the rest
    expected = {
        "aggregate": {"select": ["probe_bi", "probe_eraser"], **erase},
        "contact": {"select": ["probe_operator", "probe_eraser"], **erase},
    }
    tiers = {}
    for node in project_nodes(manifests["postgres"]):
        name, tier, grants = node["name"], access_tier(node), node["config"].get("grants")
        if node["fqn"][1:2] == ["marts"]:
            assert tier in expected, f"{name}: meta.access_tier must be aggregate or contact"
            assert grants == expected[tier], f"{name} ({tier}): grants {grants}"
            tiers[name] = tier
        else:
            assert not tier and not grants, f"{name} is not a mart: no tier, no grants"
    for name in AGGREGATE_MARTS:
        assert tiers.get(name) == "aggregate", name
    for name in CONTACT_MARTS:
        assert tiers.get(name) == "contact", name
    # DuckDB has no grants: the same vars give none there (and so no warning).
    assert all(not n["config"].get("grants") for n in project_nodes(manifests["duckdb"]))


def test_no_aggregate_report_exposes_a_sensitive_column(
    manifests: dict[str, dict[str, Any]],
) -> None:
    manifest = manifests["duckdb"]
    sensitive = sensitive_names(manifest)
    assert {"email", "payload", "properties", "raw_text", "contact_id"} <= sensitive
    compiled = [
        n["name"]
        for n in manifest["nodes"].values()
        if access_tier(n) == "aggregate" and n.get("compiled_code")
    ]
    assert sorted(compiled) == sorted(AGGREGATE_MARTS)  # the SQL check really ran
    assert aggregate_leaks(manifest) == []


def test_the_leak_check_catches_a_leak() -> None:
    def model(name: str, tier: str, columns: list[str], sql: str, **meta: Any) -> dict:
        return {
            "resource_type": "model",
            "name": name,
            "config": {"meta": {"access_tier": tier}, "contract": {"enforced": True}},
            "columns": {c: {"name": c, "meta": meta.get(c, {})} for c in columns},
            "compiled_code": sql,
        }

    manifest = {
        "nodes": {
            "a": model("dim_people", "contact", ["email"], "", email={"sensitive": True}),
            "b": model("rpt_ok", "aggregate", ["n"], "select count(distinct email) as n -- email"),
            "c": model("rpt_column", "aggregate", ["email"], "select 1 as email"),
            "d": model("rpt_sql", "aggregate", ["d"], "select split_part(Email, '@', 2) as d"),
        },
        "sources": {
            "s": {"columns": {"Phone": {"name": "Phone", "config": {"meta": {"sensitive": True}}}}}
        },
    }
    manifest["nodes"]["e"] = model("rpt_phone", "aggregate", ["n"], "select max(phone) as n")
    joined = "with k as (\n  select\n    email,\n    x\n  from a\n  group by email, x\n)\n"
    manifest["nodes"]["g"] = model(
        "rpt_keys",
        "aggregate",
        ["n"],
        joined + "select count(*) as n from k join b on k.email = b.email",
    )
    manifest["nodes"]["h"] = model(
        "rpt_renamed",
        "aggregate",
        ["n"],
        "with k as (\n  select\n    email as n\n  from a\n)\nselect n from k",
    )
    manifest["nodes"]["f"] = model("rpt_open", "aggregate", ["n"], "select 1 as n")
    manifest["nodes"]["f"]["config"]["contract"] = {"enforced": False}
    assert sorted(aggregate_leaks(manifest)) == [
        "rpt_column: compiled SQL selects email, marked sensitive",
        "rpt_column: has column email, marked sensitive in the project",
        "rpt_open: no enforced contract, so its columns are not fixed",
        "rpt_phone: compiled SQL selects phone, marked sensitive",
        "rpt_renamed: compiled SQL selects email, marked sensitive",
        "rpt_sql: compiled SQL selects email, marked sensitive",
    ]
