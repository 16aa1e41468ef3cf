"""Worked examples from the paper."""

from .chaotic_lstm import chaotic_lstm as chaotic_lstm
