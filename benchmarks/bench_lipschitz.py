"""Time and memory of matrix-free Lipschitz estimates against dense Jacobians.

Model: ``rnn_dyn.models.lstm(1, H, readout=1)`` for several hidden sizes H, so
the parameter count P = 4H² + 13H + 1 grows from hundreds to a million; N steps
of standard Gaussian inputs from x0 = ``model.initial_state(params)`` (zero),
weights drawn from U(-1/√H, 1/√H) as ``model.init`` does. Methods (one JSON line
per method and H):

- ``reverse``        jit(rd.reverse_gradient) of the MSE against Gaussian
                     targets: one BPTT gradient, the unit of cost;
- ``traj_matfree``   jit(rd.trajectory_lipschitz(wrt="params")):
                     ‖∂ŷ_{0:N-1}/∂θ‖₂ by power iteration through ``simulate``
                     (jvp + vjp), never forming the Jacobian;
- ``traj_dense``     the same number from the dense (N·p) × P Jacobian
                     (``jax.jacrev`` of the flattened outputs w.r.t. flat θ);
- ``steps_matfree``  jit(rd.jacobian_norms) at the N states of the
                     trajectory: max_t ‖[A_t B_t]‖₂, ‖A_t‖₂ and ‖[C_t F_t]‖₂;
- ``steps_dense``    the same maxima from ``rd.jacobians`` (A_t, B_t, C_t, F_t
                     stacked over t, B_t of shape n × P per step).

The dense spectral norms are by default √‖M Mᵀ‖₂, the Gram matrix taken over
the short side of M (at most 2H × 2H or N × N), which keeps σ₁ to rounding.
``--dense-norm svd`` calls ``jnp.linalg.norm(M, 2)`` on M itself, which on CPU
(jax 0.10) reserves a max(rows, cols)² buffer for the unused singular vectors,
so that a 200 × 10⁶ Jacobian would need terabytes.

Each matrix-free line carries ``cost_in_gradients`` = run_s / run_s of
``reverse`` at the same H, and ``rel_err_vs_dense`` where the dense method ran
too (the script exits 1 if that exceeds the tolerance, 1e-3 in float32 and 1e-6
with ``--x64``). A case whose XLA buffer assignment (``memory_analysis``)
exceeds 70 % of MemAvailable is compiled but not run: ``status: "skipped"``.
``--quick`` compiles with ``--xla_backend_optimization_level=0`` (unless
XLA_FLAGS sets a level): compilation is most of a smoke run.

Run ``python benchmarks/bench_lipschitz.py --help`` for the flags; results and
the machine that produced them are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import functools as ft
import sys
from typing import Any

import numpy as np

BENCH = "lipschitz"
# Run in this order: the unit of cost first, each dense reference before its
# matrix-free estimate, so the matrix-free line can carry the comparison.
METHODS = ("reverse", "traj_dense", "traj_matfree", "steps_dense", "steps_matfree")
MATFREE_DENSE = {"traj_matfree": "traj_dense", "steps_matfree": "steps_dense"}
RTOL = {"float32": 1e-3, "float64": 1e-6}
# "No more than a few dozen reverse-mode gradients per estimate", read generously.
MAX_GRADIENTS = 48


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from _timing import BenchParser, fill_defaults, int_list, quick_xla_flags

    ap = BenchParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="H=8,32, N=20: CI smoke run")
    ap.add_argument("--hidden", type=int_list, default=None, help="e.g. 8,32,128,512")
    ap.add_argument("--steps", type=int, default=None, help="N (default 200)")
    ap.add_argument(
        "--repeat", type=int, default=None, help="timed calls per case (default 3)"
    )
    ap.add_max_seconds(300, 10, per_case=True)
    ap.add_methods(METHODS)
    ap.add_argument("--x64", action="store_true", help="float64")
    ap.add_argument(
        "--num-iters",
        type=int,
        default=None,
        help="power iterations of traj_matfree (default: the library's)",
    )
    ap.add_argument(
        "--steps-num-iters",
        type=int,
        default=None,
        help="power iterations per norm of steps_matfree (default: the library's)",
    )
    ap.add_argument(
        "--dense-norm",
        choices=("gram", "svd"),
        default="gram",
        help="dense spectral norm: sqrt of ‖M Mᵀ‖₂ over the short side (default), "
        "or jnp.linalg.norm(M, 2) of M itself",
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        fill_defaults(args, hidden=[8, 32], steps=20, repeat=1, max_seconds=10.0)
    fill_defaults(
        args, hidden=[8, 32, 128, 512], steps=200, repeat=3, max_seconds=300.0
    )
    args.hidden = sorted(args.hidden)
    args.methods = ap.pick_methods(args.methods, METHODS, METHODS)
    # Each power iteration traces the scan several times: compilation is most
    # of a smoke run.
    quick_xla_flags(args.quick)
    return args


def n_params(hidden: int) -> int:
    """P of ``lstm(1, H, readout=1)``: weights, both biases, readout."""
    return 4 * hidden * hidden + 4 * hidden + 8 * hidden + hidden + 1


def work(method: str, n_steps: int, hidden: int) -> float:
    """Relative cost model used to extrapolate run times to a larger H."""
    p, n = n_params(hidden), 2 * hidden
    if method == "traj_dense":  # N vjps of cost N·P, then an N × N Gram matrix
        return n_steps * n_steps * p
    if method == "steps_dense":  # per step: P jvps of cost P, n × n Gram matrix
        return n_steps * p * (p + n * n)
    return n_steps * p  # reverse and the power iterations: linear in N·P


def _spectral_norms(mats: list[Any], how: str) -> list[Any]:
    """‖M‖₂ over the last two axes of each batched dense matrix in ``mats``.

    All norms come from one batched SVD call: on XLA:CPU (jaxlib 0.10.2) two
    batched LAPACK calls that the runtime schedules concurrently can deadlock
    on a 2-thread pool (each waits for batch tasks queued behind the other).
    Zero padding to a common shape leaves the largest singular value unchanged.
    """
    import jax.numpy as jnp

    if how == "gram":
        # σ₁(M)² = ‖G‖₂ for the Gram matrix G = M Mᵀ of the short side: the
        # largest singular value keeps its relative accuracy (only the small
        # ones lose it), and G is at most 2H × 2H or N × N.
        grams = []
        for M in mats:
            if M.shape[-2] > M.shape[-1]:
                M = jnp.swapaxes(M, -1, -2)
            grams.append(M @ jnp.swapaxes(M, -1, -2))
        mats = grams
    rows = max(M.shape[-2] for M in mats)
    cols = max(M.shape[-1] for M in mats)
    pad = lambda M: jnp.pad(
        M, [(0, 0)] * (M.ndim - 2) + [(0, rows - M.shape[-2]), (0, cols - M.shape[-1])]
    )
    flat = [pad(M).reshape(-1, rows, cols) for M in mats]
    norms = jnp.linalg.norm(jnp.concatenate(flat), 2, axis=(-2, -1))
    if how == "gram":
        norms = jnp.sqrt(norms)
    out, start = [], 0
    for M, F in zip(mats, flat, strict=True):
        out.append(norms[start : start + F.shape[0]].reshape(M.shape[:-2]))
        start += F.shape[0]
    return out


def _methods(model: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The timed functions, each of (params, x0, us, ys, key)."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    import rnn_dyn as rd

    traj_kw = {} if args.num_iters is None else {"num_iters": args.num_iters}
    steps_kw = (
        {} if args.steps_num_iters is None else {"num_iters": args.steps_num_iters}
    )

    def reverse(params, x0, us, ys, key):
        del key
        return rd.reverse_gradient(model, params, x0, us, ys)

    def traj_matfree(params, x0, us, ys, key):
        del ys
        res = rd.trajectory_lipschitz(
            model, params, x0, us, key=key, wrt="params", **traj_kw
        )
        return res.sigma, res.history

    def traj_dense(params, x0, us, ys, key):
        del ys, key
        theta, unravel = ravel_pytree(params)

        def outputs(th):
            return rd.simulate(model, unravel(th), x0, us).outputs.reshape(-1)

        J = jax.jacrev(outputs)(theta)  # (N·p, P): N·p vjps, not P jvps
        return _spectral_norms([J], args.dense_norm)[0]

    def steps_matfree(params, x0, us, ys, key):
        del ys
        xs = rd.simulate(model, params, x0, us).states
        norms = rd.jacobian_norms(model, params, xs, us, key=key, **steps_kw)
        return jnp.stack(tuple(norms.max()))

    def steps_dense(params, x0, us, ys, key):
        del ys, key
        J = rd.jacobians(model, params, x0, us)
        norms = _spectral_norms(
            [
                jnp.concatenate([J.A, J.B], axis=2),  # [A_t B_t]
                J.A,
                jnp.concatenate([J.C, J.F], axis=2),  # [C_t F_t]
            ],
            args.dense_norm,
        )
        return jnp.stack([jnp.max(a) for a in norms])

    return {
        "reverse": reverse,
        "traj_matfree": traj_matfree,
        "traj_dense": traj_dense,
        "steps_matfree": steps_matfree,
        "steps_dense": steps_dense,
    }


def _converged_at(history: np.ndarray, rtol: float) -> int:
    """First iteration count after which every estimate is within rtol of the last."""
    history = history[np.isfinite(history)]
    off = np.abs(history - history[-1]) > rtol * abs(history[-1])
    return int(np.nonzero(off)[0][-1] + 2) if off.any() else 1


def _compile_only(fn: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """Lower and compile ``fn`` without running it; times and XLA memory."""
    import time

    import jax
    from _timing import jax_memory

    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return {"lower_s": t1 - t0, "compile_s": t2 - t1} | jax_memory(compiled)


def _uniform(rng: np.random.Generator, bound: float, dtype: str, like: Any) -> Any:
    import jax.numpy as jnp

    return jnp.asarray(rng.uniform(-bound, bound, like.shape).astype(dtype))


def _default(fn: Any, name: str) -> Any:
    """The default value of keyword ``name`` in ``fn``'s signature."""
    import inspect

    return inspect.signature(fn).parameters[name].default


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)

    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from _timing import available_memory_bytes, cpu_model, emit, environment, time_jax

    import rnn_dyn as rd

    dtype = "float64" if args.x64 else "float32"
    rtol = RTOL[dtype]
    env = {"cpu_model": cpu_model()}
    rng = np.random.default_rng(args.seed)
    key = jax.random.key(args.seed)
    n_steps = args.steps
    iters = {
        "traj_matfree": args.num_iters
        or _default(rd.trajectory_lipschitz, "num_iters"),
        "steps_matfree": args.steps_num_iters
        or _default(rd.jacobian_norms, "num_iters"),
    }
    last: dict[str, tuple[float, float]] = {}  # method -> (run_s, work) of last run
    reverse_s: dict[int, float] = {}
    skipped: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    costs: list[dict[str, Any]] = []
    ran: dict[tuple[str, int], bool] = {}

    for hidden in args.hidden:
        model = rd.models.lstm(1, hidden, readout=1)
        fns = _methods(model, args)
        # numpy, not model.init: eager JAX ops (and threefry) cost seconds to
        # compile. Same distribution as model.init: U(-1/sqrt(H), 1/sqrt(H)).
        shapes = jax.eval_shape(model.init, jax.random.key(0))
        params = jax.tree.map(
            ft.partial(_uniform, rng, 1.0 / np.sqrt(hidden), dtype), shapes
        )
        x0 = model.initial_state(params)
        us = jnp.asarray(rng.standard_normal((n_steps, 1)).astype(dtype))
        ys = jnp.asarray(rng.standard_normal((n_steps, 1)).astype(dtype))
        inputs = (params, x0, us, ys, key)
        p = sum(a.size for a in jax.tree.leaves(params))
        values: dict[str, Any] = {}
        for method in [m for m in METHODS if m in args.methods]:
            base = {"bench": BENCH, "kind": "case", "method": method, "H": hidden}
            base |= {"P": p, "N": n_steps, "dtype": dtype} | env | environment()
            if method in iters:
                base["num_iters"] = iters[method]
            if method.endswith("dense"):
                base["dense_norm"] = args.dense_norm
            w = work(method, n_steps, hidden)
            est = last[method][0] * w / last[method][1] if method in last else 0.0
            avail = available_memory_bytes()
            max_bytes = None if avail is None else int(0.7 * avail)
            if 2 * est > args.max_seconds:
                # Compile anyway (seconds) to report the memory it would need,
                # and to name memory as the reason where it also applies.
                rec = _compile_only(fns[method], inputs)
                too_big = max_bytes is not None and (rec["peak_bytes"] or 0) > max_bytes
                rec |= {"status": "skipped", "estimated_run_s": est}
                rec["skip_reason"] = (
                    f"needs {rec['peak_bytes'] / 2**30:.1f} GiB > "
                    f"{max_bytes / 2**30:.1f} GiB allowed"
                    if too_big
                    else f"estimated {est:.0f} s per call (scaled from the last "
                    f"smaller H by the cost model); first call + 1 repeat > "
                    f"--max-seconds {args.max_seconds:g}"
                )
            else:
                rec, out = time_jax(
                    fns[method],
                    inputs,
                    repeat=args.repeat,
                    budget_s=args.max_seconds,
                    max_bytes=max_bytes,
                )
                if out is not None:
                    values[method] = jax.tree.map(np.asarray, out)
                del out
            rec["mem_available_bytes"] = avail
            ran[(method, hidden)] = rec["status"] == "ok"
            if rec["status"] == "ok":
                last[method] = (rec["run_s"], w)
                if method == "reverse":
                    reverse_s[hidden] = rec["run_s"]
            else:
                skipped.append(
                    {"method": method, "H": hidden, "why": rec["skip_reason"]}
                )
            if method == "traj_matfree" and method in values:
                sigma, history = values[method]
                rec["sigma"] = float(sigma)
                rec["iterations"] = int(np.isfinite(history).sum())
                rec["iters_to_rtol"] = _converged_at(history, rtol)
                values[method] = np.asarray(sigma)
            if method == "steps_matfree" and method in values:
                rec["f_joint"], rec["f_state"], rec["g_joint"] = values[method].tolist()
            if method == "traj_dense" and method in values:
                rec["sigma"] = float(values[method])
            if method == "steps_dense" and method in values:
                rec["f_joint"], rec["f_state"], rec["g_joint"] = values[method].tolist()
            if method in MATFREE_DENSE and rec["status"] == "ok":
                if hidden in reverse_s:
                    rec["cost_in_gradients"] = rec["run_s"] / reverse_s[hidden]
                    costs.append(
                        {
                            "method": method,
                            "H": hidden,
                            "cost_in_gradients": rec["cost_in_gradients"],
                            "met": bool(rec["cost_in_gradients"] <= MAX_GRADIENTS),
                        }
                    )
            dense = MATFREE_DENSE.get(method)
            if dense in values and method in values:
                a, b = np.asarray(values[method]), np.asarray(values[dense])
                err = float(np.max(np.abs(a - b) / np.abs(b)))
                rec["rel_err_vs_dense"] = err
                checks.append(
                    {"method": method, "H": hidden, "rel_err": err, "rtol": rtol}
                    | {"passed": bool(err <= rtol)}
                )
            emit(base | rec)

    fits = []
    for matfree, dense in MATFREE_DENSE.items():
        for hidden in args.hidden:
            if (dense, hidden) in ran and not ran[(dense, hidden)]:
                fits.append(
                    {"method": matfree, "H": hidden, "dense_skipped": True}
                    | {"matfree_ran": ran.get((matfree, hidden), False)}
                )
    summary = {"bench": BENCH, "kind": "summary", "dtype": dtype, "N": n_steps}
    summary |= env | environment()
    summary["checks"] = checks
    summary["checks_passed"] = all(c["passed"] for c in checks)
    summary["targets"] = {
        "matfree_runs_where_dense_skipped": fits,
        "cost_in_gradients": costs,
        "max_gradients": MAX_GRADIENTS,
    }
    summary["skipped"] = skipped
    emit(summary)
    return 0 if summary["checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
