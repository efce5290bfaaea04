"""What a load reads: the PATH arguments (files, globs, directories, '-') and the
temporary directory of a load.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crm_funnel.errors import TerminalError

STDIN_NAME = "<stdin>"
INPUT_SUFFIXES = (".json", ".ndjson", ".jsonl")


TEMP_PREFIX = "funnel-load-"  # + pid + "-": a load's temporary directory (see load_tempdir)


@dataclass
class LoadInput:
    """One load: a file or stdin."""

    display: str  # as shown to the user
    path: Path | None  # None for stdin

    @property
    def source_file(self) -> str:
        if self.path is None:
            return STDIN_NAME
        # a file name that is not valid UTF-8 is shown with backslash escapes
        return os.fsencode(self.path.resolve()).decode("utf-8", "backslashreplace")

    @property
    def size(self) -> int | None:
        if self.path is None:
            return None
        try:
            return self.path.stat().st_size
        except OSError:
            return None


# Concurrent loads share the per-user root and the last one out removes it: creating a
# directory in it is retried this many times when it vanishes in between.
TEMP_ATTEMPTS = 10


def _temp_root() -> Path:
    """``$TMPDIR/crm-funnel-<uid>`` (mode 0700), without the directories of dead loads."""
    root = Path(tempfile.gettempdir()) / f"crm-funnel-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
    except FileNotFoundError:  # another load removed the empty root just then: retried
        raise
    except OSError as exc:
        raise TerminalError(f"cannot create {root}: {exc.strerror or exc}; set TMPDIR") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise TerminalError(f"{root} is not a directory of this user; remove it or set TMPDIR")
    for stale in root.glob(f"{TEMP_PREFIX}*"):
        pid = stale.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return root


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (a pid reused)
        return True
    return True


@contextlib.contextmanager
def load_tempdir() -> Iterator[Path]:
    """A load's temporary directory, removed on the way out.

    A killed load cannot remove its own, so the next load removes every directory whose
    process is gone (they are named by process id). The per-user root goes when empty.
    """
    prefix = f"{TEMP_PREFIX}{os.getpid()}-"
    for _ in range(TEMP_ATTEMPTS):
        try:
            root = _temp_root()
            tmp = tempfile.mkdtemp(prefix=prefix, dir=root)
            break
        except FileNotFoundError:  # another load removed the empty root just then
            continue
    else:
        raise TerminalError(
            f"cannot create a directory in {tempfile.gettempdir()}: other loads kept "
            "removing it; retry or set TMPDIR"
        )
    try:
        yield Path(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()  # only when empty: the last load out leaves nothing behind


def open_input(path: Path, display: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise TerminalError(f"cannot read {display}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- paths


def has_input_suffix(name: str, suffixes: tuple[str, ...] = INPUT_SUFFIXES) -> bool:
    name = name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(suffixes)


def _dir_files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and has_input_suffix(p.name, suffixes)
    )


def expand_paths(paths: list[str], suffixes: tuple[str, ...] = INPUT_SUFFIXES) -> list[LoadInput]:
    """Turn the PATH arguments into loads (files, globs, directories, '-'); directories
    are searched for files ending in one of ``suffixes`` (or that plus .gz)."""
    import glob

    inputs: list[LoadInput] = []
    for arg in paths:
        if arg == "-":
            inputs.append(LoadInput(STDIN_NAME, None))
            continue
        path = Path(arg).expanduser()
        if path.is_dir():
            found = _dir_files(path, suffixes)
            if not found:
                raise TerminalError(
                    f"directory {arg} has no {'/'.join(suffixes)}(.gz) files; "
                    "pass the files or another directory"
                )
            inputs.extend(LoadInput(str(p), p) for p in found)
        elif path.is_file():
            inputs.append(LoadInput(arg, path))
        elif path.exists():
            raise TerminalError(f"{arg} is not a regular file; pass files or directories")
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
            files: list[Path] = []
            for match in matches:
                m = Path(match)
                if m.is_dir():
                    files.extend(_dir_files(m, suffixes))
                elif m.is_file():
                    files.append(m)
            if not files:
                raise TerminalError(f"no files match {arg}; check the pattern and directory")
            inputs.extend(LoadInput(str(p), p) for p in files)
        else:
            raise TerminalError(f"no such file or directory: {arg}; check the path")
    return inputs


CSV_SUFFIXES = (".csv",)  # and .csv.gz: the sheets of funnel-load --kind

# --------------------------------------------------------------------------- paths


def is_csv_path(arg: str) -> bool:
    """Whether a PATH argument names a CSV file (used to catch a forgotten --kind)."""
    return has_input_suffix(arg, CSV_SUFFIXES)


def expand_csv_paths(paths: list[str]) -> list[LoadInput]:
    """Turn the PATH arguments of a --kind load into loads (files, globs, directories)."""
    return expand_paths(paths, CSV_SUFFIXES)


class StdinCopy(LoadInput):
    """stdin, copied to a temporary file: a sheet is read twice (header check, then load)."""

    @property
    def source_file(self) -> str:
        return STDIN_NAME


@contextlib.contextmanager
def spooled_stdin(stdin: IO[bytes] | None = None) -> Iterator[StdinCopy]:
    with load_tempdir() as tmp:
        path = tmp / "stdin.csv"
        try:
            with open(path, "wb") as out:
                shutil.copyfileobj(stdin or sys.stdin.buffer, out, 1 << 20)
        except OSError as exc:
            raise TerminalError(f"cannot read {STDIN_NAME}: {exc.strerror or exc}") from None
        yield StdinCopy(STDIN_NAME, path)
