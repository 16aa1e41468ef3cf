"""``python -m rnn_dyn`` runs the command-line interface."""

from .cli import entry

entry()
