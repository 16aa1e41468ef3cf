"""Theorem 1 in one call: measured Lipschitz constants of V and ∇V against N.

Re-exports the bound functions of `rnn_dyn._smoothness` and adds
`measure_smoothness`, which estimates L_f, L_g, L'_f, L'_g on a trajectory,
measures the Lipschitz constants of V and ∇V in a ball for each N, evaluates
the bounds of Theorem 1 with those constants, and classifies the growth.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._lipschitz import cost_smoothness, jacobian_lipschitz, jacobian_norms
from ._simulate import simulate
from ._smoothness import Growth as Growth
from ._smoothness import LossConstants as LossConstants
from ._smoothness import TheoremOneBounds as TheoremOneBounds
from ._smoothness import classify_growth as classify_growth
from ._smoothness import lemma2_constants as lemma2_constants
from ._smoothness import s_curve as s_curve
from ._smoothness import theorem1_bounds as theorem1_bounds
from ._types import Inputs, Params, State
from ._validate import check_finite_params
from .models._base import Model


class SmoothnessReport(NamedTuple):
    """Measured and predicted smoothness of V for several sequence lengths.

    Every measured value is a maximum over sampled points, hence a lower
    bound on the constant it estimates; the bounds are upper bounds.

    Attributes:
        lengths: Sequence lengths N, shape `(k,)`.
        L_f: max ‖[A_t B_t]‖₂ along the trajectory (f in (x, θ) jointly).
        L_f_state: max ‖A_t‖₂, which decides the regime.
        L_g: max ‖[C_t F_t]‖₂.
        L_df: max local Lipschitz constant of [A B] (L'_f).
        L_dg: max local Lipschitz constant of [C F] (L'_g).
        regime: ``"contractive"``, ``"neutral"`` or ``"expanding"``, from L_f_state.
        L_V: Measured Lipschitz constant of V, shape `(k,)`.
        L_V_grad: Measured Lipschitz constant of ∇V, shape `(k,)`.
        bound_L_V: Theorem 1's L_V(N) with the measured constants, `(k,)`.
        bound_L_V_grad: Theorem 1's L'_V(N), `(k,)`.
        growth_L_V: `Growth` of the measured L_V.
        growth_L_V_grad: `Growth` of the measured L'_V.
    """

    lengths: np.ndarray
    L_f: float
    L_f_state: float
    L_g: float
    L_df: float
    L_dg: float
    regime: str
    L_V: np.ndarray
    L_V_grad: np.ndarray
    bound_L_V: np.ndarray
    bound_L_V_grad: np.ndarray
    growth_L_V: Growth
    growth_L_V_grad: Growth


def measure_smoothness(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    *,
    lengths: tuple[int, ...],
    radius: float,
    num_samples: int,
    key: Any,
    regime_tol: float = 1e-4,
) -> SmoothnessReport:
    r"""Measure L_V(N) and L'_V(N), and put them beside Theorem 1's bounds.

    The targets are the model's own outputs at θ (so V(θ) = 0), the loss is
    MSE. L_f, L_g and ‖A‖ are maxima over the whole trajectory; L'_f and L'_g
    over at most 32 of its points. The bounds use R = ‖[θ, x0]‖ + ρ and
    L_y = max_t ‖y_t‖.

    Args:
        model: The model.
        params: Parameters θ.
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N_max, m)`, N_max ≥ max(lengths).
        lengths: Sequence lengths, at least three. (Keyword only.)
        radius: Radius ρ of the ball around (θ, x0). (Keyword only.)
        num_samples: Samples in the ball per length. (Keyword only.)
        key: PRNG key. (Keyword only.)
        regime_tol: ‖A‖ within this of 1 counts as neutral. (Keyword only.)

    Returns:
        A `SmoothnessReport`.

    Raises:
        ValueError: For bad lengths or radius, non-finite parameters, or a
            non-finite trajectory at θ.
    """
    lengths = tuple(sorted(set(lengths)))
    if len(lengths) < 3:
        raise ValueError(f"lengths must hold at least 3 distinct values, got {lengths}")
    check_finite_params(params)
    k_norm, k_dnorm, k_cost = jax.random.split(key, 3)
    xs, ys = simulate(model, params, x0, us)
    if not (bool(jnp.all(jnp.isfinite(xs))) and bool(jnp.all(jnp.isfinite(ys)))):
        raise ValueError("the trajectory at θ is not finite; use shorter lengths")
    norms = jacobian_norms(model, params, xs, us, key=k_norm).max()
    step = max(1, xs.shape[0] // 32)
    lip_df, lip_dg = jacobian_lipschitz(
        model, params, xs[::step], us[::step], key=k_dnorm
    )
    measured = cost_smoothness(
        model,
        params,
        x0,
        us,
        ys,
        lengths=lengths,
        radius=radius,
        num_samples=num_samples,
        key=k_cost,
    )
    flat = jax.flatten_util.ravel_pytree((params, x0))[0]
    bounds = theorem1_bounds(
        float(norms.f_joint),
        float(norms.g_joint),
        float(jnp.max(lip_df)),
        float(jnp.max(lip_dg)),
        n_max=max(lengths),
        constants=lemma2_constants("mse", model.output_size),
        target_bound=float(jnp.max(jnp.linalg.norm(ys, axis=1))),
        radius=float(jnp.linalg.norm(flat)) + radius,
    )
    n = np.asarray(lengths)
    a_norm = float(norms.f_state)
    if a_norm < 1 - regime_tol:
        regime = "contractive"
    elif a_norm <= 1 + regime_tol:
        regime = "neutral"
    else:
        regime = "expanding"
    L_V = np.asarray(measured.L_V, float)
    L_V_grad = np.asarray(measured.L_V_grad, float)
    return SmoothnessReport(
        lengths=n,
        L_f=float(norms.f_joint),
        L_f_state=a_norm,
        L_g=float(norms.g_joint),
        L_df=float(jnp.max(lip_df)),
        L_dg=float(jnp.max(lip_dg)),
        regime=regime,
        L_V=L_V,
        L_V_grad=L_V_grad,
        bound_L_V=bounds.L_V[n - 1],
        bound_L_V_grad=bounds.L_V_grad[n - 1],
        growth_L_V=classify_growth(n, L_V),
        growth_L_V_grad=classify_growth(n, L_V_grad),
    )
