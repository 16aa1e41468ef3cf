"""Linear state-space model x' = A x + B u, y = C x + D u."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._types import Input, Key, Output, State
from ._base import float_dtype, params_dtype


class LinearParams(NamedTuple):
    """Matrices of x_{t+1} = a x_t + b u_t, ŷ_t = c x_t + d u_t.

    Attributes:
        a: State matrix, shape `(n, n)`.
        b: Input matrix, shape `(n, m)`.
        c: Output matrix, shape `(p, n)`.
        d: Feed-through matrix, shape `(p, m)`.
    """

    a: Float[Array, "n n"]
    b: Float[Array, "n m"]
    c: Float[Array, "p n"]
    d: Float[Array, "p m"]


@dataclasses.dataclass(frozen=True)
class Linear:
    """Linear time-invariant system; the reference model with closed forms.

    Attributes:
        state_size: State dimension ``n``.
        input_size: Input dimension ``m``.
        output_size: Output dimension ``p``.
        spectral_norm: Spectral norm ‖a‖₂ of the random ``a`` drawn by `init`.
    """

    state_size: int
    input_size: int
    output_size: int
    spectral_norm: float = 0.9

    def init(self, key: Key, *, dtype: Any = None) -> LinearParams:
        """Draw Gaussian matrices, ``a`` rescaled to the requested spectral norm.

        A norm below 1 makes the map a contraction (stable).

        Args:
            key: PRNG key.
            dtype: Float dtype; defaults to JAX's default float. (Keyword only.)

        Returns:
            A `LinearParams`.
        """
        dtype = float_dtype(dtype)
        n, m, p = self.state_size, self.input_size, self.output_size
        ka, kb, kc, kd = jax.random.split(key, 4)
        a = jax.random.normal(ka, (n, n), dtype)
        return LinearParams(
            a=a * (self.spectral_norm / jnp.linalg.norm(a, 2)).astype(dtype),
            b=jax.random.normal(kb, (n, m), dtype) / np.sqrt(max(m, 1)).astype(dtype),
            c=jax.random.normal(kc, (p, n), dtype) / np.sqrt(n).astype(dtype),
            d=jax.random.normal(kd, (p, m), dtype) / np.sqrt(max(m, 1)).astype(dtype),
        )

    def f(self, params: LinearParams, x: State, u: Input) -> State:
        """Return a x + b u."""
        return params.a @ x + params.b @ u

    def g(self, params: LinearParams, x: State, u: Input) -> Output:
        """Return c x + d u."""
        return params.c @ x + params.d @ u

    def initial_state(self, params: LinearParams) -> State:
        """Return the zero state."""
        return jnp.zeros((self.state_size,), params_dtype(params))


def linear(
    state_size: int, input_size: int, output_size: int, *, spectral_norm: float = 0.9
) -> Linear:
    """Create a linear state-space model x' = A x + B u, y = C x + D u.

    Args:
        state_size: ``n``.
        input_size: ``m``.
        output_size: ``p``.
        spectral_norm: Spectral norm ‖a‖₂ of the random ``A`` of `Linear.init`.
            (Keyword only.)

    Returns:
        A `Linear`.
    """
    return Linear(state_size, input_size, output_size, spectral_norm)
