"""Read the dbt profile ``crm_funnel`` the way dbt finds and renders it.

The loader and dbt share one ``profiles.yml`` so a connection is configured in one place.

Where the file is looked for (first match wins, like dbt):

1. the ``--profiles-dir`` flag,
2. the ``DBT_PROFILES_DIR`` environment variable,
3. the current directory, if it contains ``profiles.yml``,
4. ``~/.dbt/``.

String values are rendered as Jinja with ``env_var(name, default=None)`` and the filters
``as_number``, ``as_bool`` and ``as_text``. As in dbt, a rendered value stays text unless
the whole value is one expression ending in ``as_number`` or ``as_bool``.

The target is ``--target`` if given, else the profile's ``target`` key.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.nativetypes
import yaml

from crm_funnel.errors import TerminalError

PROFILE_NAME = "crm_funnel"
PROFILES_FILE = "profiles.yml"


@dataclass(frozen=True)
class DuckDBTarget:
    """A DuckDB target: one database file."""

    profiles_file: Path
    target: str
    path: Path
    schema: str = "main"
    type: Literal["duckdb"] = "duckdb"

    def describe(self) -> str:
        return f"DuckDB file {self.path}"


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL target (``password`` is not shown by ``repr``)."""

    profiles_file: Path
    target: str
    host: str
    port: int
    user: str
    password: str
    dbname: str
    schema: str = "public"
    type: Literal["postgres"] = "postgres"

    def __repr__(self) -> str:
        return (
            f"PostgresTarget(target={self.target!r}, host={self.host!r}, port={self.port!r}, "
            f"user={self.user!r}, dbname={self.dbname!r}, schema={self.schema!r})"
        )

    def describe(self) -> str:
        return f"PostgreSQL {self.user}@{self.host}:{self.port}/{self.dbname}"


Target = DuckDBTarget | PostgresTarget


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """``--profiles-dir`` and ``--target``, as every command and dbt take them."""
    parser.add_argument(
        "--profiles-dir",
        metavar="DIR",
        help="directory with profiles.yml (default: $DBT_PROFILES_DIR, ./, ~/.dbt/)",
    )
    parser.add_argument(
        "--target",
        metavar="NAME",
        help="target in the crm_funnel profile (default: the profile's 'target')",
    )


# --------------------------------------------------------------------------- locating


def find_profiles_file(profiles_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the ``profiles.yml`` dbt would use (it may not exist for flag/env dirs)."""
    if profiles_dir:
        return Path(profiles_dir).expanduser() / PROFILES_FILE
    env_dir = os.environ.get("DBT_PROFILES_DIR")
    if env_dir:
        return Path(env_dir).expanduser() / PROFILES_FILE
    cwd_file = Path.cwd() / PROFILES_FILE
    if cwd_file.is_file():
        return cwd_file
    return Path.home() / ".dbt" / PROFILES_FILE


# --------------------------------------------------------------------------- rendering


class _Marker:
    """Result of ``as_number``/``as_bool``/``as_text``: keeps the requested type."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return str(self.value)


class _NumberMarker(_Marker):
    pass


class _BoolMarker(_Marker):
    pass


class _TextMarker(_Marker):
    pass


class _RenderError(Exception):
    pass


def _as_number(value: Any) -> _Marker:
    return _NumberMarker(value)


def _as_bool(value: Any) -> _Marker:
    return _BoolMarker(value)


def _as_text(value: Any) -> _Marker:
    return _TextMarker(value)


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise _RenderError(f"cannot convert {value!r} to a number")
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise _RenderError(f"cannot convert {value!r} to a number") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise _RenderError(f"cannot convert {value!r} to a boolean")


def _concat(nodes: list[Any]) -> Any:
    if len(nodes) == 1 and isinstance(nodes[0], _Marker):
        node = nodes[0]
        if isinstance(node, _NumberMarker):
            return _to_number(node.value)
        if isinstance(node, _BoolMarker):
            return _to_bool(node.value)
        return str(node.value)
    return "".join(str(n) for n in nodes)


def _env_var(name: str, default: Any = None) -> Any:
    value = os.environ.get(name)
    if value is not None:
        return value
    if default is not None:
        return default
    raise _RenderError(f"environment variable {name} is not set and has no default")


def _make_env() -> jinja2.Environment:
    # The native code generator hands us the objects (markers) instead of str()-ing them.
    env = jinja2.nativetypes.NativeEnvironment(undefined=jinja2.StrictUndefined)
    env.globals["env_var"] = _env_var
    env.filters["as_number"] = _as_number
    env.filters["as_bool"] = _as_bool
    env.filters["as_text"] = _as_text
    return env


_ENV = _make_env()


def render_value(value: Any) -> Any:
    """Render one profile value (strings as Jinja; dicts and lists recursively)."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        template = _ENV.from_string(value)
        context = template.new_context({})
        return _concat(list(template.root_render_func(context)))
    if isinstance(value, Mapping):
        return {k: render_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v) for v in value]
    return value


# --------------------------------------------------------------------------- loading


def _render(value: Any, where: str, profiles_file: Path) -> Any:
    try:
        return render_value(value)
    except _RenderError as exc:
        raise TerminalError(f"{profiles_file}: {where}: {exc}; fix profiles.yml") from None
    except jinja2.TemplateError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TerminalError(
            f"{profiles_file}: {where}: bad Jinja ({msg}); fix profiles.yml"
        ) from None


def load_target(
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    profile_name: str = PROFILE_NAME,
) -> Target:
    """Find ``profiles.yml``, pick the profile and target, and return a typed target."""
    profiles_file = find_profiles_file(profiles_dir)
    hint = (
        "copy profiles.yml.example to profiles.yml, or pass --profiles-dir / set DBT_PROFILES_DIR"
    )
    if not profiles_file.is_file():
        raise TerminalError(f"no profiles file at {profiles_file}: {hint}")
    try:
        with open(profiles_file, encoding="utf-8") as fh:
            document = yaml.safe_load(fh)
    except OSError as exc:
        raise TerminalError(f"cannot read {profiles_file}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = " ".join(str(exc).split())
        raise TerminalError(f"{profiles_file} is not valid YAML ({first}); fix it") from None

    if not isinstance(document, Mapping) or not isinstance(document.get(profile_name), Mapping):
        raise TerminalError(
            f"profile '{profile_name}' not found in {profiles_file}: add it "
            "(see profiles.yml.example) or pass --profiles-dir"
        )
    profile = document[profile_name]
    outputs = profile.get("outputs")
    if not isinstance(outputs, Mapping) or not outputs:
        raise TerminalError(
            f"profile '{profile_name}' in {profiles_file} has no outputs: add at least one target"
        )

    if target is None:
        if "target" not in profile:
            raise TerminalError(
                f"profile '{profile_name}' in {profiles_file} has no 'target' key: "
                "add one or pass --target"
            )
        target = str(_render(profile["target"], "target", profiles_file))
    available = ", ".join(str(name) for name in outputs)
    if target not in outputs or not isinstance(outputs[target], Mapping):
        raise TerminalError(
            f"target '{target}' not found in profile '{profile_name}' in {profiles_file} "
            f"(available: {available}): pass --target with one of those or fix profiles.yml"
        )
    config = _render(outputs[target], f"target '{target}'", profiles_file)
    return _typed_target(config, target, profiles_file)


def _typed_target(config: Mapping[str, Any], target: str, profiles_file: Path) -> Target:
    where = f"{profiles_file}: target '{target}'"
    kind = str(config.get("type", "")).strip().lower()

    def required(*keys: str) -> Any:
        for key in keys:
            value = config.get(key)
            if value is not None and value != "":
                return value
        raise TerminalError(f"{where} has no '{keys[0]}': add it to profiles.yml")

    if kind == "duckdb":
        raw_path = str(config.get("path") or "")
        if not raw_path or raw_path == ":memory:" or raw_path.startswith(("md:", "motherduck:")):
            raise TerminalError(
                f"{where}: the loader needs a local DuckDB file in 'path' "
                f"(got {raw_path or 'nothing'!r}); set path: to a file"
            )
        path = Path(raw_path).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path  # dbt-duckdb resolves relative paths against the cwd
        return DuckDBTarget(
            profiles_file=profiles_file,
            target=target,
            path=path,
            schema=str(config.get("schema") or "main"),
        )
    if kind in ("postgres", "postgresql"):
        port_value = config.get("port", 5432)
        try:
            port = int(port_value)
        except (TypeError, ValueError):
            raise TerminalError(f"{where}: port {port_value!r} is not a number") from None
        password = config.get("password", config.get("pass", ""))
        return PostgresTarget(
            profiles_file=profiles_file,
            target=target,
            host=str(required("host")),
            port=port,
            user=str(required("user")),
            password="" if password is None else str(password),
            dbname=str(required("dbname", "database")),
            schema=str(config.get("schema") or "public"),
        )
    raise TerminalError(
        f"{where} has type {kind or 'nothing'!r}; the loader supports duckdb and postgres"
    )
