"""The one place where a command's result becomes files and a printed line.

A command fills a `Report`: arrays (``.npz``), figures (skipped with
``--no-plot``) and a JSON summary; `Report.finish` writes the summary with
the list of files, then prints either the summary (``--json``) or one line.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Report:
    """The outputs of one command, written into ``--out``.

    Args:
        args: The parsed arguments (``out``, ``json``, ``no_plot``).
        name: Stem of the summary file, ``NAME.json``.
    """

    def __init__(self, args: argparse.Namespace, name: str):
        from .._io import prepare_out_dir

        self.args, self.name = args, name
        self.out = prepare_out_dir(args.out)
        self.files: list[Path] = []

    def arrays(self, filename: str, **arrays: Any) -> None:
        """Save ``arrays`` to ``OUT/filename`` (atomically)."""
        from .._io import save_npz

        self.files.append(save_npz(self.out / filename, **arrays))

    def figure(self, filename: str, draw: Callable[[], Any]) -> None:
        """Save the figure ``draw()`` returns (a Figure or Axes), unless --no-plot.

        ``draw`` may return None to skip the figure (nothing finite to draw).
        """
        if self.args.no_plot:
            return
        from .. import plotting

        drawn = draw()
        if drawn is not None:
            figure = getattr(drawn, "figure", drawn)
            self.files.append(plotting.save_figure(figure, self.out / filename))

    def finish(self, summary: dict[str, Any], line: str) -> int:
        """Write ``NAME.json`` (``summary`` and the files), print, return 0."""
        from .._io import save_json

        summary_file = self.out / f"{self.name}.json"
        summary["files"] = [str(f) for f in [*self.files, summary_file]]
        save_json(summary_file, summary)
        emit(self.args, summary, f"{line}; wrote {self.out}")
        return 0


def emit(args: argparse.Namespace, summary: dict[str, Any], line: str) -> None:
    """Print ``summary`` as one JSON object with ``--json``, else ``line``."""
    print(json.dumps(summary) if args.json else line)
