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
# # Forward versus reverse sensitivities on the chaotic LSTM
#
# Ribeiro et al. (AISTATS 2020), supplementary section A, write the gradient of
# the cost $V$ of Eq. (2) through the forward sensitivities
#
# $$D_{t+1} = A_t D_t + B_t,\quad D_0 = 0,\qquad J_t = C_t D_t + F_t \qquad (S1)$$
#
# $$\nabla V = \frac{1}{N} \sum_t J_t^\top\, l'(\hat y_t, y_t) \qquad (S2)$$
#
# where $A_t, B_t$ are the Jacobians of $f$ with respect to the state and the
# parameters and $C_t, F_t$ those of $g$, all at $(x_t, u_t; \theta)$.
# $D_t = \partial x_t / \partial\theta$ is the sensitivity of the state.
#
# This notebook uses the chaotic LSTM of Appendix C (zero input, no bias,
# $H = 2$, $x = [h, c]$, 16 parameters) to show
#
# 1. its attractor;
# 2. the Jacobians $A_t, B_t, C_t, F_t$ along a trajectory;
# 3. that $\lVert D_t \rVert$ grows exponentially, at the rate of the largest
#    Lyapunov exponent, because the system is chaotic, and grows slowly for the
#    weights as printed in the supplement (a non-chaotic system);
# 4. that the forward route (S1)-(S2) and reverse mode (BPTT) give the same
#    gradient to rounding error, however large it is;
# 5. how long each route takes as the sequence length $N$ grows.

# %%
import os
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import rnn_dyn as rd
from rnn_dyn.examples import chaotic_lstm

QUICK = os.environ.get("RNN_DYN_QUICK") == "1"
jax.config.update("jax_enable_x64", True)

BURN_IN = 100  # samples dropped from the attractor plot and from the cost
N_ATTRACTOR = 2_000 if QUICK else 10_000  # steps for the attractor plot
N_SENS = 250 if QUICK else 500  # steps for D_t and the gradients
N_LYAP = 2_000 if QUICK else 10_000  # steps for the Lyapunov exponent
TIMING_NS = [250, 500, 1000] if QUICK else [250, 500, 1000, 2000]  # N > burn-in
REPEATS = 3 if QUICK else 5

# The rnn_dyn functions are plain functions; jit them once, with the model (a
# frozen, hashable dataclass) and the keyword options static, so each shape
# compiles once and both variants of the LSTM share the compiled code.
jacobians = jax.jit(rd.jacobians, static_argnums=0)
forward_sensitivities = jax.jit(rd.forward_sensitivities, static_argnums=0)
STATIC = dict(static_argnums=0, static_argnames=("loss", "burn_in", "last_only"))
forward_gradient = jax.jit(rd.forward_gradient, **STATIC)
reverse_gradient = jax.jit(rd.reverse_gradient, **STATIC)

print("QUICK =", QUICK, "| device:", jax.devices()[0].device_kind)

# %% [markdown]
# ## The chaotic LSTM and its attractor
#
# `chaotic_lstm("authors")` has the weights of the authors' public code;
# `chaotic_lstm("printed")` has the matrices exactly as printed in Appendix C,
# where two minus signs were lost (`W_hi[0, 1]` and `W_ho[1, 1]`). Both start
# from $h_0 = c_0 = [0.5, 0.5]$ and have no input, so `us = jnp.zeros((N, 0))`.

# %%
VARIANTS = ["authors", "printed"]
systems = {v: chaotic_lstm(v) for v in VARIANTS}
model, params, x0 = systems["authors"]
print(model)
print("x0 =", x0)
print("weight_hh (W_hi; W_hf; W_hg; W_ho), authors:\n", params.weight_hh)

fig, axes = plt.subplots(1, 2, figsize=(7, 3), sharex=True, sharey=True)
for ax, v in zip(axes, VARIANTS, strict=True):
    m, p, x = systems[v]
    hs = rd.simulate(m, p, x, jnp.zeros((N_ATTRACTOR, 0))).outputs[BURN_IN:]
    ax.plot(hs[:, 0], hs[:, 1], ".", ms=1, alpha=0.5)
    ax.set_title(f"variant {v!r}")
    ax.set_xlabel("$h_1$")
axes[0].set_ylabel("$h_2$")
fig.suptitle(f"$h_t$ for t = {BURN_IN} ... {N_ATTRACTOR - 1}", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# The authors' weights give the strange attractor of the paper. The printed
# weights give a few small closed curves: an orbit that looks quasi-periodic,
# with largest Lyapunov exponent about 0 (computed below).
#
# ## The Jacobians along the trajectory
#
# `rd.jacobians` stacks $A_t, B_t, C_t, F_t$ over $t = 0 \dots N-1$, with
# $\theta$ flattened (here $P = 16$: the 16 entries of `weight_hh`; the input
# weights have shape `(8, 0)`). State $n = 4$, output $p = 2$.

# %%
us = jnp.zeros((N_SENS, 0))
jac = jacobians(model, params, x0, us)
for name, mat in zip("ABCF", jac, strict=True):
    print(f"{name}_t: shape {mat.shape}")
print("A_0 =\n", np.round(np.asarray(jac.A[0]), 4))

# %% [markdown]
# `rd.forward_sensitivities` runs (S1) inside one `lax.scan`. Running the
# recursion by hand on the Jacobians above gives the same $D_t$, as long as both
# programs follow the same floating-point trajectory $x_t$. They are compiled
# separately, and on a chaotic system any rounding difference between them grows
# like $e^{\lambda_1 t}$ ($\lambda_1 \approx 0.16$ per step, below), i.e. by up to
# $10^{16}$ after about 220 steps. So we check the first 100 steps, where that
# amplification is below $10^{8}$, and only print the rest.

# %%
sens = forward_sensitivities(model, params, x0, us)
print("D_t:", sens.D.shape, " J_t:", sens.J.shape)

A, B = np.asarray(jac.A), np.asarray(jac.B)
D_by_hand = np.zeros_like(np.asarray(sens.D))
for t in range(N_SENS - 1):
    D_by_hand[t + 1] = A[t] @ D_by_hand[t] + B[t]
err = np.linalg.norm(D_by_hand - sens.D, axis=(1, 2))
rel = err / np.maximum(np.linalg.norm(sens.D, axis=(1, 2)), np.finfo(float).tiny)
for t in [10, 50, BURN_IN, 150, 200, N_SENS - 1]:
    print(f"t = {t:3d}: relative difference of D_t, by hand vs scan: {rel[t]:.1e}")
assert rel[: BURN_IN + 1].max() < 1e-6

# %% [markdown]
# ## $\lVert D_t \rVert$ grows exponentially on a chaotic attractor
#
# $D_t$ is driven by the product $A_{t-1} \cdots A_{s+1}$ of state Jacobians,
# whose norm grows like $e^{\lambda_1 (t - s)}$ where $\lambda_1$ is the largest
# Lyapunov exponent. We fit the slope of $\log \lVert D_t \rVert_2$ after the
# burn-in, and estimate $\lambda_1$ independently from the $A_t$ alone by the
# standard renormalised product $v_{t+1} = A_t v_t / \lVert A_t v_t \rVert$.


# %%
def largest_lyapunov(A_stack, discard=BURN_IN):
    """λ₁ ≈ mean of log‖A_t v_t‖ over t ≥ discard, v_t renormalised each step."""
    v = np.ones(A_stack.shape[-1]) / np.sqrt(A_stack.shape[-1])
    logs = []
    for A_t in A_stack:
        v = A_t @ v
        r = np.linalg.norm(v)
        v /= r
        logs.append(np.log(r))
    return float(np.mean(logs[discard:]))


growth = {}
fig, ax = plt.subplots(figsize=(5, 3.2))
t = np.arange(N_SENS)
for v in VARIANTS:
    m, p, x = systems[v]
    D = forward_sensitivities(m, p, x, us).D
    norm_D = np.asarray(jnp.linalg.norm(D, ord=2, axis=(1, 2)))  # spectral norm
    fit = t >= BURN_IN
    slope, icpt = np.polyfit(t[fit], np.log(norm_D[fit]), 1)
    lyap = largest_lyapunov(np.asarray(jacobians(m, p, x, jnp.zeros((N_LYAP, 0))).A))
    growth[v] = (slope, lyap)
    ax.semilogy(t[1:], norm_D[1:], lw=1, label=f"{v}: slope {slope:.3f}/step")
    ax.semilogy(t[fit], np.exp(icpt + slope * t[fit]), "k--", lw=0.8)
    print(
        f"{v:8s} log||D_t||_2 grows {slope:+.4f} per step "
        f"(x{np.exp(slope):.3f}/step); lambda_1 from A_t: {lyap:+.4f}; "
        f"||D_{N_SENS - 1}||_2 = {norm_D[-1]:.2e}"
    )
ax.set_xlabel("t")
ax.set_ylabel(r"$\|D_t\|_2$")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

assert growth["authors"][0] > 0.1  # chaotic: exponential growth
assert abs(growth["printed"][0]) < 0.02  # lambda_1 about 0: slow growth

# %% [markdown]
# For the authors' weights $\lVert D_t \rVert$ grows by about the factor
# $e^{\lambda_1}$ per step, so after a few hundred steps the sensitivity of the
# state to the parameters is astronomically large: the gradient explodes, and the
# cost $V$ is an intricate landscape around $\theta_\text{true}$ (Figure 1 of the
# supplement). With the printed weights $\lambda_1 \approx 0$ and $D_t$ stays
# of order one.
#
# ## Forward and reverse gradients agree
#
# Targets are the outputs of the true system, $y_t = \hat y_t(\theta_\text{true})$;
# the gradient is taken at $1.01\,\theta_\text{true}$, with the mean-square
# loss after a burn-in of 100 samples. `rd.forward_gradient` carries $D_t$
# through (S1)-(S2) in one scan; `rd.reverse_gradient` is `jax.grad` of the
# cost (backpropagation through time).

# %%
ys = rd.simulate(model, params, x0, us).outputs  # data from theta_true
params_pert = jax.tree.map(lambda w: 1.01 * w, params)  # 1.01 theta_true
kw = dict(loss="mse", burn_in=BURN_IN)
print("V(1.01 theta_true) =", float(rd.cost(model, params_pert, x0, us, ys, **kw)))

g_fwd = forward_gradient(model, params_pert, x0, us, ys, **kw).weight_hh
g_rev = reverse_gradient(model, params_pert, x0, us, ys, **kw).weight_hh
g_fwd, g_rev = np.asarray(g_fwd), np.asarray(g_rev)

gates = ["W_hi", "W_hf", "W_hg", "W_ho"]
print(f"{'entry':12s} {'forward':>24s} {'reverse':>24s} {'rel. diff':>10s}")
for k in range(16):
    i, j = divmod(k, 2)
    name = f"{gates[i // 2]}[{i % 2},{j}]"
    f, r = g_fwd[i, j], g_rev[i, j]
    print(f"{name:12s} {f:24.16e} {r:24.16e} {abs(f - r) / abs(r):10.1e}")
rel_grad = np.linalg.norm(g_fwd - g_rev) / np.linalg.norm(g_rev)
rel_max = np.max(np.abs(g_fwd - g_rev) / np.abs(g_rev))
print(f"N = {N_SENS}: ||grad|| = {np.linalg.norm(g_rev):.3e}")
print(f"relative difference: {rel_grad:.1e} (norm), {rel_max:.1e} (worst entry)")
assert rel_grad < 1e-10

# %% [markdown]
# The gradient is huge (it grows like $e^{\lambda_1 N}$), yet both routes agree
# to about machine precision: they compute the same derivative of the same
# floating-point trajectory, in a different order. Exploding gradients are a
# property of the chaotic system, not of the way the derivative is computed.
#
# ## Cost of the two routes versus $N$
#
# Each route is wrapped in `jax.jit`, compiled once per $N$ (not timed), then
# timed with `time.perf_counter` after `block_until_ready`; we report the best
# of a few repeats. Forward sensitivities cost $O(n^2 P)$ per step and $O(nP)$
# memory independent of $N$; reverse mode costs about two simulations but
# stores the trajectory, $O(Nn)$ memory. With $n = 4$ and $P = 16$ both are
# dominated by the per-step overhead of the scan. (Lengths stay below about
# 4000 steps here: beyond that $e^{\lambda_1 N}$ overflows float64.)


# %%
def best_time(fn, *args, **kwargs):
    """Best of REPEATS wall times of fn(*args, **kwargs), compilation excluded."""
    jax.block_until_ready(fn(*args, **kwargs))  # compile and warm up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args, **kwargs))
        times.append(time.perf_counter() - start)
    return min(times)


routes = {"forward": forward_gradient, "reverse": reverse_gradient}
timings = {route: [] for route in routes}
for n_steps in TIMING_NS:
    us_n = jnp.zeros((n_steps, 0))
    ys_n = rd.simulate(model, params, x0, us_n).outputs
    for route, grad_fn in routes.items():
        t_best = best_time(grad_fn, model, params_pert, x0, us_n, ys_n, **kw)
        timings[route].append(t_best)
    print(
        f"N = {n_steps:5d}: forward {1e3 * timings['forward'][-1]:7.2f} ms, "
        f"reverse {1e3 * timings['reverse'][-1]:7.2f} ms"
    )

fig, ax = plt.subplots(figsize=(4.5, 3))
for route, ts in timings.items():
    ax.loglog(TIMING_NS, 1e3 * np.asarray(ts), "o-", label=route)
ax.set_xlabel("N")
ax.set_ylabel("time per gradient [ms]")
ax.set_title(jax.devices()[0].device_kind, fontsize=9)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Both routes scale linearly in $N$. For this tiny model forward sensitivities
# are competitive; for a wide network ($P \gg n$) the $O(n^2 P)$ cost and
# $O(nP)$ state of (S1) make reverse mode the practical choice, which is why
# training uses BPTT.
