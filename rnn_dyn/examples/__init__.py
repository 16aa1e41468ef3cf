"""Worked examples from the paper."""

from .chaotic_lstm import chaotic_lstm as chaotic_lstm
from .regimes import REGIME_SYSTEMS as REGIME_SYSTEMS
from .regimes import regime_example as regime_example
