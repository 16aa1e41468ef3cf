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
# # The cost landscape of the chaotic LSTM
#
# Ribeiro et al. (AISTATS 2020), Supplementary Figure 1, plot the cost
#
# $$V(\theta) = \frac{1}{N - N_0} \sum_{t = N_0}^{N-1} \lVert \hat y_t(\theta) - y_t \rVert^2$$
#
# of the chaotic LSTM of Appendix C along a line and a plane through its true
# weights $\theta_\text{true}$, with targets $y_t = \hat y_t(\theta_\text{true})$
# (so $V(\theta_\text{true}) = 0$), $N = 200$ steps and a burn-in of $N_0 = 100$.
# Near $\theta_\text{true}$ the system is chaotic: $V$ is an intricate, rough
# surface with many local minima. Away from the chaotic region it is smooth.
#
# This notebook uses `rnn_dyn.landscape`, which evaluates $V$ on every point of a
# grid by `jax.vmap` under `jit` (each point is an independent simulation), to show
#
# 1. the line $\theta(s) = s\,\theta_\text{true}$, $s \in [0.5, 2]$: the
#    bifurcation diagram of the output and the cost;
# 2. the plane $s_1 \theta_\text{true} + s_2 \theta_\text{random}$;
# 3. a zoom of that plane around $\theta_\text{true}$ (still rough) and the same
#    line for the non-chaotic weights as printed in the supplement (smooth);
# 4. for contrast, a small GRU with random weights on a filter-normalised plane:
#    a smooth bowl.
#
# Everything runs in float32, JAX's default: far from $\theta_\text{true}$ the
# trajectories decorrelate within a few dozen steps whatever the precision, so
# float64 would change the values in the chaotic region but not the picture.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

import rnn_dyn as rd
from rnn_dyn import landscape
from rnn_dyn.examples import chaotic_lstm

QUICK = os.environ.get("RNN_DYN_QUICK") == "1"

N_STEPS = 200  # sequence length N
BURN_IN = 100  # N_0: steps left out of the cost
STEADY = 100  # steady outputs kept per point for the bifurcation diagram
N_LINE = 800 if QUICK else 5_000  # points on the line
# Odd grid sizes so that theta_true, at (1, 0), is a grid point.
N_PLANE = 61 if QUICK else 151  # points per axis of the planes
N_ZOOM = 41 if QUICK else 121  # points per axis of the zoomed plane

print("QUICK =", QUICK, "| device:", jax.devices()[0].device_kind)


# %% [markdown]
# Two helpers of `rnn_dyn.landscape`: `coordinates` makes a grid that contains
# given values exactly (so that $s = 1$ is evaluated at $\theta_\text{true}$
# itself, not next to it), and `local_minima` counts the strict local minima of
# a line (lower than both neighbours) or of a plane (lower than its 8
# neighbours), over finite values only.


# %%
def plot_log_contours(ax, s1, s2, loss, levels=30):
    """Filled contours of loss[i, j] at (s1[i], s2[j]) on a log colour scale."""
    z = np.ma.masked_invalid(loss)  # overflowed points stay blank
    hi = float(z.max())
    lo = max(float(z[z > 0].min()), 1e-6 * hi)  # at most 6 decades
    z = np.ma.maximum(z, lo)  # V = 0 at theta_true: show it as the lowest level
    cs = ax.contourf(
        s1,
        s2,
        z.T,
        levels=np.geomspace(lo, hi, levels),
        norm=LogNorm(lo, hi),
        cmap="viridis",
        extend="both",
    )
    return cs


def describe(loss):
    """Min and max of the finite values, the non-finite count, the local minima."""
    finite = loss[np.isfinite(loss)]
    return (
        f"min V = {finite.min():.3g}, max V = {finite.max():.3g}, "
        f"non-finite points: {loss.size - finite.size}, "
        f"local minima: {landscape.local_minima(loss)}"
    )


def log_colorbar(fig, cs, ax):
    """Colour bar of plot_log_contours with a few readable ticks."""
    lo, hi = cs.levels[0], cs.levels[-1]
    cbar = fig.colorbar(cs, ax=ax, label="V", ticks=np.geomspace(lo, hi, 6))
    cbar.ax.set_yticklabels([f"{t:.2g}" for t in np.geomspace(lo, hi, 6)])
    return cbar


# %% [markdown]
# ## The line $\theta(s) = s\,\theta_\text{true}$
#
# `landscape.line(model, theta_a, theta_b, ...)` evaluates the line
# $s\,\theta_a + (1 - s)\,\theta_b$; with $\theta_b = 0$ it is the paper's line.
# `steady_steps=100` also returns the last 100 outputs of every simulation: a
# scatter of them against $s$ is the bifurcation diagram of the system along the
# line (one dot per $s$ for a fixed point, a few for a periodic orbit, a band for
# a chaotic or quasi-periodic one).

# %%
model, theta_true, x0 = chaotic_lstm("authors")
us = jnp.zeros((N_STEPS, 0))
# Data from theta_true, simulated by the grid evaluator itself: the same
# compiled arithmetic as every grid point (rd.simulate is another program, whose
# last bits may differ on some CPUs, and chaos grows a last bit like e^{0.17 t}).
ys = landscape.reference_outputs(model, theta_true, x0, us)
zeros = jax.tree.map(jnp.zeros_like, theta_true)
kw = dict(loss="mse", burn_in=BURN_IN)

s = landscape.coordinates(0.5, 2.0, N_LINE, exact=[1.0])
line = landscape.line(
    model, theta_true, zeros, x0, us, ys, s, steady_steps=STEADY, **kw
)
i_true = int(np.flatnonzero(s == 1.0)[0])
loss_true = float(line.loss[i_true])
minima_line = landscape.local_minima(line.loss)
print(f"V at s = 1 (theta_true): {loss_true}")
print(f"local minima of the line ({N_LINE} points): {minima_line}")
print(f"non-finite values on the line: {int(np.sum(~np.isfinite(line.loss)))}")
# Exact: the targets went through the same compiled arithmetic. On a chaotic
# system any rounding difference would grow like e^{lambda_1 t} and give
# V(theta_true) > 0.
assert loss_true == 0.0

fig, (ax_bif, ax_loss) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
h1 = line.steady[:, :, 0]  # (n, STEADY): the last 100 values of h_1
ax_bif.plot(np.repeat(s, STEADY), h1.ravel(), ",k", alpha=0.3)
ax_bif.set_ylabel(f"$h_1$, last {STEADY} steps")
ax_bif.set_title("bifurcation diagram along $s\\,\\theta_{true}$", fontsize=10)
ax_loss.plot(s, line.loss, lw=0.6)
ax_loss.axvline(1.0, color="r", ls="--", lw=0.8, label=r"$\theta_{true}$ ($s = 1$)")
ax_loss.set_xlabel("s")
ax_loss.set_ylabel("V")
ax_loss.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Around $s = 1$ the output fills a band (chaos) interleaved with periodic
# windows, and the cost jumps from one value to the next: the line has many
# local minima, and $\theta_\text{true}$ is an isolated zero at the bottom of a
# narrow well. Where the dynamics settle to a fixed point or a simple orbit the
# cost is a smooth function of $s$.
#
# ## The plane $s_1 \theta_\text{true} + s_2 \theta_\text{random}$
#
# `landscape.grid_2d(model, theta_o, theta_a, theta_b, ...)` evaluates
# $\theta_o + s_1(\theta_a - \theta_o) + s_2(\theta_b - \theta_o)$; with
# $\theta_o = 0$ it is the paper's plane. $\theta_\text{random}$ is uniform on
# $[0, 1)$ entrywise, as in the authors' script (`torch.rand`).

# %%
theta_random = landscape.random_direction(jax.random.key(0), theta_true)
s1 = landscape.coordinates(0.0, 2.0, N_PLANE, exact=[1.0])
s2 = landscape.coordinates(-0.5, 0.5, N_PLANE, exact=[0.0])
plane = landscape.grid_2d(
    model, zeros, theta_true, theta_random, x0, us, ys, s1, s2, **kw
)
finite = np.isfinite(plane.loss)
print(f"plane {N_PLANE} x {N_PLANE}: {describe(plane.loss)}")
others = plane.loss[finite & (plane.loss > 0)]  # all but theta_true, at (1, 0)
print(f"min V away from theta_true: {np.min(others):.3g}")

fig, ax = plt.subplots(figsize=(6.5, 4.2))
cs = plot_log_contours(ax, s1, s2, plane.loss)
ax.plot(1.0, 0.0, "r*", ms=10, label=r"$\theta_{true}$")
ax.set_xlabel("$s_1$ (along $\\theta_{true}$)")
ax.set_ylabel("$s_2$ (along $\\theta_{random}$)")
ax.legend(fontsize=8, loc="upper left")
log_colorbar(fig, cs, ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# The plane shows the same structure as Supplementary Figure 1: an intricate
# band of rapidly varying cost around $\theta_\text{true}$, and smooth regions
# elsewhere (small weights, near $s_1 = 0$, give a fixed point).
#
# ## Zooming in, and the non-chaotic weights
#
# A smooth function looks flat when one zooms in far enough. The cost of the
# chaotic LSTM does not: on a plane 20 times smaller in $s_1$ and 25 times
# smaller in $s_2$ it is as rough as before, because any change of $\theta$ is
# amplified like $e^{\lambda_1 t}$ and the trajectories decorrelate well before
# the end of the burn-in. At the grid scale the cost behaves like independent
# noise: for independent values, a third of the points of a line and a ninth of
# the interior points of a plane are local minima.
#
# For comparison, the same line for the weights as printed in Appendix C
# ($\lambda_1 \approx 0$ at $\theta_\text{true}$, see notebook 01), with its own
# targets.

# %%
z1 = landscape.coordinates(0.95, 1.05, N_ZOOM, exact=[1.0])
z2 = landscape.coordinates(-0.02, 0.02, N_ZOOM, exact=[0.0])
zoom = landscape.grid_2d(
    model, zeros, theta_true, theta_random, x0, us, ys, z1, z2, **kw
)
minima_zoom = landscape.local_minima(zoom.loss)
print(
    f"zoom {N_ZOOM} x {N_ZOOM}: {describe(zoom.loss)} "
    f"({minima_zoom / (N_ZOOM - 2) ** 2:.3f} of the interior points)"
)

model_p, theta_p, x0_p = chaotic_lstm("printed")
ys_p = rd.simulate(model_p, theta_p, x0_p, us).outputs
line_p = landscape.line(model_p, theta_p, zeros, x0_p, us, ys_p, s, **kw)

# Both variants on the zoom's window s in [0.95, 1.05], N_LINE points.
w = landscape.coordinates(0.95, 1.05, N_LINE, exact=[1.0])
window = {
    "authors": landscape.line(model, theta_true, zeros, x0, us, ys, w, **kw).loss,
    "printed": landscape.line(model_p, theta_p, zeros, x0_p, us, ys_p, w, **kw).loss,
}
minima_w = {v: landscape.local_minima(loss) for v, loss in window.items()}
for v, count in minima_w.items():
    print(
        f"{v:8s} s in [0.95, 1.05]: {count} local minima "
        f"({count / (N_LINE - 2):.3f} of the points)"
    )
print(
    f"printed  s in [0.5, 2]: {landscape.local_minima(line_p.loss)} local minima "
    f"(authors: {minima_line})"
)

fig, (ax_z, ax_w, ax_p) = plt.subplots(1, 3, figsize=(15, 4))
cs = plot_log_contours(ax_z, z1, z2, zoom.loss)
ax_z.plot(1.0, 0.0, "r*", ms=10)
ax_z.set_xlabel("$s_1$")
ax_z.set_ylabel("$s_2$")
ax_z.set_title("zoom around $\\theta_{true}$, authors' weights", fontsize=10)
log_colorbar(fig, cs, ax_z)
for v, loss in window.items():
    ax_w.plot(w, loss, lw=0.6 if v == "authors" else 1.5, label=v)
ax_w.set_title(r"V along $s\,\theta_{true}$, $s \in [0.95, 1.05]$", fontsize=10)
ax_p.plot(s, line.loss, lw=0.5, alpha=0.7, label="authors")
ax_p.plot(s, line_p.loss, lw=1.0, label="printed")
ax_p.set_title(r"V along $s\,\theta_{true}$, $s \in [0.5, 2]$", fontsize=10)
for ax in (ax_w, ax_p):
    ax.axvline(1.0, color="r", ls="--", lw=0.8)
    ax.set_xlabel("s")
    ax.set_ylabel("V")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

assert minima_w["printed"] < minima_w["authors"] / 10  # far smoother near s = 1

# %% [markdown]
# Near $\theta_\text{true}$ the cost for the printed weights is a smooth valley
# with $\theta_\text{true}$ at its bottom (a handful of minima in the window,
# where the authors' weights give hundreds). Further along the line, for
# $s \gtrsim 1.05$, the printed weights also become chaotic and their cost turns
# rough too: roughness follows the dynamics, not the model class.
#
# ## A non-chaotic model: a small GRU
#
# For contrast, a GRU with one input, 8 hidden units and a linear readout, with
# random weights $\theta_\text{true}$ (PyTorch's initialisation), driven by a
# random input sequence, and targets its own outputs. The two directions are
# Gaussian and filter-normalised (Li et al. 2018: each row of every matrix is
# rescaled to the norm of the same row of $\theta_\text{true}$, biases are not
# moved), and the plane is centred on $\theta_\text{true}$:
# $\theta_\text{true} + s_1 d_1 + s_2 d_2$, $(s_1, s_2) \in [-1, 1]^2$.

# %%
gru = rd.models.gru(1, 8, readout=1)
theta_gru = gru.init(jax.random.key(1))
x0_gru = gru.initial_state(theta_gru)
us_gru = jax.random.normal(jax.random.key(2), (N_STEPS, 1))
ys_gru = rd.simulate(gru, theta_gru, x0_gru, us_gru).outputs
key_a, key_b = jax.random.split(jax.random.key(3))
d1, d2 = (
    landscape.random_direction(
        k, theta_gru, distribution="gaussian", filter_normalize=True
    )
    for k in (key_a, key_b)
)
add = lambda d: jax.tree.map(jnp.add, theta_gru, d)
g1 = landscape.coordinates(-1.0, 1.0, N_PLANE, exact=[0.0])
bowl = landscape.grid_2d(
    gru, theta_gru, add(d1), add(d2), x0_gru, us_gru, ys_gru, g1, g1, **kw
)
i0 = int(np.flatnonzero(g1 == 0.0)[0])
minima_gru = landscape.local_minima(bowl.loss)
print(
    f"GRU plane: V at theta_true = {float(bowl.loss[i0, i0]):.2g}, "
    f"{describe(bowl.loss)}"
)
assert bowl.loss[i0, i0] < 1e-12  # rounding only: the GRU is not chaotic
assert minima_gru == 1  # theta_true

fig, ax = plt.subplots(figsize=(5.5, 4.2))
cs = plot_log_contours(ax, g1, g1, bowl.loss)
ax.contour(g1, g1, bowl.loss.T, levels=cs.levels[::3], colors="w", linewidths=0.4)
ax.plot(0.0, 0.0, "r*", ms=10, label=r"$\theta_{true}$")
ax.set_xlabel("$s_1$ (along $d_1$)")
ax.set_ylabel("$s_2$ (along $d_2$)")
ax.set_title("GRU(1, 8), filter-normalised directions", fontsize=10)
ax.legend(fontsize=8, loc="upper left")
log_colorbar(fig, cs, ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# The GRU's cost is a smooth bowl around $\theta_\text{true}$ with a single
# minimum, the picture that motivates gradient descent. ($V(\theta_\text{true})$
# is about $10^{-16}$ rather than 0: the batched grid evaluator and `rd.simulate`
# round the 8-term sums differently, and a non-chaotic system does not amplify
# that.) The chaotic LSTM's cost,
# at every scale we looked at, is not: its gradient is huge and changes sign
# from one grid point to the next, so gradient descent near $\theta_\text{true}$
# gets stuck in one of many local minima. This is the paper's point: the
# difficulty comes from the chaotic dynamics, not from the way the gradient is
# computed.
