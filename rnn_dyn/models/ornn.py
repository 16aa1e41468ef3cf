r"""Orthogonal RNN in the expRNN style (Lezcano-Casado & Martínez-Rubio, 2019).

.. math::
    h_{t+1} = \operatorname{modReLU}(W h_t + W_{ih} u_t + b_{ih}),\qquad
    W = \exp(S(A)),

with :math:`\operatorname{modReLU}(z) = \operatorname{sign}(z)\,
\operatorname{relu}(|z| + b)` applied per unit with a learned bias ``b``
(Arjovsky et al., 2016). The trained parameter is the unconstrained square
matrix ``A``; ``S(A)`` is skew-symmetric, so its matrix exponential is a
rotation (orthogonal, determinant one) whatever ``A`` is, and plain optax
optimisers keep ``W`` exactly orthogonal (up to rounding in ``expm``).

Two variants (`OrthogonalRNN.variant`) differ in ``S`` and in the input layer:

- ``"rnn_dyn"`` (default): ``S = A - Aᵀ`` from the whole of ``A``, an input
  bias ``b_ih``, and ``W_ih ~ U(±1/√n)``.
- ``"authors"``: the expRNN code used for the paper (antonior92/expRNN
  @000bafc, ``orthogonal.py``): ``S = triu(A, 1) - triu(A, 1)ᵀ`` from the
  strict upper triangle only (the diagonal and lower triangle of ``A`` are
  dead), no input bias, and Kaiming-normal input weights for a ReLU,
  ``W_ih ~ N(0, 2/m)``.

Both start from the same ``A`` and hence the same ``W``, and at the same ``S``
they give the same gradient on the upper entries of ``A``. In ``"rnn_dyn"`` the
lower triangle also gets a gradient, minus the transpose of the upper one, so an
SGD or Adam step (Adam's update is odd in the gradient) moves both triangles and
``S = A - Aᵀ`` moves **twice** as far as in ``"authors"`` for the same learning
rate. Run with SGD or Adam, ``"rnn_dyn"`` at learning rate η on ``A``
follows the authors' trajectory of ``W`` at 2η on ``A``, to rounding. The two
are not equivalent under global-norm clipping: at the same ``S`` the
``"rnn_dyn"`` gradient of ``A`` is √2 times longer, so the clipped norm differs.

The authors' cell multiplies row vectors, ``h B`` with ``B = expm(S)``, which is
``Bᵀ h = expm(-S) h`` in the column layout used here. That is this module's
``W`` at ``-A``, and SGD and Adam trajectories map onto each other under
``A ↦ -A``, as does the symmetric Henaff draw. So the dynamics are the same,
but a raw ``A`` read from one of their checkpoints must be negated.

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
VARIANTS = ("rnn_dyn", "authors")
# expRNN draws the modReLU bias from U(-0.01, 0.01): near zero, so modReLU
# starts close to the identity and the orthogonal recurrence is not damped.
MODRELU_BIAS_BOUND = 0.01


class OrthogonalRNNParams(NamedTuple):
    r"""Parameters of h' = modReLU(exp(S(A)) h + W_ih u + b_ih), ŷ = W_r h' + b_r.

    Attributes:
        recurrent_generator: The unconstrained ``A``, shape `(n, n)`; the
            recurrent matrix is ``expm(S(A))``, with ``S`` set by
            `OrthogonalRNN.variant`. For a model returned by
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

    Storing only the upper part as ``A`` makes ``S(A)`` (either variant) the
    block-diagonal skew matrix, whose exponential rotates plane ``k`` (units
    ``2k, 2k+1``) by ``angles[k]``; with odd ``n`` the last unit is left fixed.
    """
    superdiag = jnp.zeros((n - 1,), angles.dtype).at[::2].set(angles)
    return jnp.diag(superdiag, k=1)


@dataclasses.dataclass(frozen=True)
class OrthogonalRNN:
    """Orthogonal RNN with an exponential-map parametrisation (expRNN).

    ``W = expm(S(A))``, with ``S(A) = A - Aᵀ`` (``variant="rnn_dyn"``) or
    ``triu(A, 1) - triu(A, 1)ᵀ`` (``"authors"``, the expRNN code of the paper,
    which has no input bias and Kaiming-normal input weights). At the same
    learning rate, an SGD or Adam step moves ``S`` twice as far in the first:
    see the module docstring.

    For long rollouts and training, differentiate through `prepare`, which
    computes the matrix exponential once instead of at every step.

    Attributes:
        input_size: Input dimension ``m`` (0 for an autonomous system).
        hidden_size: Hidden and state dimension ``n``.
        readout: Output dimension of a linear readout, or None to output ``h``.
        init_scheme: Initialisation of ``A``, ``"henaff"`` or ``"cayley"``; see
            `init`. (The factory calls it ``init``; the field cannot, since
            ``init`` is the method.)
        bias: Whether the cell has the input bias ``b_ih``; must be False for
            ``variant="authors"``.
        variant: ``"rnn_dyn"`` or ``"authors"`` (`VARIANTS`): the skew matrix
            ``S(A)`` and the input layer, as in the module docstring.
        prepared: Whether ``params.recurrent_generator`` holds ``W`` itself
            rather than ``A``; set by `prepare`, not by users.
    """

    input_size: int
    hidden_size: int
    readout: int | None = None
    init_scheme: str = "henaff"
    bias: bool = True
    variant: str = "rnn_dyn"
    prepared: bool = False

    def __post_init__(self) -> None:  # noqa: D105
        check_sizes(self)
        if self.init_scheme not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init_scheme!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.variant == "authors" and self.bias:
            raise ValueError("variant 'authors' has no input bias: use bias=False")

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

        ``A`` holds the upper entries ``a_k`` of ``n // 2`` skew 2×2 blocks (and
        zeros elsewhere), so in both variants ``W = expm(S(A))`` is
        block-diagonal with rotations by ``a_k``:

        - ``"henaff"`` (Henaff et al., 2016): ``a_k ~ U(-π, π)``, so the
          eigenvalues ``e^{±i a_k}`` of ``W`` are spread over the whole circle.
        - ``"cayley"`` (Helfrich et al., 2018, as used by expRNN): the
          eigen-angles of the *Cayley transform* ``(I - S)(I + S)⁻¹`` of
          ``S = S(A)`` are uniform: ``φ_k ~ U(0, π/2)`` and ``a_k = tan(φ_k/2)``,
          since the Cayley transform maps ``±i a`` to ``e^{∓2i arctan a}``. The
          exponential map then rotates by ``a_k ∈ [0, 1]`` radians. (The paper's
          code always uses ``"henaff"``.)

        ``"rnn_dyn"``: ``W_ih`` and ``b_ih`` are drawn from ``U(-1/√n, 1/√n)``
        like ``torch.nn.RNN``. ``"authors"``: ``W_ih ~ N(0, 2/m)``, PyTorch's
        ``kaiming_normal_`` for a ReLU (fan-in ``m``), and no ``b_ih``. In both,
        the readout is drawn from ``U(-1/√n, 1/√n)`` like ``torch.nn.Linear``,
        and the modReLU bias from ``U(-0.01, 0.01)`` as in expRNN.

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
            a = jax.scipy.linalg.expm(self._skew(a))
        if self.variant == "authors":
            # max(m, 1): an autonomous cell (m = 0) draws nothing.
            std = np.sqrt(2.0 / max(m, 1))
            weight_ih = std * jax.random.normal(k[1], (n, m), dtype)
        else:
            weight_ih = uniform(k[1], (n, m), bound, dtype)
        readout_weight, readout_bias = init_readout(
            k[4], k[5], self.readout, n, bound, dtype
        )
        return OrthogonalRNNParams(
            recurrent_generator=a,
            weight_ih=weight_ih,
            bias_ih=uniform(k[2], (n,), bound, dtype) if self.bias else None,
            modrelu_bias=uniform(k[3], (n,), MODRELU_BIAS_BOUND, dtype),
            readout_weight=readout_weight,
            readout_bias=readout_bias,
        )

    def initial_state(self, params: OrthogonalRNNParams) -> State:
        """Return the zero state, in the dtype of ``params``."""
        return jnp.zeros((self.state_size,), params_dtype(params))

    def _skew(self, a: Float[Array, "n n"]) -> Float[Array, "n n"]:
        """Return the skew matrix ``S(A)`` of this variant."""
        if self.variant == "authors":
            a = jnp.triu(a, 1)
        return a - a.T

    def recurrent_matrix(self, params: OrthogonalRNNParams) -> Float[Array, "n n"]:
        """Return the orthogonal recurrent matrix ``expm(S(A))``, shape `(n, n)`."""
        a = params.recurrent_generator
        return a if self.prepared else jax.scipy.linalg.expm(self._skew(a))

    def prepare(
        self, params: OrthogonalRNNParams
    ) -> tuple[OrthogonalRNN, OrthogonalRNNParams]:
        """Return a model and params that hold ``W = expm(S(A))`` computed once.

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
    bias: bool | None = None,
    variant: str = "rnn_dyn",
) -> OrthogonalRNN:
    """Create an orthogonal RNN, W = expm(S(A)) with a modReLU (expRNN).

    Args:
        input_size: Input dimension ``m``.
        hidden_size: Hidden and state dimension ``n``.
        readout: Output dimension of a linear readout, or None to output ``h``.
            (Keyword only.)
        init: ``"henaff"`` (default) or ``"cayley"``; see `OrthogonalRNN.init`.
            (Keyword only.)
        bias: Whether the cell has the input bias ``b_ih``. Defaults to True for
            ``"rnn_dyn"`` and False for ``"authors"``, which has none.
            (Keyword only.)
        variant: ``"rnn_dyn"`` (default, ``S = A - Aᵀ``) or ``"authors"``
            (``S = triu(A, 1) - triu(A, 1)ᵀ``, the expRNN code of the paper); see
            `OrthogonalRNN`. (Keyword only.)

    Returns:
        An `OrthogonalRNN`.

    Raises:
        ValueError: If ``variant`` or ``init`` is unknown, a size is invalid, or
            ``bias=True`` is asked of ``variant="authors"``.
    """
    if bias is None:
        bias = variant != "authors"
    return OrthogonalRNN(
        input_size,
        hidden_size,
        readout=readout,
        init_scheme=init,
        bias=bias,
        variant=variant,
    )
