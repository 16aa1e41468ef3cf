r"""Orthogonal RNN in the expRNN style (Lezcano-Casado & Martínez-Rubio, 2019).

.. math::
    h_{t+1} = \operatorname{modReLU}(W h_t + W_{ih} u_t + b_{ih}),\qquad
    W = \exp(A - A^\top),

with :math:`\operatorname{modReLU}(z) = \operatorname{sign}(z)\,
\operatorname{relu}(|z| + b)` applied per unit with a learned bias ``b``
(Arjovsky et al., 2016). The trained parameter is the unconstrained square
matrix ``A``: ``A - Aᵀ`` is skew-symmetric, so its matrix exponential is a
rotation (orthogonal, determinant one) whatever ``A`` is, and plain optax
optimisers keep ``W`` exactly orthogonal (up to rounding in ``expm``).

The output follows the PyTorch-layout cells: ``g(x_t, u_t)`` is h_{t+1}, or
its linear readout.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._types import Input, Key, Output, State
from ._base import float_dtype, params_dtype, uniform
from ._cell import apply_readout, check_sizes, init_readout

INITS = ("henaff", "cayley")
# expRNN draws the modReLU bias from U(-0.01, 0.01): near zero, so modReLU
# starts close to the identity and the orthogonal recurrence is not damped.
MODRELU_BIAS_BOUND = 0.01


class OrthogonalRNNParams(NamedTuple):
    r"""Parameters of h' = modReLU(exp(A - Aᵀ) h + W_ih u + b_ih), ŷ = W_r h' + b_r.

    Attributes:
        recurrent_generator: The unconstrained ``A``, shape `(n, n)`; the
            recurrent matrix is ``expm(A - Aᵀ)``. For a model returned by
            `OrthogonalRNN.prepare`, the recurrent matrix ``W`` itself.
        weight_ih: Input weights, shape `(n, m)`.
        bias_ih: Input bias, shape `(n,)`, or None for a cell without bias.
        modrelu_bias: The modReLU bias ``b``, shape `(n,)`.
        readout_weight: Readout weight, shape `(p, n)`, or None when the output
            is ``h`` itself.
        readout_bias: Readout bias, shape `(p,)`, or None.
    """

    recurrent_generator: Float[Array, "n n"]
    weight_ih: Float[Array, "n m"]
    bias_ih: Float[Array, " n"] | None
    modrelu_bias: Float[Array, " n"]
    readout_weight: Float[Array, "p n"] | None = None
    readout_bias: Float[Array, " p"] | None = None


def modrelu(z: Float[Array, " n"], bias: Float[Array, " n"]) -> Float[Array, " n"]:
    """Return sign(z) relu(|z| + bias), the modReLU of Arjovsky et al. (2016)."""
    return jnp.sign(z) * jax.nn.relu(jnp.abs(z) + bias)


def _block_skew(angles: Float[Array, " k"], n: int) -> Float[Array, "n n"]:
    """Return the upper part of the skew matrix with blocks ``[[0, a], [-a, 0]]``.

    Storing only the upper part as ``A`` makes ``A - Aᵀ`` the block-diagonal skew
    matrix, whose exponential rotates plane ``k`` (units ``2k, 2k+1``) by
    ``angles[k]``; with odd ``n`` the last unit is left fixed.
    """
    superdiag = jnp.zeros((n - 1,), angles.dtype).at[::2].set(angles)
    return jnp.diag(superdiag, k=1)


@dataclasses.dataclass(frozen=True)
class OrthogonalRNN:
    """Orthogonal RNN with an exponential-map parametrisation (expRNN).

    For long rollouts and training, differentiate through `prepare`, which
    computes the matrix exponential once instead of at every step.

    Attributes:
        input_size: Input dimension ``m`` (0 for an autonomous system).
        hidden_size: Hidden and state dimension ``n``.
        readout: Output dimension of a linear readout, or None to output ``h``.
        init_scheme: Initialisation of ``A``, ``"henaff"`` or ``"cayley"``; see
            `init`. (The factory calls it ``init``; the field cannot, since
            ``init`` is the method.)
        bias: Whether the cell has the input bias ``b_ih``.
        prepared: Whether ``params.recurrent_generator`` holds ``W`` itself
            rather than ``A``; set by `prepare`, not by users.
    """

    input_size: int
    hidden_size: int
    readout: int | None = None
    init_scheme: str = "henaff"
    bias: bool = True
    prepared: bool = False

    def __post_init__(self) -> None:  # noqa: D105
        check_sizes(self)
        if self.init_scheme not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init_scheme!r}")

    @property
    def state_size(self) -> int:
        """Dimension ``n`` of the state, the hidden vector ``h``."""
        return self.hidden_size

    @property
    def output_size(self) -> int:
        """Dimension ``p`` of the output."""
        return self.hidden_size if self.readout is None else self.readout

    def init(self, key: Key, *, dtype: Any = None) -> OrthogonalRNNParams:
        r"""Draw parameters; ``A`` is block-diagonal with random 2×2 rotations.

        ``A`` holds the upper entries ``a_k`` of ``n // 2`` skew 2×2 blocks, so
        ``W = expm(A - Aᵀ)`` is block-diagonal with rotations by ``a_k``:

        - ``"henaff"`` (Henaff et al., 2016): ``a_k ~ U(-π, π)``, so the
          eigenvalues ``e^{±i a_k}`` of ``W`` are spread over the whole circle.
        - ``"cayley"`` (Helfrich et al., 2018, as used by expRNN): the
          eigen-angles of the *Cayley transform* ``(I - S)(I + S)⁻¹`` of
          ``S = A - Aᵀ`` are uniform: ``φ_k ~ U(0, π/2)`` and ``a_k = tan(φ_k/2)``,
          since the Cayley transform maps ``±i a`` to ``e^{∓2i arctan a}``. The
          exponential map then rotates by ``a_k ∈ [0, 1]`` radians.

        ``W_ih``, ``b_ih`` and the readout are drawn from ``U(-1/√n, 1/√n)``
        like ``torch.nn.RNN``; the modReLU bias from ``U(-0.01, 0.01)`` as in
        expRNN.

        Args:
            key: PRNG key.
            dtype: Float dtype of the parameters; defaults to JAX's default float.
                (Keyword only.)

        Returns:
            An `OrthogonalRNNParams`.
        """
        dtype = float_dtype(dtype)
        n, m = self.hidden_size, self.input_size
        k = jax.random.split(key, 6)
        if self.init_scheme == "henaff":
            angles = uniform(k[0], (n // 2,), np.pi, dtype)
        else:
            cayley_angles = jax.random.uniform(
                k[0], (n // 2,), dtype, minval=0.0, maxval=np.pi / 2
            )
            angles = jnp.tan(cayley_angles / 2)
        bound = 1.0 / np.sqrt(n)
        a = _block_skew(angles, n)
        if self.prepared:
            a = jax.scipy.linalg.expm(a - a.T)
        readout_weight, readout_bias = init_readout(
            k[4], k[5], self.readout, n, bound, dtype
        )
        return OrthogonalRNNParams(
            recurrent_generator=a,
            weight_ih=uniform(k[1], (n, m), bound, dtype),
            bias_ih=uniform(k[2], (n,), bound, dtype) if self.bias else None,
            modrelu_bias=uniform(k[3], (n,), MODRELU_BIAS_BOUND, dtype),
            readout_weight=readout_weight,
            readout_bias=readout_bias,
        )

    def initial_state(self, params: OrthogonalRNNParams) -> State:
        """Return the zero state, in the dtype of ``params``."""
        return jnp.zeros((self.state_size,), params_dtype(params))

    def recurrent_matrix(self, params: OrthogonalRNNParams) -> Float[Array, "n n"]:
        """Return the orthogonal recurrent matrix ``expm(A - Aᵀ)``, shape `(n, n)`."""
        a = params.recurrent_generator
        return a if self.prepared else jax.scipy.linalg.expm(a - a.T)

    def prepare(
        self, params: OrthogonalRNNParams
    ) -> tuple[OrthogonalRNN, OrthogonalRNNParams]:
        """Return a model and params that hold ``W = expm(A - Aᵀ)`` computed once.

        `f` computes ``W`` from ``A`` on every call: inside ``lax.scan`` that is
        one matrix exponential per step, forward and again in reverse mode
        (measured on a shared CPU for ``n = 128`` and 1000 steps: about 100 s
        per gradient, against 0.04 s prepared). The prepared model reads ``W``
        from ``params.recurrent_generator``, so a step is one matrix-vector
        product. Call ``prepare`` inside the differentiated function, and the
        gradient reaches ``A`` through the single ``expm``::

            def loss(params):
                prepared, p = model.prepare(params)
                return rd.cost(prepared, p, x0, us, ys)

            grads = jax.grad(loss)(params)  # with respect to A

        Never optimise prepared params: the prepared model applies its matrix
        as given, so updates would leave the orthogonal group.

        Args:
            params: Parameters of this model.

        Returns:
            ``(prepared_model, prepared_params)``, same pytree structure and
            shapes as ``params``.
        """
        if self.prepared:
            return self, params
        w = self.recurrent_matrix(params)
        prepared = dataclasses.replace(self, prepared=True)
        return prepared, params._replace(recurrent_generator=w)

    def f(self, params: OrthogonalRNNParams, x: State, u: Input) -> State:
        """Return h_{t+1} = modReLU(W h_t + W_ih u_t + b_ih)."""
        z = self.recurrent_matrix(params) @ x + params.weight_ih @ u
        if params.bias_ih is not None:
            z = z + params.bias_ih
        return modrelu(z, params.modrelu_bias)

    def g(self, params: OrthogonalRNNParams, x: State, u: Input) -> Output:
        """Return h_{t+1} (or its readout), as the PyTorch-layout cells do."""
        return apply_readout(params, self.f(params, x, u))


def ornn(
    input_size: int,
    hidden_size: int,
    *,
    readout: int | None = None,
    init: str = "henaff",
    bias: bool = True,
) -> OrthogonalRNN:
    """Create an orthogonal RNN, W = expm(A - Aᵀ) with a modReLU (expRNN).

    Args:
        input_size: Input dimension ``m``.
        hidden_size: Hidden and state dimension ``n``.
        readout: Output dimension of a linear readout, or None to output ``h``.
            (Keyword only.)
        init: ``"henaff"`` (default) or ``"cayley"``; see `OrthogonalRNN.init`.
            (Keyword only.)
        bias: Whether the cell has the input bias ``b_ih``. (Keyword only.)

    Returns:
        An `OrthogonalRNN`.
    """
    return OrthogonalRNN(input_size, hidden_size, readout, init, bias)
