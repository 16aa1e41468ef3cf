"""The one place where a command's result becomes files and a printed line.

A command fills a `Report` with arrays (``.npz``), figures (skipped with
``--no-plot``) and a summary; nothing is written until `Report.finish`,
which writes them as one set: into a staging directory inside ``--out``,
each file flushed to disk, then moved into place with the summary last (its
``files`` list names the set). A command that fails or is interrupted before
`finish` leaves ``--out`` as it was; one whose inputs are bad creates no
directory. JSON is strict: non-finite numbers are written as ``null``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._io import (
    check_out_dir,
    pending,
    prepare_out_dir,
    save_json,
    save_npz,
    to_json,
)


class Report:
    """The outputs of one command, written into ``--out`` by `finish`.

    Args:
        args: The parsed arguments (``out``, ``json``, ``no_plot``).
        name: Stem of the summary file, ``NAME.json``.

    Raises:
        ValueError: If ``--out`` cannot be a writable directory (checked
            now, created only by `finish`).
    """

    def __init__(self, args: argparse.Namespace, name: str):
        self.args, self.name = args, name
        self.out = check_out_dir(args.out)
        self._arrays: dict[str, dict[str, Any]] = {}
        self._figures: dict[str, Callable[[], Any]] = {}

    def arrays(self, filename: str, **arrays: Any) -> None:
        """Save ``arrays`` as ``OUT/filename``."""
        self._arrays[filename] = arrays

    def figure(self, filename: str, draw: Callable[[], Any]) -> None:
        """Save the figure ``draw()`` returns (a Figure or Axes), unless --no-plot.

        ``draw`` runs in `finish`; it may return None to skip the figure
        (nothing finite to draw).
        """
        if not self.args.no_plot:
            self._figures[filename] = draw

    def finish(self, summary: dict[str, Any], line: str) -> int:
        """Write the set (the summary, ``NAME.json``, last), print, return 0."""
        out = prepare_out_dir(self.out)
        make = lambda: Path(tempfile.mkdtemp(prefix=".rnn_dyn-staging-", dir=out))
        with pending(make) as staging:
            try:
                names = self._write(staging, summary)
                summary["files"] = [str(out / n) for n in names]
                save_json(staging / names[-1], summary)
                for n in names:  # the summary last
                    os.replace(staging / n, out / n)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        emit(self.args, summary, f"{line}; wrote {out}")
        return 0

    def _write(self, staging: Path, summary: dict[str, Any]) -> list[str]:
        """Write arrays and figures into ``staging``; return the names of the set."""
        from .. import plotting

        names = []
        for filename, arrays in self._arrays.items():
            names.append(save_npz(staging / filename, **arrays).name)
        for filename, draw in self._figures.items():
            drawn = draw()
            if drawn is not None:
                figure = getattr(drawn, "figure", drawn)
                names.append(plotting.save_figure(figure, staging / filename).name)
        return [*names, f"{self.name}.json"]


def emit(args: argparse.Namespace, summary: dict[str, Any], line: str) -> None:
    """Print ``summary`` as one strict JSON object with ``--json``, else ``line``."""
    print(to_json(summary) if args.json else line)
