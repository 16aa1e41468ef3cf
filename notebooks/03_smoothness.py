# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Theorem 1 in practice: how smooth is the cost as $N$ grows?
#
# Ribeiro et al. (AISTATS 2020), Theorem 1 (supplement B.3-B.4), bound the
# Lipschitz constants of the cost $V$ and of its gradient $\nabla V$, as
# functions of $z = (\theta, x_0)$ in a compact region $\Omega$, by
#
# $$L_V(N) = \frac{L_g}{N} \sum_{t=1}^{N} \big(K_1 L_y + K_2 M(t)\big) S(t),
# \qquad S(t) = \sqrt{\textstyle\sum_{\ell=0}^{t} L_f^{2\ell}} \qquad (S11)$$
#
# and a longer expression $L'_V(N)$ built from the same $S(t)$, $M(t)$ and the
# Lipschitz constants $L'_f, L'_g$ of the Jacobians of $f$ and $g$ ((S13)-(S16)).
# Here $L_f$ and $L_g$ are Lipschitz constants of $f$ and $g$ in $(x, \theta)$
# *jointly* (the proof also uses $\lVert B_t \rVert \le L_f$), $L_y$ bounds the
# targets, $M(t) = \mathcal{O}(S(t))$ bounds the outputs and $K_1 \ldots K_4$ are
# the constants of the loss (Lemma 2; for the MSE, $K_1 = \ldots = K_4 = 2$).
# Everything hinges on $S(t)$, hence on $L_f$:
#
# | $L_f$ | $S(t)$ | $L_V(N)$ | $L'_V(N)$ |
# |---|---|---|---|
# | $< 1$ | bounded | $\mathcal{O}(1)$ | $\mathcal{O}(1)$ |
# | $= 1$ | $\sqrt{t + 1}$ | $\mathcal{O}(N)$ | $\mathcal{O}(N^3)$ |
# | $> 1$ | $\sim L_f^{t}$ | $\mathcal{O}(L_f^{2N}/N)$ | $\mathcal{O}(L_f^{3N}/N)$ |
#
# (The main paper's Eq. (6) and (7) state these rates; our copy of the paper
# lacks them, and `rnn_dyn.smoothness` derives them from (S10)-(S16).)
#
# **Measurement against bound.** `rnn_dyn.smoothness.measure_smoothness` takes
# the model's own outputs at $\theta$ as targets (so $V(\theta) = 0$), samples
# points in the ball $\lVert z - z_0 \rVert \le \rho$ and records the largest
# $\lVert \nabla V \rVert$ and $\lVert \nabla^2 V \rVert_2$ it finds (sharpened by
# a few ascent steps), for each $N$. A maximum over samples is a **lower bound**
# on the Lipschitz constant over the ball; Theorem 1 gives an **upper bound**.
# The constants $L_f, L_g, L'_f, L'_g$ that go into the bound are themselves
# maxima along the trajectory at $\theta$, matrix-free power iterations on
# Jacobians. The report labels the regime by $\max_t \lVert A_t \rVert_2$ (the
# state Jacobian), which is what decides how perturbations of the state grow.
#
# This notebook
#
# 1. measures $L_V(N)$ and $L'_V(N)$ for one system per regime
#    (`rnn_dyn.examples.regime_example`): a tanh RNN with
#    $\lVert W_{hh} \rVert_2 = 0.5$ (contractive), a linear model with an
#    orthogonal state matrix (neutral) and the chaotic LSTM of Appendix C with
#    the authors' weights, and puts them beside the bounds;
# 2. checks on a linear model that the matrix-free estimates are exact: the
#    Jacobian of the whole output sequence is then a block-Toeplitz matrix we
#    can build densely;
# 3. draws the closed forms of $S(t)$ for $L_f < 1$, $= 1$ and $> 1$.
#
# Everything runs in float64.

# %%
import os
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from jax.flatten_util import ravel_pytree

import rnn_dyn as rd
from rnn_dyn.examples import regime_example
from rnn_dyn.smoothness import (
    classify_growth,
    lemma2_constants,
    measure_smoothness,
    s_curve,
    theorem1_bounds,
)

QUICK = os.environ.get("RNN_DYN_QUICK") == "1"
jax.config.update("jax_enable_x64", True)

LENGTHS = (10, 50, 100) if QUICK else (10, 20, 50, 100, 200)  # sequence lengths N
RADIUS = 0.1  # radius rho of the ball around (theta, x0)
SMALL_RADIUS = 1e-3  # a second, smaller ball for the neutral system
SAMPLES = 8  # samples in the ball per N
N_LINEAR = 30 if QUICK else 100  # steps of the linear model of section 2
SYSTEMS = ("contractive", "neutral", "chaotic-lstm")

print("QUICK =", QUICK, "| device:", jax.devices()[0].device_kind)

# %% [markdown]
# ## 1. Three regimes, measured and bounded
#
# The same keys as `rnn-dyn smoothness --seed 0`, lengths $N$ = 10, 20, 50, 100,
# 200 (10, 50, 100 in quick mode), 8 samples per ball. The neutral system is measured
# twice: in the ball of radius $\rho = 0.1$ used for the others, and in one of
# radius $10^{-3}$ (the compiled functions are reused: only the radius changes).

# %%
k_model, k_measure = jax.random.split(jax.random.key(0))
NEUTRAL_SMALL = f"neutral, rho={SMALL_RADIUS:g}"
radii = {name: RADIUS for name in SYSTEMS} | {NEUTRAL_SMALL: SMALL_RADIUS}
examples = {name: regime_example(name, max(LENGTHS), key=k_model) for name in SYSTEMS}
examples[NEUTRAL_SMALL] = examples["neutral"]
reports = {}


def measure(name):
    """measure_smoothness of one system in its ball; prints the time it took."""
    start = time.perf_counter()
    reports[name] = measure_smoothness(
        *examples[name],
        lengths=LENGTHS,
        radius=radii[name],
        num_samples=SAMPLES,
        key=k_measure,
    )
    print(f"{name}: measured in {time.perf_counter() - start:.1f} s")


# %%
measure("contractive")

# %%
measure("neutral")
measure(NEUTRAL_SMALL)

# %%
measure("chaotic-lstm")

# %% [markdown]
# The full bound curves $N = 1 \ldots N_\text{max}$, from `theorem1_bounds` with
# the constants of each report. As in `measure_smoothness`, $L_y = \max_t \lVert
# y_t \rVert$ and $R = \lVert [\theta, x_0] \rVert + \rho$ (the radius of a ball
# around the origin that contains $\Omega$, for $M(t)$). At the measured lengths
# they must equal the report's `bound_L_V` and `bound_L_V_grad`.


# %%
def full_bounds(name):
    """Theorem 1's bounds for N = 1 ... max(LENGTHS), with the report's constants."""
    report = reports[name]
    model, theta, x0, us = examples[name]
    ys = rd.simulate(model, theta, x0, us).outputs
    flat = ravel_pytree((theta, x0))[0]
    return theorem1_bounds(
        report.L_f,
        report.L_g,
        report.L_df,
        report.L_dg,
        n_max=max(LENGTHS),
        constants=lemma2_constants("mse", model.output_size),
        target_bound=float(jnp.max(jnp.linalg.norm(ys, axis=1))),
        radius=float(jnp.linalg.norm(flat)) + radii[name],
    )


bounds = {name: full_bounds(name) for name in reports}
for name, report in reports.items():
    at_lengths = bounds[name].L_V[report.lengths - 1], report.bound_L_V
    np.testing.assert_array_equal(*at_lengths)
    at_lengths = bounds[name].L_V_grad[report.lengths - 1], report.bound_L_V_grad
    np.testing.assert_array_equal(*at_lengths)


# %% [markdown]
# The measured values and the bounds at each $N$ (`inf` or `nan`: the bound
# overflows float64).


# %%
def show_growth(growth):
    """'bounded', 'polynomial, N^2.01' or 'exponential, e^(0.21 N)'."""
    if growth.kind == "polynomial":
        return f"polynomial, N^{growth.degree:.2f}"
    if growth.kind == "exponential" and growth.rate is not None:
        return f"exponential, e^({growth.rate:.3g} N)"
    return growth.kind


for name, report in reports.items():
    print(f"\n{name} (rho = {radii[name]:g})")
    print(f"{'N':>5} {'L_V':>11} {'bound':>11} {'ratio':>9}   ", end="")
    print(f"{'L_V_grad':>11} {'bound':>11} {'ratio':>9}")
    for i, n in enumerate(report.lengths):
        row = [f"{n:5d}"]
        for value, bound in (
            (report.L_V[i], report.bound_L_V[i]),
            (report.L_V_grad[i], report.bound_L_V_grad[i]),
        ):
            with np.errstate(invalid="ignore", over="ignore"):
                ratio = bound / value
            row.append(f"{value:11.4g} {bound:11.3g} {ratio:9.2g}")
        print(" ".join(row[:2]) + "   " + row[2])
    # A lower bound below an upper one, wherever the upper one is a number.
    for value, bound in (
        (report.L_V, report.bound_L_V),
        (report.L_V_grad, report.bound_L_V_grad),
    ):
        assert np.all(value[~np.isnan(bound)] <= bound[~np.isnan(bound)])

# %% [markdown]
# The constants of Theorem 1 (maxima along the trajectory at $\theta$; `L_f` is
# $\max_t \lVert [A_t\ B_t] \rVert_2$, `max|A_t|` is $\max_t \lVert A_t \rVert_2$,
# which sets the regime), then the growth laws that `classify_growth` fits to the
# measured curves and to the bounds, beside $2 \log L_f$ and $3 \log L_f$, the
# rates of $L_V = \mathcal{O}(L_f^{2N}/N)$ and $L'_V = \mathcal{O}(L_f^{3N}/N)$.

# %%
print(
    f"{'system':20s} {'rho':>6s} {'L_f':>7s} {'max|A_t|':>9s} {'L_g':>7s} "
    f"{'Lprime_f':>9s} {'Lprime_g':>9s}  regime"
)
for name, report in reports.items():
    print(
        f"{name:20s} {radii[name]:6g} {report.L_f:7.3f} {report.L_f_state:9.4f} "
        f"{report.L_g:7.3f} {report.L_df:9.3f} {report.L_dg:9.3f}  {report.regime}"
    )
print()
print(
    f"{'system':20s} {'measured L_V':24s} {'measured L_V_grad':24s} "
    f"{'bound L_V':24s} {'bound L_V_grad':24s} {'2 log L_f':>9s} {'3 log L_f':>9s}"
)
for name, report in reports.items():
    growths = (
        report.growth_L_V,
        report.growth_L_V_grad,
        classify_growth(report.lengths, report.bound_L_V),
        classify_growth(report.lengths, report.bound_L_V_grad),
    )
    print(
        f"{name:20s} "
        + " ".join(f"{show_growth(g):24s}" for g in growths)
        + f" {2 * np.log(report.L_f):9.3f} {3 * np.log(report.L_f):9.3f}"
    )

# %% [markdown]
# The measured values with the bounds. The bounds come close to the float64
# limit (beyond $10^{270}$ in the tables above), more than matplotlib's
# logarithmic axis can draw, so the axis shows $\log_{10}$ of the values. Filled markers are $L_V$, open ones $L'_V$; the lines are Theorem 1's
# bounds for every $N$ (cut where they overflow float64).

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
for ax, name in zip(axes, SYSTEMS, strict=True):
    report, bound = reports[name], bounds[name]
    for key, colour, marker, label in (
        ("L_V", "C0", "o", "$L_V$"),
        ("L_V_grad", "C1", "s", "$L'_V$"),
    ):
        curve = getattr(bound, key)
        ok = np.isfinite(curve)
        ax.plot(
            bound.n[ok], np.log10(curve[ok]), "-", c=colour, label=f"bound on {label}"
        )
        ax.plot(
            report.lengths,
            np.log10(getattr(report, key)),
            marker,
            c=colour,
            mfc=colour if key == "L_V" else "none",
            label=f"measured {label}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("sequence length $N$")
    ax.set_title(
        f"{name}: $L_f$ = {report.L_f:.3g}, max $\\|A_t\\|$ = {report.L_f_state:.3g}",
        fontsize=10,
    )
axes[0].set_ylabel(r"$\log_{10}$ of the Lipschitz constant")
axes[0].legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# The measured curves alone, divided by their value at the shortest $N$, on
# log-log axes: a bounded curve is flat, a polynomial one a straight line (dotted:
# slopes 1, 2 and 3), an exponential one bends upwards.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
n0 = LENGTHS[0]
nn = np.geomspace(n0, max(LENGTHS))
for ax, key, title in (
    (axes[0], "L_V", "measured $L_V(N) / L_V(N_0)$"),
    (axes[1], "L_V_grad", "measured $L'_V(N) / L'_V(N_0)$"),
):
    for degree in (1, 2, 3):
        ax.plot(nn, (nn / n0) ** degree, ":", c="0.6", lw=0.8)
        ax.annotate(f"$N^{degree}$", (nn[-1], (nn[-1] / n0) ** degree), fontsize=8)
    for i, (name, report) in enumerate(reports.items()):
        values = getattr(report, key)
        ax.plot(report.lengths, values / values[0], "o-", c=f"C{i}", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length $N$")
    ax.set_title(title, fontsize=10)
axes[0].legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# What the tables and figures show:
#
# - **Contractive** ($\max_t \lVert A_t \rVert < 1$): the measured $L_V$ and
#   $L'_V$ do not grow with $N$, as in the theorem's regime $L_f < 1$. The bound,
#   though, grows exponentially: the theorem's $L_f$ is the Lipschitz constant of
#   $f$ in $(x, \theta)$ jointly, and $\lVert [A_t\ B_t] \rVert$ exceeds 1 here
#   because of $B_t = \partial f/\partial\theta$. The recursion behind (S10)
#   multiplies the accumulated state error by this joint $L_f$ at every step; a
#   recursion with $\lVert A_t \rVert$ and $\lVert B_t \rVert$ kept apart,
#   $\lVert \Delta x_{t+1} \rVert \le \lVert A \rVert \lVert \Delta x_t \rVert +
#   \lVert B \rVert \lVert \Delta\theta \rVert$, would stay bounded here.
# - **Chaotic LSTM**: both grow exponentially, the gradient's constant faster
#   than the cost's. The bounds grow at $2 \log L_f$ and $3 \log L_f$ (last
#   columns), far faster than the measurements: $L_f$ is the largest one-step
#   norm, while the products of $A_t$ along a trajectory grow much more slowly.
# - **Neutral** (orthogonal $A$): in the ball of radius 0.1 both constants grow
#   exponentially. The ball contains state matrices with spectral radius above 1
#   (the next cell prints one), so it holds expanding systems as well as the
#   neutral one, and the maximum over the ball grows like theirs. In the ball of
#   radius $10^{-3}$ the same construction grows by a factor close to 1 over
#   these lengths, and the measured growth is polynomial. The neutral regime is
#   not robust to perturbations of $\theta$.
#
# Over the whole range the bounds exceed the measurements by many orders of
# magnitude: they hold, and are far from tight.

# %%
a = np.asarray(examples["neutral"][1].a)
for rho in (RADIUS, SMALL_RADIUS):
    # (1 + rho / |A|_F) A lies on the sphere of radius rho around A.
    scaled = (1 + rho / np.linalg.norm(a)) * a
    radius_of = np.max(np.abs(np.linalg.eigvals(scaled)))
    print(
        f"rho = {rho:g}: spectral radius of (1 + rho/|A|_F) A = {radius_of:.6f}, "
        f"raised to N = {max(LENGTHS)}: {radius_of ** max(LENGTHS):.4g}"
    )

# %% [markdown]
# ## 2. The matrix-free estimates are exact on a linear model
#
# For $x_{t+1} = A x_t + B u_t$, $\hat y_t = C x_t + D u_t$ (with the
# convention of `rd.simulate`: $\hat y_t$ reads $x_t$, the state before $u_t$),
# (S14) becomes a product of dense matrices:
#
# $$\frac{\partial \hat y_{0:N-1}}{\partial (\theta, x_0)} =
# \Big[\; \mathcal{T} \mathcal{B} + \mathcal{F} \;\Big|\; \mathcal{O} \;\Big],
# \qquad \mathcal{T}_{t\ell} = \begin{cases} C A^{t-1-\ell} & \ell < t \\ 0 & \ell
# \ge t \end{cases}, \qquad \mathcal{O}_t = C A^t,$$
#
# where the block-Toeplitz matrix $\mathcal{T}$ maps a perturbation injected into
# the state at step $\ell$ to the outputs, $\mathcal{B}$ stacks the Jacobians
# $B_\ell = \partial f / \partial \theta$ (with respect to $A$ and $B$: $I \otimes
# x_\ell^\top$ and $I \otimes u_\ell^\top$), $\mathcal{F}$ stacks $F_t =
# \partial g / \partial \theta$ (with respect to $C$ and $D$) and $\mathcal{O}$ is
# the observability matrix. We build it in NumPy, check it against
# `jax.jacfwd`, and compare its spectral norm with `rd.trajectory_lipschitz`
# (power iteration through `simulate` with `jvp` and `vjp`, no Jacobian formed)
# and with `rd.power_iteration` given the dense matrix as a matrix-vector
# product.

# %%
n, m, p = 3, 2, 2
linear = rd.models.linear(n, m, p, spectral_norm=0.95)
k_theta, k_x0, k_u, k_pi = jax.random.split(jax.random.key(1), 4)
theta_lin = linear.init(k_theta)
x0_lin = jax.random.normal(k_x0, (n,))
us_lin = jax.random.normal(k_u, (N_LINEAR, m))


def dense_output_jacobian(params, x0, us):
    """d y_{0:N-1} / d(a, b, c, d, x0) of a linear model, block-Toeplitz form."""
    a, b, c, d = (np.asarray(w) for w in params)
    x0, us = np.asarray(x0), np.asarray(us)
    num, (p, n), m = len(us), c.shape, us.shape[1]
    powers = [np.eye(n)]
    for _ in range(num):
        powers.append(a @ powers[-1])
    xs = [x0]
    for t in range(num - 1):
        xs.append(a @ xs[-1] + b @ us[t])
    toeplitz = np.zeros((num * p, num * n))
    for t in range(num):
        for ell in range(t):
            toeplitz[t * p : (t + 1) * p, ell * n : (ell + 1) * n] = (
                c @ powers[t - 1 - ell]
            )
    # Columns in the order of ravel_pytree((params, x0)): a, b, c, d (row-major), x0.
    n_theta = n * n + n * m + p * n + p * m
    f_theta = np.zeros((num * n, n_theta))  # B_ell, stacked
    g_theta = np.zeros((num * p, n_theta))  # F_t, stacked
    for t in range(num):
        f_theta[t * n : (t + 1) * n, : n * n] = np.kron(np.eye(n), xs[t])
        f_theta[t * n : (t + 1) * n, n * n : n * n + n * m] = np.kron(np.eye(n), us[t])
        g_theta[t * p : (t + 1) * p, n * n + n * m : n * n + n * m + p * n] = np.kron(
            np.eye(p), xs[t]
        )
        g_theta[t * p : (t + 1) * p, n * n + n * m + p * n :] = np.kron(
            np.eye(p), us[t]
        )
    observability = np.vstack([c @ powers[t] for t in range(num)])
    return np.hstack([toeplitz @ f_theta + g_theta, observability])


J = dense_output_jacobian(theta_lin, x0_lin, us_lin)
z_lin, unravel = ravel_pytree((theta_lin, x0_lin))
J_ad = jax.jacfwd(lambda z: rd.simulate(linear, *unravel(z), us_lin).outputs.ravel())(
    z_lin
)
print(
    f"dense Jacobian {J.shape}, max |NumPy - jacfwd| = {np.max(np.abs(J - J_ad)):.2e}"
)
assert np.allclose(J, J_ad, rtol=1e-12, atol=1e-12)

n_theta = J.shape[1] - n
singular = np.linalg.svd(J, compute_uv=False)
print(f"sigma_2 / sigma_1 = {singular[1] / singular[0]:.4f}")
rows = []
for wrt, columns in (("both", J), ("params", J[:, :n_theta]), ("x0", J[:, n_theta:])):
    sigma_mf = float(
        rd.trajectory_lipschitz(
            linear, theta_lin, x0_lin, us_lin, key=k_pi, wrt=wrt, num_iters=200
        ).sigma
    )
    sigma_dense = np.linalg.norm(columns, 2)
    rows.append((wrt, sigma_mf, sigma_dense, abs(sigma_mf - sigma_dense) / sigma_dense))
print(
    f"{'wrt':8s} {'trajectory_lipschitz':>22s} {'norm(J, 2)':>22s} {'rel. error':>11s}"
)
for wrt, sigma_mf, sigma_dense, err in rows:
    print(f"{wrt:8s} {sigma_mf:22.15g} {sigma_dense:22.15g} {err:11.1e}")
    assert err < 1e-10

# %% [markdown]
# `rd.power_iteration` on the dense $J$ given as $v \mapsto Jv$ and $w \mapsto
# J^\top w$. After $k$ iterations the direction $v$ is off by about
# $(\sigma_2/\sigma_1)^{2k}$, and $\sigma = \lVert J v \rVert$, stationary at the
# top singular vector, by the square of that, $(\sigma_2/\sigma_1)^{4k}$, down to
# rounding.

# %%
Jx = jnp.asarray(J)
result = rd.power_iteration(
    lambda v: Jx @ v,
    lambda w: Jx.T @ w,
    jax.random.normal(k_pi, (J.shape[1],)),
    num_iters=40,
)
sigma = np.linalg.norm(J, 2)
error = np.abs(np.asarray(result.history) - sigma) / sigma
print(
    f"power_iteration: {float(result.sigma):.15g} after {int(result.iterations)} iterations"
)
print(f"np.linalg.norm(J, 2): {sigma:.15g}, relative error {error[-1]:.1e}")
assert error[-1] < 1e-12

k = np.arange(1, len(error) + 1)
fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
ax.semilogy(k, np.maximum(error, 1e-17), ".-", label="power_iteration")
ax.semilogy(
    k,
    error[0] * (singular[1] / singular[0]) ** (4 * (k - 1)),
    "--",
    label=r"$\propto (\sigma_2/\sigma_1)^{4k}$",
)
ax.set_ylim(1e-17, 1)
ax.set_xlabel("iteration $k$")
ax.set_ylabel(r"$|\sigma_k - \|J\|_2| \,/\, \|J\|_2$")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. The three regimes of $S(t)$
#
# `s_curve` is the closed form (S11) of $S(t) = \sqrt{\sum_{\ell \le t}
# L_f^{2\ell}}$. Its three behaviours are the three regimes of Theorem 1:
#
# - $L_f < 1$: $S(t) \to 1/\sqrt{1 - L_f^2}$, bounded;
# - $L_f = 1$: $S(t) = \sqrt{t + 1}$, polynomial;
# - $L_f > 1$: $S(t) \sim L_f^{t + 1}/\sqrt{L_f^2 - 1}$, exponential.
#
# The dashed lines are these asymptotes; the check is against the sum itself.

# %%
t = np.arange(0, 201)
fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
for i, lip in enumerate((0.5, 0.9, 1.0, 1.02, 1.05)):
    S = s_curve(lip, t)
    direct = np.sqrt(np.cumsum(lip ** (2.0 * t)))
    assert np.allclose(S, direct, rtol=1e-12)
    if lip < 1:
        asymptote = np.full_like(S, 1 / np.sqrt(1 - lip**2))
    elif lip == 1:
        asymptote = np.sqrt(t + 1.0)
    else:
        asymptote = lip ** (t + 1.0) / np.sqrt(lip**2 - 1)
    print(
        f"L_f = {lip:4}: S(10) = {S[10]:9.4g}, S(200) = {S[200]:9.4g}, "
        f"asymptote at 200: {asymptote[200]:9.4g}"
    )
    ax.plot(t[1:], S[1:], c=f"C{i}", label=f"$L_f$ = {lip}")
    ax.plot(t[1:], asymptote[1:], "--", c=f"C{i}", lw=0.8)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("$t$")
ax.set_ylabel("$S(t)$")
ax.legend(fontsize=8)
plt.show()
