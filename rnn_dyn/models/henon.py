"""The Hénon map (x, y) -> (1 - a x² + y, b x)."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import Input, Key, Output, State
from ._base import float_dtype, params_dtype


class HenonParams(NamedTuple):
    """Parameters of the Hénon map.

    Attributes:
        a: Scalar; 1.4 in Hénon's chaotic regime.
        b: Scalar; 0.3 in Hénon's chaotic regime (the Jacobian determinant is -b).
    """

    a: Float[Array, ""]
    b: Float[Array, ""]


@dataclasses.dataclass(frozen=True)
class Henon:
    """Autonomous Hénon map (``input_size = 0``); the output is the first coordinate.

    Attributes:
        a: Value of ``a`` returned by `init`.
        b: Value of ``b`` returned by `init`.
    """

    a: float = 1.4
    b: float = 0.3

    state_size = 2
    input_size = 0
    output_size = 1

    def init(self, key: Key, *, dtype: Any = None) -> HenonParams:
        """Return ``(a, b)`` as configured; the key is unused."""
        del key
        dtype = float_dtype(dtype)
        return HenonParams(a=jnp.asarray(self.a, dtype), b=jnp.asarray(self.b, dtype))

    def f(self, params: HenonParams, x: State, u: Input) -> State:
        """Return (1 - a x₁² + x₂, b x₁)."""
        del u
        return jnp.stack([1 - params.a * x[0] ** 2 + x[1], params.b * x[0]])

    def g(self, params: HenonParams, x: State, u: Input) -> Output:
        """Return the first coordinate."""
        del params, u
        return x[:1]

    def initial_state(self, params: HenonParams) -> State:
        """Return (0.1, 0.1), inside the basin of the Hénon attractor."""
        return jnp.full((2,), 0.1, params_dtype(params))


def henon(a: float = 1.4, b: float = 0.3) -> Henon:
    """Create the Hénon map (x, y) -> (1 - a x² + y, b x).

    Args:
        a: Defaults to Hénon's 1.4.
        b: Defaults to Hénon's 0.3.

    Returns:
        A `Henon`.
    """
    return Henon(a, b)
