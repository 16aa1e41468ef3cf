"""The ``rnn-dyn`` command line: a thin front end over the public API.

- `_parser`: the argparse parser (no JAX, so ``rnn-dyn --help`` is instant);
- `_inputs`: flags to library objects (system, model, input, `TrainConfig`);
- `_commands`: one short function per subcommand, calling the library;
- `_report`: the one place where a result becomes ``.npz``, PNG, JSON and the
  printed line;
- `_main`: dispatch and exit codes (bad input: one line, exit 2; Ctrl-C: 130).
"""

from ._main import entry as entry
from ._main import main as main
from ._parser import build_parser as build_parser

__all__ = ["build_parser", "entry", "main"]
