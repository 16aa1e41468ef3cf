"""Where and with what a result was computed: versions, commit, machine, date.

Standard library only, so that it can be read without importing JAX.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

_SOURCE = Path(__file__).resolve().parent


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Output of ``git ARGS`` in this package's checkout; None outside one."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=_SOURCE, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    found = re.search(r"^model name\s*:\s*(.*)$", text, re.MULTILINE)
    return found.group(1) if found else platform.processor()


def provenance(**extra: Any) -> dict[str, Any]:
    """Versions, git commit (and files changed since), machine and date, with ``extra``.

    ``git_commit`` is None when the package is not run from a git checkout
    (an installed wheel); ``git_changed`` lists the tracked files that
    differ from that commit, so a result from an edited tree says so.
    """
    changed = _git("diff", "--name-only", "HEAD")
    return {
        "rnn_dyn": _version("rnn_dyn"),
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "numpy": _version("numpy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_changed": changed.split() if changed else [],
    } | extra
