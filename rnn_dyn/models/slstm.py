r"""Stable LSTM: the LSTM plus the projection of Miller & Hardt (2019).

Ribeiro et al. train a "stable LSTM" (sLSTM) by projecting the weights after
every optimiser step, following Miller & Hardt, "Stable Recurrent Models"
(ICLR 2019). The cell itself is `rnn_dyn.models.LSTM` unchanged; this module
adds `StableLSTM.stabilize`.

Which norm the projection controls
----------------------------------
Write the LSTM without biases, as Miller & Hardt do, with recurrent gate blocks
``W_i, W_f, W_g, W_o`` (each ``(H, H)``, row ``k`` feeding unit ``k``), the
forget-gate input block ``U_f``, and inputs with ``‖u‖∞ ≤ 1``. Since
``‖h‖∞ ≤ 1``, every forget gate is at most ``f∞ = σ(‖W_f‖∞ + ‖U_f‖∞)``, where
``‖W‖∞ = max_k Σ_j |W_kj|`` is the largest *row* sum, and once inside the box
``‖c‖∞ ≤ c∞ = 1/(1 - f∞)`` (from ``c = 0``, say) the cell stays there.
Bounding the state Jacobian ``A = ∂[h', c']/∂[h, c]`` row by row with
``σ' ≤ 1/4`` and ``tanh' ≤ 1`` gives, in the induced ℓ∞ norm (the norm of
Miller & Hardt's contraction argument for the LSTM),

.. math::
    \|A\|_\infty \le λ = f_\infty + \tfrac14\|W_o\|_\infty + \tfrac14\|W_i\|_\infty
        + \|W_g\|_\infty + \tfrac{c_\infty}{4}\|W_f\|_\infty .

The authors' constants are exactly the conditions that make this less than
one: with ``‖W_f‖∞ ≤ 0.155`` and ``‖U_f‖∞ ≤ 0.25``, ``f∞ = σ(0.405) ≈ 0.59989``
and ``1 - f∞ ≈ 0.40011``; then ``‖W_i‖∞, ‖W_o‖∞ ≤ 0.395 < 1 - f∞``,
``‖W_g‖∞ ≤ 0.099 < (1 - f∞)/4 ≈ 0.10003`` and
``‖W_f‖∞ ≤ 0.155 < (1 - f∞)² ≈ 0.16009``, so ``λ ≈ 0.9932``.

The authors' code, however, sums ``|W|`` over dimension 0 of each block of
PyTorch's ``(4H, H)`` ``weight_hh``: over the *output* units, i.e. the L1 norm
of each **column** ``W[:, j]`` (the weights leaving hidden unit ``j``). The
largest column sum is the induced ℓ1 norm ``‖W‖₁ = ‖Wᵀ‖∞``, not ``‖W‖∞``.
Column sums do not bound row sums (``‖W‖∞ ≤ H ‖W‖₁`` is all one gets, equality
when one row carries everything), so **the column projection does not bound
f∞, λ or ‖A‖∞**: an LSTM projected that way can expand in ℓ∞ (the tests build
one with ``‖A‖∞ > 1``). ``norm="linf"`` bounds the row sums instead, which is
Miller & Hardt's condition; ``norm="l1"`` (the default) reproduces the
authors. With the column version the same estimate holds in the norm
``max(‖h‖₁, ‖c‖₁)`` with ℓ1 norms of the blocks, but only at states where every
forget gate is at most ``f∞`` and ``|c| ≤ c∞``, which it does not enforce.

Either way, biases are not projected (neither are they in the authors' code),
and Miller & Hardt's LSTM has none: a positive forget bias raises ``f∞``.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from jaxtyping import Array, Float

from ._cell import CellParams
from .lstm import LSTM

StableLSTMParams = CellParams

# Bounds on the recurrent blocks in PyTorch's gate order (i, f, g, o), and on
# the forget-gate input block; from the authors' code (see the module docstring).
RECURRENT_BOUNDS = (0.395, 0.155, 0.099, 0.395)
FORGET_INPUT_BOUND = 0.25
MODES = ("clip", "authors")
NORMS = ("l1", "linf")


def _project(
    w: Float[Array, "h k"], bound: float, *, mode: str, norm: str
) -> Float[Array, "h k"]:
    """Rescale the columns (``norm="l1"``) or rows (``"linf"``) of ``w`` to a bound."""
    axis = 0 if norm == "l1" else 1
    sums = jnp.sum(jnp.abs(w), axis=axis, keepdims=True)
    # A zero column cannot be scaled up to the bound: it stays zero (the
    # authors' code divides by zero there).
    scale = bound / jnp.where(sums > 0, sums, 1)
    if mode == "clip":
        return jnp.where(sums > bound, w * scale, w)
    return jnp.where(sums > 0, w * scale, w)


@dataclasses.dataclass(frozen=True)
class StableLSTM(LSTM):
    """LSTM (``torch.nn.LSTM`` layout) with Miller & Hardt's projection.

    `f`, `g`, `init`, `state_dict` and `from_state_dict` are `LSTM`'s; call
    `stabilize` on the params after every optimiser step.
    """

    def stabilize(
        self, params: CellParams, *, mode: str = "clip", norm: str = "l1"
    ) -> CellParams:
        r"""Project the weights onto the stable set of Miller & Hardt (2019).

        Bounds the L1 norms of the columns of the recurrent blocks
        ``W_i, W_f, W_g, W_o`` (row blocks of ``weight_hh``, gate order i, f,
        g, o) by 0.395, 0.155, 0.099 and 0.395, and of the forget-gate input
        block (rows ``H:2H`` of ``weight_ih``) by 0.25. A **column** is
        ``W[:, j]`` of one ``(H, H)`` block in PyTorch's layout: the weights
        from hidden unit (or input feature) ``j`` into the ``H`` units of that
        gate, so the largest column sum is the induced ℓ1 norm ``‖W‖₁``; this
        is what the authors' code bounds. ``norm="linf"`` bounds the rows
        instead, the induced ℓ∞ norm ``‖W‖∞`` that Miller & Hardt's contraction
        argument needs (see the module docstring: the column version does
        *not* make the LSTM contractive in ℓ∞). Biases, the other input blocks
        and the readout are left alone. Pure and jit-able; keeps the dtype.

        Args:
            params: LSTM parameters.
            mode: ``"clip"`` (default) rescales only the columns (or rows) whose
                norm exceeds the bound, leaving feasible ones unchanged, so it is
                idempotent (a radial rescaling, not the Euclidean projection onto
                the ℓ1 ball); ``"authors"`` rescales every nonzero one to exactly
                the bound, as the authors' code does. (Keyword only.)
            norm: ``"l1"`` (default, column sums as the authors) or ``"linf"``
                (row sums as Miller & Hardt's ℓ∞ condition). (Keyword only.)

        Returns:
            Projected `CellParams`, same structure and dtype.

        Raises:
            ValueError: If ``mode`` or ``norm`` is not one of the names above.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        h = self.hidden_size
        blocks = [
            _project(params.weight_hh[k * h : (k + 1) * h], bound, mode=mode, norm=norm)
            for k, bound in enumerate(RECURRENT_BOUNDS)
        ]
        w_ih = params.weight_ih
        forget_in = _project(w_ih[h : 2 * h], FORGET_INPUT_BOUND, mode=mode, norm=norm)
        return params._replace(
            weight_hh=jnp.concatenate(blocks),
            weight_ih=jnp.concatenate([w_ih[:h], forget_in, w_ih[2 * h :]]),
        )


def slstm(
    input_size: int,
    hidden_size: int,
    *,
    readout: int | None = None,
    bias: bool = True,
) -> StableLSTM:
    """Create a stable LSTM: `lstm` plus `StableLSTM.stabilize`.

    Same arguments as `lstm`.

    Returns:
        A `StableLSTM`.
    """
    return StableLSTM(input_size, hidden_size, readout, bias)
