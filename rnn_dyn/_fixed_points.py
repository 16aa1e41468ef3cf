r"""Fixed points and periodic orbits of the autonomous map x ↦ f(x, u) for a constant u.

A point of period k solves F(x) = f^k(x, u) − x = 0, where f^k is the k-th
iterate. `fixed_points` finds such points by damped Newton iterations,
x ← x − α (Df^k(x) − I)⁻¹ F(x), halving α until ‖F‖ decreases (Armijo's rule),
from many initial states at once (`jax.vmap` under `jax.jit`). A start whose
Jacobian is singular or whose line search fails stops where it is, so it never
turns into a spurious point: only starts with a small final residual count.
Once converged, a start keeps polishing only with steps shorter than the
deduplication distance; at rounding level F and Df^k − I are noise, and so is
the step between them (every point of a rotation by 2π/k solves F = 0).

Converged points are then grouped on the host: the k images x, f(x), ...,
f^{k-1}(x) are one cycle, points of a smaller minimal period (a fixed point
solves f²(x) = x too) are dropped, and each cycle is reported once. Its
stability follows from the eigenvalues of Df^k, the product of the state
Jacobians A = ∂f/∂x along the cycle, which are the same at each of its points.
"""

from __future__ import annotations

import functools as ft
import operator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Float, Int, Real

from ._simulate import _rollout
from ._types import Params
from ._validate import check_params, check_state, promote
from .models._base import Model, params_dtype

_MAX_HALVINGS = 30  # line search down to α = 2⁻²⁹ before a start gives up
_ARMIJO = 1e-4  # required relative decrease of ‖F‖ per unit step length


class FixedPoints(NamedTuple):
    r"""Cycles of period k of x ↦ f(x, u), each reported once.

    ``points[c, j]`` is f^j of ``points[c, 0]``, and ``points[c, 0]`` is the
    lexicographically smallest point of the cycle; cycles are sorted by it.
    For ``period == 1`` the cycles are fixed points, ``points[c, 0]``.

    Attributes:
        points: The cycles in orbit order, shape `(c, k, n)`.
        eigenvalues: Eigenvalues (Floquet multipliers) of Df^k on each cycle,
            complex, shape `(c, n)`, sorted by decreasing modulus.
        spectral_radius: Largest modulus of the eigenvalues, shape `(c,)`.
        stability: One label per cycle: ``"stable"`` (all |λ| < 1),
            ``"unstable"`` (all |λ| > 1), ``"saddle"`` (some of each) or
            ``"non-hyperbolic"`` (some |λ| within ``hyperbolic_tol`` of 1).
        residual: max_j ‖f^k(x_j) − x_j‖ over the points of each cycle, `(c,)`.
        counts: Number of starts that converged to each cycle, shape `(c,)`.
        period: The period k that was searched.
        num_converged: Starts that converged to a solution of f^k(x) = x,
            including those of a smaller minimal period.
        num_lower_period: Converged starts dropped because their minimal
            period is a proper divisor of k.
        num_diverged: Starts where f^k overflowed (non-finite residual).
        num_stalled: Starts with a finite residual above ``tol`` after
            ``max_iter`` iterations, a failed line search or a singular
            Jacobian.
    """

    points: Float[Array, "c k n"]
    eigenvalues: Complex[Array, "c n"]
    spectral_radius: Float[Array, " c"]
    stability: tuple[str, ...]
    residual: Float[Array, " c"]
    counts: Int[Array, " c"]
    period: int
    num_converged: int
    num_lower_period: int
    num_diverged: int
    num_stalled: int


def fixed_points(
    model: Model,
    params: Params,
    u: Real[ArrayLike, " m"],
    x_inits: Real[ArrayLike, "b n"],
    *,
    period: int = 1,
    tol: float | None = None,
    max_iter: int = 100,
    dedup_tol: float | None = None,
    hyperbolic_tol: float | None = None,
) -> FixedPoints:
    r"""Find the cycles of period k of x_{t+1} = f(x_t, u) by Newton's method.

    Runs damped Newton iterations on F(x) = f^k(x, u) − x from every row of
    ``x_inits`` (vmapped and jitted, with the Jacobian of f^k by `jax.jacfwd`,
    halving each step until ‖F‖ decreases) until ‖F‖ stops decreasing or
    ``max_iter`` is reached; a start converged when ‖F(x)‖ ≤ tol·max(1, ‖x‖).
    Converged points within ``dedup_tol``·max(1, ‖x‖) of a point of a cycle
    already found belong to that cycle. Everything runs in the dtype of
    ``params``. Grouping happens on the host, so the function cannot be jitted.

    Args:
        model: Model whose ``f`` defines the map.
        params: Parameters of ``model``.
        u: Constant input, shape `(m,)`; ``jnp.zeros(0)`` for an autonomous map.
        x_inits: Initial states, shape `(b, n)`.
        period: The period k ≥ 1; 1 finds fixed points. (Keyword only.)
        tol: Residual tolerance relative to max(1, ‖x‖). Defaults to √ε of the
            dtype (1.5e-8 in float64). (Keyword only.)
        max_iter: Maximum Newton iterations per start. (Keyword only.)
        dedup_tol: Distance, relative to max(1, ‖x‖), below which two points are
            one; it also decides the minimal period. Defaults to ε^{1/4} (1.2e-4
            in float64). (Keyword only.)
        hyperbolic_tol: A cycle is ``"non-hyperbolic"`` when some ||λ| − 1| is
            at most this. Defaults to √ε. (Keyword only.)

    Returns:
        A `FixedPoints` with the cycles of minimal period k.

    Raises:
        ValueError: If a shape does not fit ``model``, ``period < 1``,
            ``max_iter < 1`` or a tolerance is not positive.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import rnn_dyn as rd
        >>> from rnn_dyn import fixed_points
        >>> model = rd.models.logistic(3.2)
        >>> params = model.init(jax.random.key(0))
        >>> xs = jnp.linspace(0.05, 0.95, 8, dtype=params.r.dtype)[:, None]
        >>> res = fixed_points(model, params, jnp.zeros(0, xs.dtype), xs, period=2)
        >>> res.stability
        ('stable',)
    """
    check_params(model, params)
    n, m = model.state_size, model.input_size
    if np.shape(u) != (m,):
        raise ValueError(f"u must have shape ({m},), got {np.shape(u)}")
    shape = np.shape(x_inits)
    if len(shape) != 2 or shape[1] != n or shape[0] < 1:
        raise ValueError(f"x_inits must have shape (b, {n}) with b >= 1, got {shape}")
    period = _positive_int(period, "period")
    max_iter = _positive_int(max_iter, "max_iter")
    # integer starts are states too (promote leaves integer arrays alone)
    u, x_inits = (
        a if jnp.issubdtype(a.dtype, jnp.floating) else a.astype(params_dtype(params))
        for a in (jnp.asarray(u), jnp.asarray(x_inits))
    )
    params, u, x_inits = promote(params, u, x_inits)
    dtype = params_dtype(params)
    eps = float(jnp.finfo(dtype).eps)
    tol = _positive(tol, eps**0.5, "tol")
    dedup_tol = _positive(dedup_tol, eps**0.25, "dedup_tol")
    hyperbolic_tol = _positive(hyperbolic_tol, eps**0.5, "hyperbolic_tol")

    orbits, jacs = jax.device_get(
        _newton(
            model,
            params,
            u,
            x_inits,
            jnp.asarray(tol, dtype),
            jnp.asarray(dedup_tol, dtype),
            period,
            max_iter,
        )
    )
    return _group(orbits, jacs, period, tol, dedup_tol, hyperbolic_tol)


def cycles(
    model: Model,
    params: Params,
    u: Real[ArrayLike, " m"],
    x_inits: Real[ArrayLike, "b n"],
    *,
    max_period: int = 4,
    tol: float | None = None,
    max_iter: int = 100,
    dedup_tol: float | None = None,
    hyperbolic_tol: float | None = None,
) -> tuple[FixedPoints, ...]:
    """Find the cycles of every minimal period 1, ..., ``max_period``.

    Calls `fixed_points` once per period with the same starts; each call drops
    the points whose minimal period is smaller, so every cycle appears once.

    Args:
        model: Model whose ``f`` defines the map.
        params: Parameters of ``model``.
        u: Constant input, shape `(m,)`.
        x_inits: Initial states, shape `(b, n)`.
        max_period: Largest period searched. (Keyword only.)
        tol: As in `fixed_points`. (Keyword only.)
        max_iter: As in `fixed_points`. (Keyword only.)
        dedup_tol: As in `fixed_points`. (Keyword only.)
        hyperbolic_tol: As in `fixed_points`. (Keyword only.)

    Returns:
        A tuple of `max_period` `FixedPoints`; entry ``k - 1`` holds the cycles
        of minimal period ``k``.

    Raises:
        ValueError: As `fixed_points`, or if ``max_period < 1``.
    """
    max_period = _positive_int(max_period, "max_period")
    return tuple(
        fixed_points(
            model,
            params,
            u,
            x_inits,
            period=k,
            tol=tol,
            max_iter=max_iter,
            dedup_tol=dedup_tol,
            hyperbolic_tol=hyperbolic_tol,
        )
        for k in range(1, max_period + 1)
    )


def fixed_point_starts(
    model: Model,
    params: Params,
    x0: Float[ArrayLike, " n"],
    u: Real[ArrayLike, " m"],
    num: int,
    *,
    std: float,
    key: Any,
    steps: int = 2000,
) -> Float[Array, "num n"]:
    """Starts for `cycles`: a cloud around ``x0`` and points of its trajectory.

    Half the starts (rounded up) are ``x0`` plus Gaussian noise of standard
    deviation ``std``; the rest are states of the trajectory from ``x0``
    under the constant input ``u``, evenly spaced over ``steps`` steps, which
    lie near whatever that trajectory settles into.

    Args:
        model: The model.
        params: Its parameters.
        x0: Centre of the cloud and start of the trajectory, shape `(n,)`.
        u: Constant input, shape `(m,)`.
        num: Number of starts, at least 1.
        std: Spread of the cloud. (Keyword only.)
        key: PRNG key of the cloud. (Keyword only.)
        steps: Length of the trajectory. (Keyword only.)

    Returns:
        The starts, shape `(num, n)`.
    """
    num = _positive_int(num, "num")
    x0 = jnp.asarray(x0)
    check_params(model, params)
    check_state(model, x0)
    n_cloud = (num + 1) // 2
    noise = jax.random.normal(key, (n_cloud, model.state_size), x0.dtype)
    us = jnp.broadcast_to(jnp.asarray(u, x0.dtype), (steps, model.input_size))
    states = _rollout(model, params, x0, us).states
    along = states[jnp.linspace(0, steps - 1, num - n_cloud).astype(int)]
    return jnp.concatenate([x0[None] + std * noise, along])


def _positive_int(value: int, name: str) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return value


def _positive(value: float | None, default: float, name: str) -> float:
    if value is None:
        return default
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return float(value)


@ft.partial(jax.jit, static_argnums=(0, 6, 7))
def _newton(model, params, u, x_inits, tol, dedup_tol, period, max_iter):
    """Damped Newton from each start; return orbits `(b, 2k, n)`, Df^k `(b, n, n)`."""

    def f_k(x):
        return jax.lax.fori_loop(0, period, lambda _, x: model.f(params, x, u), x)

    def residual(x):
        r = f_k(x) - x
        return r, r

    def one(x0):
        dtype = x0.dtype

        def cond(state):
            i, _, _, done = state
            return (i < max_iter) & ~done

        def body(state):
            i, x, norm, _ = state
            J, r = jax.jacfwd(residual, has_aux=True)(x)
            dx = jnp.linalg.solve(J, -r)
            # A singular J gives inf/nan, or, where F is already at rounding
            # level, a finite step of pure noise: once converged, only steps
            # below the resolution dedup_tol polish x. Otherwise stop here.
            scale = jnp.maximum(1, jnp.linalg.norm(x))
            converged = norm <= tol * scale
            usable = jnp.all(jnp.isfinite(dx)) & (
                ~converged | (jnp.linalg.norm(dx) <= dedup_tol * scale)
            )
            dx = jnp.where(usable, dx, jnp.zeros_like(dx))

            def search_cond(s):
                j, _, _, _, accepted = s
                return (j < _MAX_HALVINGS) & ~accepted

            def search_body(s):
                j, alpha, _, _, _ = s
                x_try = x + alpha * dx
                norm_try = jnp.linalg.norm(f_k(x_try) - x_try)
                accepted = norm_try <= (1 - _ARMIJO * alpha) * norm  # False on nan
                return j + 1, alpha / 2, x_try, norm_try, accepted

            start = jnp.where(usable, 0, _MAX_HALVINGS)
            one_ = jnp.ones((), dtype)
            _, _, x_try, norm_try, accepted = jax.lax.while_loop(
                search_cond, search_body, (start, one_, x, norm, jnp.array(False))
            )
            x = jnp.where(accepted, x_try, x)
            norm = jnp.where(accepted, norm_try, norm)
            # No decrease: at the rounding floor, or stuck; either way stop.
            return i + 1, x, norm, ~accepted | (norm == 0)

        norm0 = jnp.linalg.norm(f_k(x0) - x0)
        done0 = ~jnp.isfinite(norm0) | (norm0 == 0)
        _, x, _, _ = jax.lax.while_loop(cond, body, (jnp.array(0), x0, norm0, done0))
        _, orbit = jax.lax.scan(
            lambda x, _: (model.f(params, x, u), x), x, None, length=2 * period
        )
        return orbit, jax.jacfwd(f_k)(x)

    return jax.vmap(one)(x_inits)


def _group(orbits, jacs, period, tol, dedup_tol, hyperbolic_tol):
    """Keep converged starts, drop lower periods, merge cycles; all in numpy."""
    k = period
    orbits, jacs = np.asarray(orbits), np.asarray(jacs)
    b, _, n = orbits.shape
    x = orbits[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):  # diverged starts
        scale = np.maximum(1.0, np.linalg.norm(x, axis=-1))
        shifted = np.linalg.norm(orbits[:, k : 2 * k] - orbits[:, :k], axis=-1)
        res = shifted[:, 0]  # ‖f^k(x) − x‖; shifted is (b, k)
        finite = np.isfinite(res) & np.all(np.isfinite(orbits), axis=(1, 2))
        converged = finite & (res <= tol * scale)
        lower = np.zeros(b, bool)
        for d in (d for d in range(1, k) if k % d == 0):
            lower |= np.linalg.norm(orbits[:, d] - x, axis=-1) <= dedup_tol * scale
    lower &= converged

    owners: list[int] = []  # start index of each cycle's representative
    found = np.zeros((0, k, n), orbits.dtype)
    counts: list[int] = []
    keep = np.flatnonzero(converged & ~lower)
    for i in keep[np.argsort(res[keep], kind="stable")]:  # most accurate first
        dist = np.linalg.norm(found - x[i], axis=-1)  # (c, k)
        hits = np.flatnonzero(np.any(dist <= dedup_tol * scale[i], axis=-1))
        if hits.size:
            counts[hits[0]] += 1
        else:
            owners.append(int(i))
            counts.append(1)
            found = np.concatenate([found, orbits[i, None, :k]])

    points, residuals = [], []
    for i in owners:
        cycle = orbits[i, :k]
        first = np.lexsort(cycle.T[::-1])[0]
        points.append(orbits[i, first : first + k])
        residuals.append(shifted[i].max())
    order = sorted(range(len(owners)), key=lambda c: tuple(points[c][0]))

    dtype = orbits.dtype
    cdtype = np.result_type(dtype, np.complex64)
    eigs = np.zeros((len(owners), n), cdtype)
    for row, c in enumerate(order):
        lam = np.linalg.eigvals(jacs[owners[c]]).astype(cdtype)
        eigs[row] = lam[np.lexsort((-lam.imag, -lam.real, -np.abs(lam)))]
    moduli = np.abs(eigs)
    return FixedPoints(
        points=jnp.asarray(
            np.array([points[c] for c in order], dtype).reshape(-1, k, n)
        ),
        eigenvalues=jnp.asarray(eigs),
        spectral_radius=jnp.asarray(moduli.max(axis=-1, initial=0.0).astype(dtype)),
        stability=tuple(_label(row, hyperbolic_tol) for row in moduli),
        residual=jnp.asarray(np.array([residuals[c] for c in order], dtype)),
        counts=jnp.asarray(np.array([counts[c] for c in order], np.int32)),
        period=k,
        num_converged=int(converged.sum()),
        num_lower_period=int(lower.sum()),
        num_diverged=int((~finite).sum()),
        num_stalled=int((finite & ~converged).sum()),
    )


def _label(moduli: np.ndarray, hyperbolic_tol: float) -> str:
    if np.any(np.abs(moduli - 1) <= hyperbolic_tol):
        return "non-hyperbolic"
    if np.all(moduli < 1):
        return "stable"
    if np.all(moduli > 1):
        return "unstable"
    return "saddle"
