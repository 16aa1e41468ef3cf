"""The logistic map x' = r x (1 - x), the textbook chaotic system."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import Input, Key, Output, State
from ._base import float_dtype, params_dtype


class LogisticParams(NamedTuple):
    """Parameter of x_{t+1} = r x_t (1 - x_t).

    Attributes:
        r: Growth rate, a scalar; the map is chaotic at ``r = 4`` with Lyapunov
            exponent ``ln 2``.
    """

    r: Float[Array, ""]


@dataclasses.dataclass(frozen=True)
class Logistic:
    """Autonomous logistic map (``input_size = 0``); the output is ``x``.

    Attributes:
        r: Value of ``r`` drawn by `init`.
        x0: Default initial state.
    """

    r: float = 4.0
    x0: float = 0.1

    state_size = 1
    input_size = 0
    output_size = 1

    def init(self, key: Key, *, dtype: Any = None) -> LogisticParams:
        """Return ``r`` as configured; the key is unused (the map has no randomness)."""
        del key
        return LogisticParams(r=jnp.asarray(self.r, float_dtype(dtype)))

    def f(self, params: LogisticParams, x: State, u: Input) -> State:
        """Return r x (1 - x)."""
        del u
        return params.r * x * (1 - x)

    def g(self, params: LogisticParams, x: State, u: Input) -> Output:
        """Return x."""
        del params, u
        return x

    def initial_state(self, params: LogisticParams) -> State:
        """Return ``[x0]``."""
        return jnp.full((1,), self.x0, params_dtype(params))


def logistic(r: float = 4.0, *, x0: float = 0.1) -> Logistic:
    """Create the logistic map x' = r x (1 - x).

    Args:
        r: Growth rate stored by `Logistic.init`. Defaults to 4 (fully chaotic).
        x0: Default initial state. (Keyword only.)

    Returns:
        A `Logistic`.
    """
    return Logistic(r, x0)
