"""``rnn-dyn``: parse, dispatch to the subcommand, turn errors into exit codes."""

from __future__ import annotations

import os
import signal
import sys
import threading
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
    is one line on stderr with exit code 2; a failure of the machine (a write
    refused, a full disk, memory exhausted) is one line with exit code 1;
    Ctrl-C exits with 130.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # for the checks of which flags were given
    try:
        from . import _commands

        command = getattr(_commands, args.command.replace("-", "_"))
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warning(args.command)
            return command(args)
    except (UsageError, ValueError) as err:
        print(f"rnn-dyn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as err:  # a write that failed, memory gone
        what = "out of memory" if isinstance(err, MemoryError) else err
        print(f"rnn-dyn {args.command}: error: {what}", file=sys.stderr)
        return 1
    except Exception as err:
        if type(err).__name__ != "JaxRuntimeError" or "RESOURCE_EXHAUSTED" not in str(
            err
        ):
            raise
        line = str(err).strip().splitlines()[0]  # XLA could not allocate
        print(f"rnn-dyn {args.command}: error: out of memory: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rnn-dyn {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``rnn-dyn`` program: `main`, with Ctrl-C acted on at once.

    Python runs a signal handler only between bytecodes, and a long XLA call
    is one call: the interrupt would wait for it, and an exit with XLA's
    threads still running can crash in teardown. Here the C-level handler
    wakes a watcher thread instead (`signal.set_wakeup_fd`), which removes
    the files in progress, says "interrupted" and ends the process with exit
    code 130. Every output already written stays whole (atomic writes), and
    a training run resumes from its last finished epoch.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    signal.signal(signal.SIGINT, lambda *_: None)  # the watcher acts
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")

    def watch() -> None:
        while os.read(read_fd, 1) != bytes([signal.SIGINT]):
            pass
        from .._io import remove_pending

        remove_pending()
        print(f"rnn-dyn {command}: interrupted", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)

    threading.Thread(target=watch, daemon=True).start()
    raise SystemExit(main())
