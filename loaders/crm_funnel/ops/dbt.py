"""Running dbt and reading what it says: finding it, ``--vars``, its artifacts, its errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from crm_funnel.errors import TerminalError
from crm_funnel.warehouse.connections import one_line


def read_yaml_mapping(path: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TerminalError(f"cannot read {path}: {one_line(exc)}") from None
    return document if isinstance(document, Mapping) else {}


def parse_vars(text: str | None) -> dict[str, Any]:
    """``--vars`` as dbt reads it: a YAML mapping (``{name: value, ...}``)."""
    if text is None or not text.strip():
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TerminalError(
            f"--vars is not valid YAML ({one_line(exc)}); "
            "pass a mapping like '{as_of: \"2026-07-01\", mql_score_threshold: 30}'"
        ) from None
    if not isinstance(value, Mapping):
        raise TerminalError(
            f"--vars must be a YAML mapping, not {text.strip()!r}; "
            "pass e.g. '{mql_score_threshold: 30}'"
        )
    return dict(value)


def merged_vars_text(texts: Sequence[str], merged: Mapping[str, Any]) -> str | None:
    """What dbt gets as ``--vars``: the text as given, or the merge of several (later wins)."""
    if not merged:
        return None
    if len(texts) == 1:
        return texts[0]
    return yaml.safe_dump(dict(merged), default_flow_style=True, width=1 << 30).strip()


def find_dbt() -> str:
    """The dbt next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("dbt")
    if found:
        return found
    raise TerminalError("dbt not found next to this Python or on PATH: run make install")


def modified_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def fresh_artifact(path: Path, before: int | None) -> dict[str, Any] | None:
    """The JSON artifact at ``path`` if the step just wrote it, else ``None``."""
    now = modified_ns(path)
    if now is None or now == before:
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def dbt_error(lines: Sequence[str]) -> str:
    """One line out of dbt's output: the error it reports, else its last line."""
    for i, line in enumerate(lines):
        if "Encountered an error" in line:
            block: list[str] = []
            for follow in lines[i + 1 :]:
                text = follow.strip()
                if not text:
                    if block:
                        break
                    continue
                if not text.startswith(">"):
                    block.append(text)
            if block:
                return ": ".join(block[:2])
    for line in reversed(lines):
        text = re.sub(r"^\d\d:\d\d:\d\d\s+", "", line.strip())
        if text.startswith(("Error", "ERROR", "Runtime Error", "Compilation Error")):
            return text
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    return re.sub(r"^\d\d:\d\d:\d\d\s+", "", last) or "no output"


def tool_error(lines: Sequence[str], prog: str) -> str:
    prefix = f"{prog}: error: "
    for line in reversed(lines):
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return next((ln.strip() for ln in reversed(lines) if ln.strip()), "no output")
