"""Worked examples from the paper, and every built-in system by name.

The names below are the one registry of built-in models and systems: the
command line offers them as choices, `rnn_dyn.train` trains the cells, and
`system` / `random_model` build them. They are plain tuples, free of JAX, so
that ``rnn-dyn --help`` stays instant; the builders load on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

# Trainable recurrent cells, `rnn_dyn.models` factories ``f(m, hidden, readout=p)``.
CELLS = ("lstm", "gru", "rnn", "ornn", "slstm")
# Systems with fixed weights: the chaotic LSTM of Appendix C, the logistic and
# Hénon maps, and a random linear map of spectral radius 0.9.
SYSTEMS = ("chaotic-lstm", "logistic", "henon", "linear")
# One system per regime of Theorem 1 (`regime_example`).
REGIMES = ("contractive", "neutral", "chaotic-lstm")
# What ``--model`` names: the chaotic LSTM, a cell, or a map, with random or
# loaded weights (`random_model`).
MODELS = ("chaotic-lstm", *CELLS, "linear", "logistic", "henon")

_LAZY = {
    "chaotic_lstm": "._chaotic_lstm",
    "regime_example": "._regimes",
    "cell": "._systems",
    "system": "._systems",
    "random_model": "._systems",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'rnn_dyn.examples' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


if TYPE_CHECKING:
    from ._chaotic_lstm import chaotic_lstm as chaotic_lstm
    from ._regimes import regime_example as regime_example
    from ._systems import cell as cell
    from ._systems import random_model as random_model
    from ._systems import system as system
