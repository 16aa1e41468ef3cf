r"""The bounds of Theorem 1 (supplement B.3-B.4) as functions of N.

Given Lipschitz constants L_f, L_g of f and g in (x, θ), L'_f, L'_g of their
Jacobians, the constants of Lemma 2 for the loss, a bound L_y on the targets
and the radius R of the region Ω of (θ, x0):

.. math::
    S(t) = \sqrt{\textstyle\sum_{ℓ=0}^{t} L_f^{2ℓ}}, \quad
    M(t) = L_g S(t) R, \quad
    L_V(N) = \frac{1}{N}\sum_{t=1}^{N} (K_1 L_y + K_2 M(t) + K_0)\, L_g S(t),

    T(t) = K_4 (L'_g M(t) + L_g^2),\quad
    P(t, ℓ) = L_f^{t-ℓ}\big(L_g L'_f \textstyle\sum_{j=ℓ}^{t} S(j) + L_f L'_g S(t)\big),

    Q(t, ℓ) = L_f^{t-ℓ}\big(K_4 M(t) L_g L'_f \textstyle\sum_{j=ℓ}^{t} S(j)
              + L_f T(t) S(t)\big),

    L_{J,t} = \textstyle\sum_{ℓ=1}^{t} P(t, ℓ) + L'_g S(t),\quad
    L_{J,\hat y,t} = \textstyle\sum_{ℓ=1}^{t} Q(t, ℓ) + T(t) S(t),

    L'_V(N) = \frac{1}{N}\sum_{t=1}^{N} (K_3 L_y L_{J,t} + L_{J,\hat y,t}).

M(t) follows the supplement's footnote 4 (an invariant set at the origin,
f(0, u; 0) = 0, as for bias-free cells): ‖ŷ_t‖ ≤ L_g S(t) ‖[θ, x0]‖ ≤ L_g S(t) R.
K_0 is our addition, see `lemma2_constants`.

Asymptotics in N (the main paper's Eq. (6) and (7), which our copy lacks),
derived from these definitions: if L_f < 1, S, M, T and Σ_ℓ L_f^{t-ℓ} stay
bounded, so L_V = O(1) and L'_V = O(1). If L_f = 1, S(t) = √(t+1) and
M(t) ~ √t, so the terms of L_V grow like t and L_V = O(N); Σ_{j≥ℓ} S(j) ~ t^{3/2},
so Σ_ℓ Q(t, ℓ) ~ M(t)·t^{5/2} ~ t³ and L'_V = O(N³). If L_f > 1,
S(t) ~ L_f^t, so L_V = O(L_f^{2N}/N) and, through M(t)·Σ_ℓ L_f^{t-ℓ}Σ_j S(j),
L'_V = O(L_f^{3N}/N). `tests/test_smoothness.py` checks these rates on the
bound functions at N = 200 ... 400.

Everything is NumPy float64:
these are scalar recurrences, and the exponential regime overflows to inf,
which is reported, not hidden.

`measure_smoothness` puts measurement and bound side by side: it estimates
L_f, L_g, L'_f, L'_g on a trajectory, measures the Lipschitz constants of V
and ∇V in a ball for each N, evaluates the bounds above with those constants,
and classifies the growth.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._lipschitz import _cost_smoothness, _jacobian_lipschitz, _jacobian_norms
from ._losses import mse
from ._simulate import _rollout
from ._types import Inputs, Params, State
from ._validate import (
    check_cost_smoothness_args,
    check_finite_params,
    check_smoothness_lengths,
    promote,
)
from .models._base import Model


class LossConstants(NamedTuple):
    r"""Constants of Lemma 2 for one loss.

    |l(ŷ) - l(ẑ)| ≤ (K_0 + K_1‖y‖ + K_2 max(‖ŷ‖, ‖ẑ‖))‖ŷ - ẑ‖ and
    l'(ŷ, y) = Ψ(ŷ) - K_3 y with Ψ K_4-Lipschitz.

    Attributes:
        k0: Constant term (0 for MSE; √p for BCE, see `lemma2_constants`).
        k1: Multiplies ‖y‖.
        k2: Multiplies max(‖ŷ‖, ‖ẑ‖).
        k3: l'(ŷ, y) = Ψ(ŷ) - k3·y.
        k4: Lipschitz constant of Ψ.
    """

    k0: float
    k1: float
    k2: float
    k3: float
    k4: float


def lemma2_constants(loss: str, output_size: int) -> LossConstants:
    r"""Return the Lemma 2 constants of ``"mse"`` or ``"bce_with_logits"``.

    MSE, l = ‖ŷ - y‖²: l' = 2ŷ - 2y, so K_3 = 2 and Ψ(ŷ) = 2ŷ has K_4 = 2; the
    supplement's inequality gives K_1 = K_2 = 2.

    BCE with logits: l' = σ(ŷ) - y, so K_3 = 1 and K_4 = 1/4 (σ's largest
    slope; the supplement names Ψ but not K_4). Property 1 *as printed* cannot
    hold for BCE: with y = 0 and ŷ, ẑ → 0 the left side is ≈ ½‖ŷ - ẑ‖₁ while
    (K_1‖y‖ + K_2 max(‖ŷ‖, ‖ẑ‖))‖ŷ - ẑ‖ → 0 for any finite K_1, K_2. What the
    proof actually shows, (S8), is a constant bound √p‖ŷ - ẑ‖, so we return
    K_0 = √p, K_1 = K_2 = 0 and use K_0 + K_1 L_y + K_2 M(t) wherever the
    supplement writes K_1 L_y + K_2 M(t).

    Args:
        loss: ``"mse"`` or ``"bce_with_logits"``.
        output_size: Number of outputs ``p``.

    Returns:
        The `LossConstants`.

    Raises:
        ValueError: For another loss.
    """
    if loss == "mse":
        return LossConstants(0.0, 2.0, 2.0, 2.0, 2.0)
    if loss == "bce_with_logits":
        return LossConstants(math.sqrt(output_size), 0.0, 0.0, 1.0, 0.25)
    raise ValueError(f"Lemma 2 covers 'mse' and 'bce_with_logits', got {loss!r}")


def s_curve(lip_f: float, t: np.ndarray) -> np.ndarray:
    r"""Return S(t) of (S11), the closed form of √(Σ_{ℓ≤t} L_f^{2ℓ})."""
    t = np.asarray(t, dtype=float)
    if lip_f == 1.0:
        return np.sqrt(t + 1)
    with np.errstate(over="ignore"):
        return np.sqrt((lip_f ** (2 * t + 2) - 1) / (lip_f**2 - 1))


class TheoremOneBounds(NamedTuple):
    """The bound curves of Theorem 1 for N = 1 ... N_max.

    Attributes:
        n: Sequence lengths 1 ... N_max, shape `(N_max,)`.
        S: S(t) for t = 0 ... N_max, shape `(N_max + 1,)`.
        M: M(t), same shape.
        L_V: Bound on the Lipschitz constant of V, shape `(N_max,)`.
        L_V_grad: Bound on the Lipschitz constant of ∇V, shape `(N_max,)`.
    """

    n: np.ndarray
    S: np.ndarray
    M: np.ndarray
    L_V: np.ndarray
    L_V_grad: np.ndarray


def theorem1_bounds(
    lip_f: float,
    lip_g: float,
    lip_df: float,
    lip_dg: float,
    *,
    n_max: int,
    constants: LossConstants,
    target_bound: float,
    radius: float,
) -> TheoremOneBounds:
    r"""Evaluate L_V(N) and L'_V(N) of Theorem 1 for N = 1 ... ``n_max``.

    Args:
        lip_f: L_f.
        lip_g: L_g.
        lip_df: L'_f.
        lip_dg: L'_g.
        n_max: Largest sequence length. (Keyword only.)
        constants: `LossConstants` of the loss. (Keyword only.)
        target_bound: L_y = max_t ‖y_t‖. (Keyword only.)
        radius: R ≥ ‖[θ, x0]‖ over Ω, for M(t). (Keyword only.)

    Returns:
        `TheoremOneBounds`; entries are inf where the exponential regime
        overflows float64.
    """
    if n_max < 1:
        raise ValueError(f"n_max must be at least 1, got {n_max}")
    k0, k1, k2, k3, k4 = constants
    t = np.arange(n_max + 1)
    S = s_curve(lip_f, t)
    M = lip_g * S * radius
    T = k4 * (lip_dg * M + lip_g**2)
    with np.errstate(over="ignore", invalid="ignore"):
        per_step = (k0 + k1 * target_bound + k2 * M) * lip_g * S
        L_V = np.cumsum(per_step[1:]) / t[1:]
        # tail[ℓ] = Σ_{j=ℓ}^{t} S(j) and powers L_f^{t-ℓ}, for ℓ = 1 ... t. The
        # tail is summed directly (not as a difference of cumulative sums,
        # which gives inf - inf = NaN once S overflows); a zero coefficient
        # times an infinite tail counts as 0 (L'_f = 0 for a linear model).
        times = lambda a, b: np.where(a == 0, 0.0, a * b)
        L_J = np.empty(n_max)
        L_Jy = np.empty(n_max)
        for i, tt in enumerate(range(1, n_max + 1)):
            ell = np.arange(1, tt + 1)
            tail = np.cumsum(S[1 : tt + 1][::-1])[::-1]
            power = float(lip_f) ** (tt - ell)
            P = power * (times(lip_g * lip_df, tail) + lip_f * lip_dg * S[tt])
            Q = power * (
                times(k4 * M[tt] * lip_g * lip_df, tail) + lip_f * T[tt] * S[tt]
            )
            L_J[i] = P.sum() + lip_dg * S[tt]
            L_Jy[i] = Q.sum() + T[tt] * S[tt]
        L_V_grad = np.cumsum(k3 * target_bound * L_J + L_Jy) / t[1:]
    return TheoremOneBounds(t[1:], S, M, L_V, L_V_grad)


class Growth(NamedTuple):
    """How a measured curve grows with N.

    Attributes:
        kind: ``"bounded"``, ``"polynomial"``, ``"exponential"``, or
            ``"undetermined"`` when the data cannot say (NaN in the curve, or
            fewer than three finite positive values).
        degree: Fitted exponent d of c·N^d (polynomial), else None.
        rate: Fitted r of c·e^{rN} in nats per step (exponential), else None.
        nonfinite: How many values were NaN or infinite.
    """

    kind: str
    degree: float | None
    rate: float | None
    nonfinite: int = 0


def classify_growth(
    n: np.ndarray,
    values: np.ndarray,
    *,
    bounded_tol: float = 0.05,
    max_degree: float = 5.0,
) -> Growth:
    r"""Classify a curve over increasing N as bounded, polynomial or exponential.

    Bounded when the second half of the curve grows by less than
    ``bounded_tol`` (relative) per doubling of N. Otherwise log(values) is
    fitted by least squares both against N (exponential, rate r) and against
    log N (polynomial, degree d), and the better fit wins, except that a
    fitted degree above ``max_degree`` counts as exponential: over a decade or
    two of N both fits can look alike, and Theorem 1's polynomial regime has
    degree at most 3 (L'_V ~ N³). A curve that overflows to +inf at the end,
    after at least three finite values, is exponential (its rate is fitted on
    the finite part). A NaN anywhere, or fewer than three finite positive
    values, gives ``"undetermined"``: no kind is read from data that is not
    there.

    Args:
        n: Sequence lengths, increasing, shape `(k,)`, k ≥ 3.
        values: Positive measurements, shape `(k,)`.
        bounded_tol: Relative growth per doubling below which the curve is
            bounded. (Keyword only.)
        max_degree: Largest degree still called polynomial. (Keyword only.)

    Returns:
        A `Growth`.

    Raises:
        ValueError: With fewer than three points or non-increasing N.
    """
    n = np.asarray(n, dtype=float)
    values = np.asarray(values, dtype=float)
    if n.size < 3 or n.shape != values.shape or np.any(np.diff(n) <= 0):
        raise ValueError(
            "classify_growth needs at least 3 increasing N and matching values"
        )
    nonfinite = int(np.sum(~np.isfinite(values)))
    finite = np.isfinite(values) & (values > 0)
    overflow = values[-1] == np.inf
    if np.isnan(values).any() or finite.sum() < 3:
        return Growth("undetermined", None, None, nonfinite)
    n, values = n[finite], values[finite]
    log_v = np.log(values)
    half = n >= n[-1] / 2
    if not overflow and half.sum() >= 2:
        doublings = np.log2(n[half][-1] / n[half][0])
        growth = (values[half][-1] / values[half][0]) ** (1 / max(doublings, 1e-12)) - 1
        if growth < bounded_tol:
            return Growth("bounded", None, None, nonfinite)

    def fit(x: np.ndarray) -> tuple[float, float]:
        slope, intercept = np.polyfit(x, log_v, 1)
        return float(slope), float(np.sum((log_v - (slope * x + intercept)) ** 2))

    rate, res_exp = fit(n)
    degree, res_poly = fit(np.log(n))
    if overflow or res_exp < res_poly or degree > max_degree:
        return Growth("exponential", None, rate, nonfinite)
    return Growth("polynomial", degree, None, nonfinite)


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
    lengths = check_smoothness_lengths(lengths)
    check_finite_params(params)
    check_cost_smoothness_args(
        model, params, x0, us, None, lengths=lengths, radius=radius, loss="mse"
    )
    params, x0, us = promote(params, x0, us)
    k_norm, k_dnorm, k_cost = jax.random.split(key, 3)
    # The arguments are checked: run the kernels of simulate, jacobian_norms,
    # jacobian_lipschitz and cost_smoothness, at those functions' defaults.
    xs, ys = _rollout(model, params, x0, us)
    if not (bool(jnp.all(jnp.isfinite(xs))) and bool(jnp.all(jnp.isfinite(ys)))):
        raise ValueError("the trajectory at θ is not finite; use shorter lengths")
    norms = _jacobian_norms(model, params, xs, us, k_norm, num_iters=50, tol=None)
    norms = norms.max()
    step = max(1, xs.shape[0] // 32)
    lip_df, lip_dg = _jacobian_lipschitz(
        model, params, xs[::step], us[::step], k_dnorm, num_iters=30, alternations=10
    )
    # MSE, 5 ascent steps and 20 power iterations
    measured = _cost_smoothness(
        model, params, x0, us, ys, mse, lengths, radius, num_samples, k_cost, 5, 20
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
