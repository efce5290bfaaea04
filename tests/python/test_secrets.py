"""Secrets never leak: not into output, logs or build artifacts, nor into the repository.

1. A LOGIN role with a recognisable password (a uuid) owns a fresh database; a profile
   reads the password from ``PGPASSWORD`` like profiles.yml.example does. The real
   ``funnel-load``, ``dbt build`` and ``dbt debug`` run with it, also against a database
   that does not exist (error paths are where connection strings get printed). The
   password must appear in no stdout or stderr, not in ``logs/dbt.log`` and in no file
   under the target path. (The test server trusts 127.0.0.1, so the password is not
   checked, but it flows through dbt and the loader all the same.)
2. No file git would commit assigns a literal credential (see ``credential_findings``).
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml
from conftest import DBT, MODELS_ONLY, PROFILE, REPO_ROOT, ProfileRef, run_dbt, run_funnel_load

# --------------------------------------------------------------------------- 1. no leaks


@pytest.fixture
def secret_login(pg_database: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A LOGIN role with a unique password, owner of the test database: (name, password)."""
    name = f"crm_secret_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4()}"

    def admin(*statements: str, params: Any = None) -> None:
        con = psycopg2.connect(
            host=pg_database["host"],
            port=pg_database["port"],
            user=pg_database["user"],
            dbname=pg_database["dbname"],
        )
        con.autocommit = True
        try:
            with con.cursor() as cur:
                for statement in statements:
                    cur.execute(statement, params)
        finally:
            con.close()

    admin(f"create role {name} login password %s", params=[password])
    admin(f'alter database "{pg_database["dbname"]}" owner to {name}')
    yield name, password
    admin(
        f'alter database "{pg_database["dbname"]}" owner to {pg_database["user"]}',
        f"drop owned by {name} cascade",
        f"drop role {name}",
    )


def dbt_debug(ref: ProfileRef, work: Path) -> subprocess.CompletedProcess[str]:
    """``dbt debug`` (it takes no --target-path; its log goes to the same dbt.log)."""
    command = [str(DBT), "debug", "--project-dir", str(REPO_ROOT), *ref.cli_args()]
    command += ["--log-path", str(work / "logs")]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def files_containing(root: Path, needle: bytes) -> list[str]:
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


def test_the_password_is_never_printed_or_written(
    tmp_path: Path,
    pg_database: dict[str, Any],
    secret_login: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = secret_login
    monkeypatch.setenv("PGPASSWORD", password)
    output = {
        "type": "postgres",
        "host": pg_database["host"],
        "port": int(pg_database["port"]),
        "user": user,
        "password": "{{ env_var('PGPASSWORD') }}",  # no default: dbt needs the variable
        "dbname": pg_database["dbname"],
        "schema": "public",
        "threads": 4,
    }
    outputs = {"ci": output, "missing_db": output | {"dbname": f"{pg_database['dbname']}_no"}}
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    document = {PROFILE: {"target": "ci", "outputs": outputs}}
    (profiles / "profiles.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    work = tmp_path / "work"
    ref = ProfileRef(profiles, "ci", "postgres", pg_database)
    missing = ProfileRef(profiles, "missing_db", "postgres", pg_database)
    events = tmp_path / "events.ndjson"
    events.write_text(
        '{"email": "ann@acme.io", "event_type": "download", "channel": "web",'
        ' "event_time": "2026-03-01T10:00:00Z"}\n'
        '{"email": "bob@acme.io", "event_type": "demo_booked",'
        ' "event_time": "2026-03-02T10:00:00Z"}\nnot json\n',
        encoding="utf-8",
    )

    runs: dict[str, subprocess.CompletedProcess[str]] = {
        "funnel-load": run_funnel_load(*ref.cli_args(), events),
        "funnel-load (missing database)": run_funnel_load(*missing.cli_args(), events),
        "dbt build": run_dbt(
            ref,
            "build",
            *MODELS_ONLY,
            work_dir=work,
            dbt_vars={"as_of": "2026-07-01"},
            artifacts=True,  # the test reads every file dbt writes
        ),
        "dbt debug": dbt_debug(ref, work),
        "dbt debug (missing database)": dbt_debug(missing, work),
    }
    assert runs["funnel-load"].returncode == 0, runs["funnel-load"].stderr
    assert runs["funnel-load (missing database)"].returncode == 2
    assert runs["dbt debug"].returncode == 0, runs["dbt debug"].stdout[-2000:]
    assert runs["dbt debug (missing database)"].returncode != 0
    # the profile with the password was the one used, as that login
    assert f"user: {user}" in runs["dbt debug"].stdout
    assert "All checks passed" in runs["dbt debug"].stdout

    leaks = [
        f"{what} {stream}"
        for what, proc in runs.items()
        for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr))
        if password in text
    ]
    assert (work / "logs" / "dbt.log").is_file()
    assert (work / "target" / "manifest.json").is_file()
    leaks += files_containing(work, password.encode())
    assert not leaks, f"the password appears in: {leaks}"

    # the search itself finds a leak when there is one
    (work / "target" / "canary.txt").write_text(f"password={password}\n")
    assert files_containing(work, password.encode()) == [str(Path("target") / "canary.txt")]


# --------------------------------------------------------------------------- 2. repository

ALLOW = "pragma: allowlist secret"  # the detect-secrets marker, for a deliberate test value
KEY = r"[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key)"
ASSIGNED_QUOTED = re.compile(
    rf"(?i)\b(?P<key>{KEY})[\"']?\s*(?::|=|:=|=>)\s*[rbuf]?(?P<q>[\"'])(?P<value>[^\"'\n]*)(?P=q)"
)
ASSIGNED_BARE = re.compile(rf"(?i)\b(?P<key>{KEY})[\"']?\s*[:=]\s*(?P<value>[^\s\"'#,;)]+)")
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?P<value>[^\s/@'\"]+)@")
ALWAYS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
}
# Short literals ('wrong', 'x') are test values, not credentials: every real service asks
# for 8 characters or more. Templates and references are where a credential should come from.
MIN_LENGTH = 8
PLACEHOLDER = re.compile(r"^(?:\$\w.*|\$\(.*|%\(.*|<[^>]*>|[.*xX_-]*)$")
CODE_FILES = (".py", ".sql", ".jinja", ".j2")


def is_credential(value: str) -> bool:
    value = value.strip()
    templated = "{" in value  # Jinja, f-string or format(): filled in at run time
    return len(value) >= MIN_LENGTH and not templated and not PLACEHOLDER.match(value)


def credential_findings(name: str, text: str) -> list[str]:
    """'file:line: what' for every line that looks like it holds a literal credential."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if ALLOW in line:
            continue
        hits = [m["key"] for m in ASSIGNED_QUOTED.finditer(line) if is_credential(m["value"])]
        if not name.endswith(CODE_FILES):  # in code a bare right-hand side is an expression
            hits += [m["key"] for m in ASSIGNED_BARE.finditer(line) if is_credential(m["value"])]
        hits += ["password in a URL" for m in URL_PASSWORD.finditer(line) if is_credential(m[1])]
        hits += [what for what, pattern in ALWAYS.items() if pattern.search(line)]
        found += [f"{name}:{number}: {hit}" for hit in dict.fromkeys(hits)]
    return found


def committable_files() -> list[Path]:
    """Tracked files, and new files git would add (not ignored)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    names = sorted({name for name in listing.decode().split("\0") if name})
    return [REPO_ROOT / name for name in names if (REPO_ROOT / name).is_file()]


def test_no_credentials_in_the_repository() -> None:
    files = committable_files()
    assert any(path.name == "profiles.yml.example" for path in files)
    findings = []
    for path in files:
        data = path.read_bytes()
        if b"\0" in data[:8192] or len(data) > 2_000_000:
            continue  # binary or data
        name = str(path.relative_to(REPO_ROOT))
        findings += credential_findings(name, data.decode("utf-8", "replace"))
    assert not findings, (
        "literal credentials (use env_var() / environment variables, or mark a deliberate"
        f" test value with '# {ALLOW}'):\n" + "\n".join(findings)
    )


def test_the_credential_check_catches_credentials() -> None:
    pw, tok = "pass" + "word", "api_" + "key"  # so this file holds no finding itself
    value = "Tr0ub4dor-" + "and-3"
    leaks = {
        "a.yml": f"      {pw}: {value}",
        "b.yml": f'      {pw}: "{value}"',
        "c.py": f'connect({pw}="{value}")',
        "d.py": f'SETTINGS = {{"db_{pw}": "{value}"}}',
        "e.md": f"export PG{pw.upper()}={value}",
        "f.env": f"RESEND_{tok.upper()}={value}",
        "g.md": f"postgresql://funnel:{value}@db.example.com/analytics",
        "h.txt": "-----BEGIN RSA PRIVATE " + "KEY-----",
        "i.toml": f"signing_secret = '{value}'",
    }
    for name, line in leaks.items():
        assert credential_findings(name, line), f"missed: {line}"
    fine = {
        "a.yml": f"      {pw}: \"{{{{ env_var('PGPASSWORD', '') }}}}\"",
        "b.md": f"export PG{pw.upper()}=... PGUSER=funnel",
        "c.py": f"connect({pw}=target.{pw}, user=user)",
        "d.py": f'connect({pw}="wrong")',  # too short to be a real one
        "e.sh": f"PG{pw.upper()}=${{SECRET_FROM_VAULT}} dbt build",
        "f.md": "postgresql://funnel:${PGPASSWORD}@db.example.com/analytics",
        "g.py": f'{tok} = "{value}"  # {ALLOW}',
        "h.py": f'{pw} = os.environ["PG{pw.upper()}"]',
        "i.yml": f"      {pw}: <your {pw}>",
    }
    for name, line in fine.items():
        assert not credential_findings(name, line), f"false alarm: {line}"
