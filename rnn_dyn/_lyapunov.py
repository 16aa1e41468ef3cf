r"""Lyapunov exponents and what a model settles into.

The Lyapunov exponents λ₁ ≥ λ₂ ≥ … of x_{t+1} = f(x_t, u_t) are the average
exponential rates, in nats per step, at which a k-dimensional frame of
perturbations grows along a trajectory: λ₁ + … + λ_k = lim (1/T) log vol_k of
the frame pushed through A_{T-1} ⋯ A_0. `lyapunov_spectrum` uses the QR
(Benettin) method: the frame Q_t (n × k, orthonormal) is pushed through the
step Jacobian by k Jacobian-vector products (matrix-free, so A_t is never
formed and k ≪ n works on large models), re-orthonormalised by QR, and the
logs of |diag R_t| are averaged. `largest_lyapunov_exponent` is the classic
two-trajectory cross-check: a neighbour at distance d₀ is renormalised after
every step. `classify_attractor` names the long-run behaviour from a state.

Use float64: in float32 the per-step logs are accurate, but a trajectory of
a chaotic map loses all its digits within tens of steps, so results over
long horizons describe a float32 shadow orbit (the exponents are usually
still right, the orbit itself is not); a warning says so.
"""

from __future__ import annotations

import functools as ft
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._types import Input, Params
from ._validate import (
    check_attractor_args,
    check_lyapunov_args,
    check_memory,
    promote,
    widest_float,
)
from .models._base import Model

FLOAT32_WARN_STEPS = 10_000


class LyapunovSpectrum(NamedTuple):
    """Lyapunov exponents from one or a batch of initial states.

    With a batch of initial states every array gains a leading batch axis.

    Attributes:
        exponents: The k exponents, nats per step, descending, shape `(k,)`.
        stderr: Standard error of each exponent from ``num_segments``
            independent segments of the run, `(k,)`.
        history: Running estimate after each step, `(n_steps, k)`; it should
            flatten out, and how fast it does shows the convergence.
        local_rates: log |diag R_t| at each step, `(n_steps, k)`: the local
            expansion rates whose averages are the exponents.
        nonfinite_steps: Steps whose state or local rates are not finite:
            the trajectory overflowed, and the exponents (NaN, ±inf, or for
            a linear map finite) describe no real orbit.
    """

    exponents: Float[Array, "*batch k"]
    stderr: Float[Array, "*batch k"]
    history: Float[Array, "*batch steps k"]
    local_rates: Float[Array, "*batch steps k"]
    nonfinite_steps: Array


def _start(
    model: Model,
    params: Any,
    x0: Any,
    us: Any,
    n_steps: int,
    burn_in: int,
    per_step: int,
) -> tuple[Any, Array, Array, bool]:
    """Return params, the batch of x0, the inputs, and whether x0 is a batch.

    All in one float dtype (`rnn_dyn._validate.promote`).

    The inputs are ``us`` cut to burn_in + n_steps, or zeros without ``us``;
    the arguments must have passed `check_lyapunov_args`. A request whose
    ``per_step`` values per orbit and step cannot fit in memory is refused.
    """
    x0s = jnp.asarray(x0)
    batched = x0s.ndim == 2
    x0s = x0s if batched else x0s[None]
    n_values = (
        x0s.shape[0] * n_steps * per_step + (burn_in + n_steps) * model.input_size
    )
    dtype = widest_float(params, x0s, us) or x0s.dtype
    check_memory(n_values, dtype, "the local rates of every step", on_device=True)
    if us is None:
        us = jnp.zeros((burn_in + n_steps, model.input_size), x0s.dtype)
    else:
        us = jnp.asarray(us)[: burn_in + n_steps]
    params, x0s, us = promote(params, x0s, us)
    return params, x0s, us, batched


def _warn_float32(dtype: Any, n_steps: int) -> None:
    if jnp.dtype(dtype) == jnp.float32 and n_steps > FLOAT32_WARN_STEPS:
        warnings.warn(
            f"Lyapunov exponents over {n_steps} steps in float32: a chaotic orbit "
            "loses every digit within tens of steps; use float64 for trustworthy "
            "numbers (jax_enable_x64, or --x64 on the command line)",
            stacklevel=3,
        )


def _summarise(
    rates: Array, finite_states: Array, num_segments: int
) -> LyapunovSpectrum:
    """Exponents, segment standard errors and running means of local rates.

    ``rates`` has shape `(b, T, k)`, ``finite_states`` `(b, T)`; the columns
    are put in descending order of their exponents.
    """
    n_steps = rates.shape[1]
    exponents = rates.mean(axis=1)
    seg = max(1, n_steps // num_segments)
    n_seg = n_steps // seg
    means = rates[:, : n_seg * seg].reshape(rates.shape[0], n_seg, seg, -1).mean(2)
    if n_seg > 1:
        stderr = means.std(axis=1, ddof=1) / n_seg**0.5
    else:
        stderr = jnp.full_like(exponents, jnp.nan)
    steps = jnp.arange(1, n_steps + 1, dtype=rates.dtype)[None, :, None]
    history = jnp.cumsum(rates, axis=1) / steps
    order = jnp.argsort(-jnp.nan_to_num(exponents, nan=-jnp.inf), axis=1)
    take = lambda a: jnp.take_along_axis(a, order, axis=1)
    take3 = lambda a: jnp.take_along_axis(a, order[:, None, :], axis=2)
    finite = jnp.all(jnp.isfinite(rates), axis=2) & finite_states
    nonfinite = jnp.sum(~finite, axis=1)
    return LyapunovSpectrum(
        take(exponents), take(stderr), take3(history), take3(rates), nonfinite
    )


def _unbatch(result: LyapunovSpectrum, batched: bool) -> LyapunovSpectrum:
    return result if batched else jax.tree_util.tree_map(lambda a: a[0], result)


def lyapunov_spectrum(
    model: Model,
    params: Params,
    x0: Float[Array, "*batch n"],
    us: Float[Array, "steps m"] | None = None,
    *,
    n_steps: int | None = None,
    burn_in: int = 0,
    k: int | None = None,
    key: Any = None,
    num_segments: int = 10,
) -> LyapunovSpectrum:
    r"""The k leading Lyapunov exponents by the QR (Benettin) method.

    An orthonormal frame Q (n × k, random) is carried along the trajectory:
    V = A_t Q by k jvps of f in x, Q R = V, and
    log|R_ii| is the growth of the i-th direction at step t. The exponents
    are the averages of those local rates over ``n_steps`` steps after
    ``burn_in`` steps (during which the frame aligns as well); the
    standard error comes from ``num_segments`` consecutive segments treated as
    independent (a slight underestimate where the rates are correlated over
    long times). For an input-driven map the exponents are those of the
    driven (non-autonomous) system along ``us``.

    Args:
        model: The model.
        params: Parameters θ.
        x0: Initial state `(n,)`, or a batch `(b, n)` (vmapped).
        us: Inputs `(burn_in + n_steps, m)`; None for zero input.
        n_steps: Measured steps; defaults to what ``us`` leaves after the
            burn-in, or 10,000 without ``us``. (Keyword only.)
        burn_in: Steps before measuring. (Keyword only.)
        k: Number of exponents, 1 ≤ k ≤ n; defaults to n. (Keyword only.)
        key: PRNG key of the initial frame; defaults to key 0. (Keyword only.)
        num_segments: Segments for the standard error. (Keyword only.)

    Returns:
        A `LyapunovSpectrum`; NaN or inf exponents and ``nonfinite_steps`` > 0
        when the trajectory overflows.

    Raises:
        ValueError: For bad shapes, k outside [1, n] or too few steps.
    """
    k = model.state_size if k is None else k
    n_steps = check_lyapunov_args(
        model, params, x0, us, n_steps=n_steps, burn_in=burn_in, k=k
    )
    # the rates, their running means and a finite flag, per step and orbit
    per_step = 2 * k + 1
    params, x0s, us, batched = _start(model, params, x0, us, n_steps, burn_in, per_step)
    _warn_float32(x0s.dtype, n_steps)
    result = _spectrum(model, params, x0s, us, burn_in, k, key, num_segments)
    return _unbatch(result, batched)


def _spectrum(model, params, x0s, us, burn_in, k, key, num_segments):
    """`lyapunov_spectrum` of a batch ``x0s`` `(b, n)` on checked arguments."""
    key = jax.random.key(0) if key is None else key
    frames = jax.random.normal(key, (x0s.shape[0], model.state_size, k), x0s.dtype)
    q0 = jnp.linalg.qr(frames)[0]
    rates = _qr_rates(model, params, x0s, us, q0, burn_in)
    return _summarise(*rates, num_segments)


def _settle(model, params, x0, us):
    return jax.lax.scan(lambda x, u: (model.f(params, x, u), None), x0, us)[0]


@ft.partial(jax.jit, static_argnums=(0, 5))
def _qr_rates(model, params, x0s, us, q0s, burn_in):
    def step(carry, u):
        x, q = carry
        x_next, push = jax.linearize(lambda x: model.f(params, x, u), x)
        q, r = jnp.linalg.qr(jax.vmap(push, in_axes=1, out_axes=1)(q))
        rates = jnp.log(jnp.abs(jnp.diagonal(r)))
        return (x_next, q), (rates, jnp.all(jnp.isfinite(x_next)))

    def one(x0, q0):
        # The frame is carried through the burn-in as well, so it starts the
        # measurement aligned with the Oseledets directions: no O(1/T) bias
        # from the random initial frame.
        carry = jax.lax.scan(lambda c, u: (step(c, u)[0], None), (x0, q0), us[:burn_in])
        return jax.lax.scan(step, carry[0], us[burn_in:])[1]

    return jax.vmap(one)(x0s, q0s)


def largest_lyapunov_exponent(
    model: Model,
    params: Params,
    x0: Float[Array, "*batch n"],
    us: Float[Array, "steps m"] | None = None,
    *,
    n_steps: int | None = None,
    burn_in: int = 0,
    d0: float | None = None,
    key: Any = None,
    num_segments: int = 10,
) -> LyapunovSpectrum:
    r"""λ₁ by two trajectories, renormalising their distance after every step.

    A neighbour starts at distance d₀ from the state (after burn-in) in a
    random direction; each step both are mapped by f, the log of the
    distance ratio d/d₀ is the local rate, and the neighbour is pulled back
    to distance d₀ along the same direction. It uses f only (no
    derivatives), so it cross-checks `lyapunov_spectrum`; d₀ must be small
    enough for linearisation but well above rounding (the default is
    √ε·max(1, ‖x‖), ε the dtype's machine epsilon).

    Args:
        model: The model.
        params: Parameters θ.
        x0: Initial state `(n,)`, or a batch `(b, n)`.
        us: Inputs `(burn_in + n_steps, m)`; None for zero input.
        n_steps: Measured steps (as in `lyapunov_spectrum`). (Keyword only.)
        burn_in: Steps before measuring. (Keyword only.)
        d0: Distance of the neighbour. (Keyword only.)
        key: PRNG key of its direction. (Keyword only.)
        num_segments: Segments for the standard error. (Keyword only.)

    Returns:
        A `LyapunovSpectrum` with k = 1.

    Raises:
        ValueError: For bad shapes, d₀ ≤ 0 or too few steps.
    """
    n_steps = check_lyapunov_args(
        model, params, x0, us, n_steps=n_steps, burn_in=burn_in, d0=d0
    )
    params, x0s, us, batched = _start(model, params, x0, us, n_steps, burn_in, 3)
    _warn_float32(x0s.dtype, n_steps)
    key = jax.random.key(0) if key is None else key
    dirs = jax.random.normal(key, x0s.shape, x0s.dtype)
    d0 = -1.0 if d0 is None else float(d0)
    rates = _two_trajectory_rates(model, params, x0s, us, dirs, d0, burn_in)
    return _unbatch(_summarise(*rates, num_segments), batched)


@ft.partial(jax.jit, static_argnums=(0, 6))
def _two_trajectory_rates(model, params, x0s, us, dirs, d0, burn_in):
    eps = jnp.finfo(x0s.dtype).eps

    def one(x0, direction):
        x = _settle(model, params, x0, us[:burn_in])
        dist = jnp.where(d0 > 0, d0, jnp.sqrt(eps) * jnp.maximum(1, jnp.linalg.norm(x)))
        y = x + dist * direction / jnp.linalg.norm(direction)

        def step(carry, u):
            x, y = carry
            x, y = model.f(params, x, u), model.f(params, y, u)
            d = jnp.linalg.norm(y - x)
            finite = jnp.all(jnp.isfinite(x))
            return (x, x + (y - x) * (dist / d)), (jnp.log(d / dist)[None], finite)

        return jax.lax.scan(step, (x, y), us[burn_in:])[1]

    return jax.vmap(one)(x0s, dirs)


def kaplan_yorke_dimension(exponents: Float[ArrayLike, " k"]) -> float:
    r"""The Kaplan–Yorke (Lyapunov) dimension of an attractor.

    D = j + (λ₁ + … + λ_j) / |λ_{j+1}| with j the largest index whose partial
    sum is non-negative; 0 when λ₁ < 0 and k when every partial sum is
    non-negative (the spectrum given is then too short to bound D).

    Args:
        exponents: Descending exponents, shape `(k,)`.

    Returns:
        The dimension, a float (NaN if an exponent is not finite).
    """
    lam = np.asarray(exponents, dtype=float)
    if not np.all(np.isfinite(lam)):
        return float("nan")
    sums = np.cumsum(lam)
    j = int(np.sum(sums >= 0))
    if j == 0:
        return 0.0
    if j == lam.size:
        return float(lam.size)
    return j + sums[j - 1] / abs(lam[j])


class Attractor(NamedTuple):
    """What a trajectory settles into, per initial state.

    Attributes:
        kind: ``"fixed-point"``, ``"periodic"``, ``"quasi-periodic"``,
            ``"chaotic"``, ``"divergent"``, or ``"unresolved"`` (contracting,
            λ₁ < 0, but no stable cycle found: lengthen the burn-in).
        period: The minimal period for fixed points (1) and cycles, else None.
        exponent: λ₁ along the measured window (NaN when divergent).
        stderr: Its standard error.
    """

    kind: str
    period: int | None
    exponent: float
    stderr: float


def classify_attractor(
    model: Model,
    params: Params,
    x0: Float[Array, " n"],
    u: Input | None = None,
    *,
    n_steps: int = 2000,
    burn_in: int = 2000,
    max_period: int = 64,
    tol: float = 1e-6,
    exponent_tol: float = 1e-3,
    growth: float = 1e3,
    key: Any = None,
) -> Attractor:
    r"""Name the long-run behaviour of x_{t+1} = f(x_t, u) from ``x0``.

    After ``burn_in`` steps, over a window of ``n_steps``:

    1. ``divergent`` if the state is not finite, or its norm at the end is
       more than ``growth`` times (1 + its largest norm in the first tenth);
    2. ``fixed-point`` / ``periodic`` with the smallest p ≤ ``max_period`` such
       that ‖x_{t+p} − x_t‖ ≤ ``tol``·(1 + max‖x‖) over the window, or the
       smallest divisor of p with a stable cycle there (Newton's method);
    3. otherwise by λ₁ (QR method on the same window): ``chaotic`` if
       λ₁ > max(``exponent_tol``, 3·stderr), ``quasi-periodic`` if
       |λ₁| ≤ that margin; below it the orbit is still converging, and
       Newton's method (`rnn_dyn.fixed_points`) from the last state, at the
       period with the smallest recurrence gap and its divisors, looks for
       the stable fixed point or cycle it converges to; ``unresolved`` if
       none is found.

    Args:
        model: The model.
        params: Parameters θ.
        x0: Initial state, shape `(n,)`.
        u: Constant input `(m,)`; zeros if None.
        n_steps: Window length, > max_period. (Keyword only.)
        burn_in: Steps before the window. (Keyword only.)
        max_period: Longest period looked for. (Keyword only.)
        tol: Relative tolerance of the period test. (Keyword only.)
        exponent_tol: Smallest |λ₁| that counts as non-zero. (Keyword only.)
        growth: Norm growth over the window that counts as divergence.
            (Keyword only.)
        key: PRNG key of the Lyapunov frame. (Keyword only.)

    Returns:
        An `Attractor`.

    Raises:
        ValueError: For bad shapes, ``n_steps <= max_period`` or a negative
            ``burn_in``.
    """
    check_attractor_args(
        model, params, x0, u, n_steps=n_steps, burn_in=burn_in, max_period=max_period
    )
    x0 = jnp.asarray(x0)
    u = jnp.zeros((model.input_size,), x0.dtype) if u is None else jnp.asarray(u)
    params, x0, u = promote(params, x0, u)
    us = jnp.broadcast_to(u, (burn_in + n_steps, model.input_size))
    gaps, norms = _recurrence(model, params, x0, us, burn_in, max_period)
    gaps, norms = np.asarray(gaps), np.asarray(norms)
    nan = float("nan")
    head = norms[: max(1, n_steps // 10)].max(initial=0.0)
    if not np.all(np.isfinite(norms)) or norms[-1] > growth * (1 + head):
        return Attractor("divergent", None, nan, nan)
    periodic = np.flatnonzero(gaps <= tol * (1 + norms.max()))
    _warn_float32(x0.dtype, n_steps)
    spectrum = _spectrum(
        model, params, x0[None], us, burn_in, k=1, key=key, num_segments=10
    )
    lam, err = float(spectrum.exponents[0, 0]), float(spectrum.stderr[0, 0])
    # A multiplier near -1 makes 2p recur better than p, so a period found
    # (or the best one, for an orbit still converging) is checked against its
    # divisors by Newton's method from the last state.
    stable_period = ft.partial(_stable_period, model, params, u, x0, us)
    if periodic.size:
        p = int(periodic[0]) + 1
        period = stable_period([d for d in range(1, p) if p % d == 0]) or p
        return Attractor("fixed-point" if period == 1 else "periodic", period, lam, err)
    margin = max(exponent_tol, 3 * err)
    if lam > margin:
        return Attractor("chaotic", None, lam, err)
    if lam >= -margin:
        return Attractor("quasi-periodic", None, lam, err)
    best = int(np.nanargmin(gaps)) + 1
    period = stable_period([d for d in range(1, best + 1) if best % d == 0])
    if period is None:
        return Attractor("unresolved", None, lam, err)
    return Attractor("fixed-point" if period == 1 else "periodic", period, lam, err)


def _stable_period(model, params, u, x0, us, periods: list[int]) -> int | None:
    """The first of ``periods`` with a stable cycle near the end of the orbit."""
    from ._fixed_points import fixed_points

    x_end = _settle(model, params, x0, us)[None]
    for p in periods:
        if "stable" in fixed_points(model, params, u, x_end, period=p).stability:
            return p
    return None


@ft.partial(jax.jit, static_argnums=(0, 4, 5))
def _recurrence(model, params, x0, us, burn_in, max_period):
    """max_t ‖x_{t+p} − x_t‖ for p = 1..max_period, and ‖x_t‖, over the window."""
    x = _settle(model, params, x0, us[:burn_in])
    xs = jax.lax.scan(lambda x, u: (model.f(params, x, u), x), x, us[burn_in:])[1]
    window = xs.shape[0] - max_period
    gap = lambda p: jnp.max(
        jnp.linalg.norm(
            jax.lax.dynamic_slice_in_dim(xs, p, window) - xs[:window], axis=1
        )
    )
    gaps = jax.vmap(gap)(jnp.arange(1, max_period + 1))
    return gaps, jnp.linalg.norm(xs, axis=1)
