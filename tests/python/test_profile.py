"""Tests of the dbt profile reader used by the loaders (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_funnel.errors import TerminalError
from crm_funnel.warehouse.profile import DuckDBTarget, PostgresTarget, load_target, render_value

PG_PROFILE = """\
crm_funnel:
  target: "{{ env_var('DBT_TARGET', 'dev') }}"
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('CRM_FUNNEL_DUCKDB_PATH', 'crm_funnel.duckdb') }}"
      schema: main
    postgres:
      type: postgres
      host: "{{ env_var('PGHOST', '127.0.0.1') }}"
      port: "{{ env_var('PGPORT', '5432') | as_number }}"
      user: "{{ env_var('PGUSER', 'postgres') }}"
      password: "{{ env_var('PGPASSWORD', '') }}"
      dbname: "{{ env_var('PGDATABASE', 'crm_funnel') }}"
      schema: public
"""

ENV_VARS = (
    "DBT_TARGET",
    "DBT_PROFILES_DIR",
    "CRM_FUNNEL_DUCKDB_PATH",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)


def write(directory: Path, text: str = PG_PROFILE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profiles.yml").write_text(text)
    return directory


def test_env_var_defaults_and_types(tmp_path: Path) -> None:
    profiles = write(tmp_path / "p")
    target = load_target(profiles, "postgres")
    assert isinstance(target, PostgresTarget)
    assert (target.host, target.port, target.user, target.password, target.dbname) == (
        "127.0.0.1",
        5432,
        "postgres",
        "",
        "crm_funnel",
    )
    assert target.profiles_file == profiles / "profiles.yml"

    dev = load_target(profiles)  # the target key renders to its default 'dev'
    assert isinstance(dev, DuckDBTarget)
    assert dev.path == tmp_path / "crm_funnel.duckdb"  # relative to the cwd, like dbt


def test_env_vars_override_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = write(tmp_path / "p")
    monkeypatch.setenv("DBT_TARGET", "postgres")
    monkeypatch.setenv("PGHOST", "db.internal")
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    monkeypatch.setenv("PGDATABASE", "warehouse")
    target = load_target(profiles)
    assert isinstance(target, PostgresTarget)
    assert (target.host, target.port, target.password, target.dbname) == (
        "db.internal",
        6543,
        "s3cret",
        "warehouse",
    )
    assert "s3cret" not in repr(target)
    monkeypatch.setenv("CRM_FUNNEL_DUCKDB_PATH", str(tmp_path / "x" / "w.duckdb"))
    dev = load_target(profiles, "dev")
    assert isinstance(dev, DuckDBTarget) and dev.path == tmp_path / "x" / "w.duckdb"


def test_render_filters() -> None:
    assert render_value("{{ '5432' | as_number }}") == 5432
    assert render_value("{{ '2.5' | as_number }}") == 2.5
    assert render_value("{{ 'true' | as_bool }}") is True
    assert render_value("{{ 'False' | as_bool }}") is False
    assert render_value("{{ 12 | as_text }}") == "12"
    assert render_value("{{ env_var('NOT_SET_ANYWHERE_X', '7') }}") == "7"  # text, not 7
    assert render_value("port-{{ '1' | as_number }}") == "port-1"
    assert render_value({"a": ["{{ '3' | as_number }}", 4]}) == {"a": [3, 4]}


def test_missing_env_var_without_default_names_it(tmp_path: Path) -> None:
    profiles = write(
        tmp_path / "p",
        "crm_funnel:\n  target: ci\n  outputs:\n    ci:\n      type: postgres\n"
        "      host: \"{{ env_var('CRM_REQUIRED_HOST') }}\"\n      user: u\n      dbname: d\n",
    )
    with pytest.raises(TerminalError) as exc:
        load_target(profiles)
    message = str(exc.value)
    assert "CRM_REQUIRED_HOST" in message and str(profiles / "profiles.yml") in message
    assert "\n" not in message


def test_profiles_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one_target = "crm_funnel:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n"
    flag = write(tmp_path / "flag", one_target + "      path: /data/flag.duckdb\n")
    env = write(tmp_path / "env", one_target + "      path: /data/env.duckdb\n")
    write(tmp_path, one_target + "      path: /data/cwd.duckdb\n")  # the cwd
    write(Path.home() / ".dbt", one_target + "      path: /data/home.duckdb\n")

    monkeypatch.setenv("DBT_PROFILES_DIR", str(env))
    assert load_target(flag).path == Path("/data/flag.duckdb")
    assert load_target().path == Path("/data/env.duckdb")
    monkeypatch.delenv("DBT_PROFILES_DIR")
    assert load_target().path == Path("/data/cwd.duckdb")
    (tmp_path / "profiles.yml").unlink()
    assert load_target().path == Path("/data/home.duckdb")


def test_unknown_target_names_the_file_and_the_choices(tmp_path: Path) -> None:
    profiles = write(tmp_path / "p")
    with pytest.raises(TerminalError) as exc:
        load_target(profiles, "prod")
    message = str(exc.value)
    assert "'prod'" in message and str(profiles / "profiles.yml") in message
    assert "available: dev, postgres" in message and "--target" in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (None, "no profiles file at"),
        ("other_project:\n  target: dev\n", "profile 'crm_funnel' not found"),
        ("crm_funnel: [oops\n", "not valid YAML"),
        ("crm_funnel:\n  target: ci\n  outputs:\n    ci: {type: snowflake}\n", "'snowflake'"),
        ("crm_funnel:\n  target: ci\n  outputs:\n    ci: {type: duckdb}\n", "local DuckDB file"),
        ("crm_funnel:\n  outputs:\n    ci: {type: duckdb, path: x}\n", "no 'target' key"),
        (
            "crm_funnel:\n  target: ci\n  outputs:\n    ci: {type: postgres, user: u}\n",
            "no 'host'",
        ),
        (
            "crm_funnel:\n  target: ci\n  outputs:\n    ci: {type: duckdb, path: '{{ x'}\n",
            "bad Jinja",
        ),
    ],
    ids=[
        "no-file",
        "no-profile",
        "bad-yaml",
        "unsupported-type",
        "no-duckdb-path",
        "no-target-key",
        "no-host",
        "bad-jinja",
    ],
)
def test_bad_profiles_are_one_line_terminal_errors(
    tmp_path: Path, text: str | None, needle: str
) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    if text is not None:
        (directory / "profiles.yml").write_text(text)
    with pytest.raises(TerminalError) as exc:
        load_target(directory)
    message = str(exc.value)
    assert needle in message, message
    assert str(directory / "profiles.yml") in message
    assert "\n" not in message
