"""``rnn-dyn``: parse, dispatch to the subcommand, turn errors into exit codes."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ._inputs import UsageError
from ._parser import build_parser


def one_line_warning(command: str) -> Callable[..., None]:
    """Return a `warnings.showwarning` that prints each message once, on one line."""
    seen: set[str] = set()

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        if str(message) not in seen:
            seen.add(str(message))
            print(f"rnn-dyn {command}: warning: {message}", file=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rnn-dyn`` command line; return the exit code.

    A bad argument (`UsageError`, or a `ValueError` from the library's checks)
    is one line on stderr with exit code 2; Ctrl-C exits with 130.
    """
    args = build_parser().parse_args(argv)
    try:
        from . import _commands

        command = getattr(_commands, args.command.replace("-", "_"))
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warning(args.command)
            return command(args)
    except (UsageError, ValueError) as err:
        print(f"rnn-dyn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnn-dyn {args.command}: interrupted", file=sys.stderr)
        return 130
