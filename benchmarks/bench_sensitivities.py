"""Benchmark the gradient and sensitivity routes of rnn_dyn against each other.

Model: the symbol-classification LSTM ``rnn_dyn.models.lstm(6, 50, readout=4)``
(input 6, hidden 50, 4 logits), cross-entropy on the last step with an integer
target. A batch is ``jax.vmap`` over ``(x0, us, ys)`` with shared parameters;
gradients are the mean over the batch. Methods (one JSON line per method and
case):

- ``reverse``     jit(vmap(rd.reverse_gradient))              BPTT
- ``forward_s1``  jit(vmap(rd.forward_gradient))              (S1) with A_t, B_t
- ``jacfwd``      jit(vmap(jax.jacfwd(rd.cost) w.r.t. params))
- ``jvp``         jit(vmap(rd.directional_sensitivity))       one direction
- ``simulate``    jit(vmap(rd.simulate))                      forward only
- ``torch``       torch.nn.LSTM + nn.Linear, forward + loss.backward(), run in a
                  fresh subprocess (for its peak-RSS figure) with the same weights;
                  its gradient is checked once, untimed, against ``reverse``.

Experimental variants of ``reverse``, not in the default set: each copies the
library's cost into this file with one change, to try speed-ups without
touching ``rnn_dyn``; all check their gradient against ``reverse``.

- ``reverse_sum``     jax.grad of the batch-mean cost, so the parameter
                      cotangent is summed over the batch inside each step
                      instead of being carried per example;
- ``reverse_lastg``   the scan runs ``f`` only and ``g`` is evaluated once, at
                      the last step (``rd.cost`` evaluates ``g``, which for the
                      cells re-runs ``f``, at every step even with last_only);
- ``reverse_unroll``  ``reverse_lastg`` with ``lax.scan(..., unroll=8)``;
- ``reverse_remat``   the library's scan step (f and g) wrapped in
                      ``jax.checkpoint``: the forward pass stores only x_t and
                      the backward pass recomputes the gates;
- ``reverse_best``    ``reverse_lastg`` + ``jax.checkpoint`` on the step + batch
                      summed inside AD (``reverse_sum``);
- ``reverse_hoist``   a hand-written LSTM laid out like PyTorch's: input
                      projection for all t as one matmul before the scan,
                      ``(h, c)`` carry, readout once, batch summed inside AD.

Run ``python benchmarks/bench_sensitivities.py --help`` for the flags; results
and the machine that produced them are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import functools as ft
import sys
from typing import Any

import numpy as np

BENCH = "sensitivities"
INPUT, HIDDEN, OUTPUT = 6, 50, 4
DEFAULT_METHODS = ("reverse", "forward_s1", "jacfwd", "jvp", "simulate", "torch")
EXTRA_METHODS = (
    "reverse_sum",
    "reverse_lastg",
    "reverse_unroll",
    "reverse_remat",
    "reverse_best",
    "reverse_hoist",
)
GRAD_RTOL = {"float32": 1e-4, "float64": 1e-9}
# The targets of the issue: (numerator, denominator, max ratio, cases or None=all).
TARGETS = (
    ("reverse_vs_torch", "reverse_sum", "torch", 1.0, [(200, 100)]),
    ("forward_s1_vs_jacfwd", "forward_s1", "jacfwd", 1.5, None),
    ("jvp_vs_simulate", "jvp", "simulate", 4.0, None),
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from _timing import BenchParser, fill_defaults, int_list

    ap = BenchParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N=10, batch 2: CI smoke run")
    ap.add_argument(
        "--repeat", type=int, default=None, help="timed calls per case (default 5)"
    )
    ap.add_argument("--lengths", type=int_list, default=None, help="e.g. 50,200,800")
    ap.add_argument("--batches", type=int_list, default=None, help="e.g. 1,100")
    ap.add_methods(DEFAULT_METHODS + EXTRA_METHODS)
    ap.add_argument("--x64", action="store_true", help="float64 (JAX and torch)")
    ap.add_max_seconds(120, 5, per_case=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_torch_worker()
    args = ap.parse_args(argv)
    if args.quick:
        fill_defaults(args, lengths=[10], batches=[2], repeat=2, max_seconds=5.0)
    fill_defaults(
        args, lengths=[50, 200, 800], batches=[1, 100], repeat=5, max_seconds=120.0
    )
    args.methods = ap.pick_methods(
        args.methods, DEFAULT_METHODS, DEFAULT_METHODS + EXTRA_METHODS
    )
    return args


# --------------------------------------------------------------------------- torch


def torch_worker(path: str) -> None:
    """Time torch forward+backward for the case stored in ``path`` (an .npz).

    Runs in a fresh process: peak-RSS growth over the forward/backward calls is
    then the memory they needed (plus allocator and thread-pool overhead).
    Prints one JSON object on stdout.
    """
    import torch
    import torch.nn.functional as F
    from _timing import (
        by_prefix,
        emit,
        load_case,
        rss_baseline,
        rss_growth,
        time_callable,
        torch_fields,
    )

    data, meta = load_case(path)
    dtype = torch.float64 if meta["dtype"] == "float64" else torch.float32
    lstm = torch.nn.LSTM(INPUT, HIDDEN, batch_first=True).to(dtype)
    readout = torch.nn.Linear(HIDDEN, OUTPUT).to(dtype)
    sd = by_prefix(data, "param/")
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items() if "_l0" in k})
    readout.load_state_dict(
        {
            k.removeprefix("readout."): torch.from_numpy(v)
            for k, v in sd.items()
            if k.startswith("readout.")
        }
    )
    us = torch.from_numpy(data["us"])
    ys = torch.from_numpy(data["ys"]).long()
    x0 = torch.from_numpy(data["x0"])
    h0 = x0[:, :HIDDEN].unsqueeze(0).contiguous()
    c0 = x0[:, HIDDEN:].unsqueeze(0).contiguous()
    params = list(lstm.parameters()) + list(readout.parameters())

    def fwd_bwd() -> None:
        for p in params:
            p.grad = None
        out, _ = lstm(us, (h0, c0))
        F.cross_entropy(readout(out[:, -1]), ys).backward()

    def fwd() -> None:
        with torch.no_grad():
            out, _ = lstm(us, (h0, c0))
            readout(out[:, -1])

    baseline = rss_baseline()
    fwd_bwd()  # the gradient check: one untimed call
    grads = {f"{k}": p.grad for k, p in lstm.named_parameters()}
    grads |= {f"readout.{k}": p.grad for k, p in readout.named_parameters()}
    ref = by_prefix(data, "grad/")
    diff = np.concatenate([(grads[k].numpy() - ref[k]).ravel() for k in sorted(ref)])
    norm = np.concatenate([ref[k].ravel() for k in sorted(ref)])
    rel = float(np.linalg.norm(diff) / np.linalg.norm(norm))
    per_key = {
        k: float(np.linalg.norm(grads[k].numpy() - ref[k]) / np.linalg.norm(ref[k]))
        for k in sorted(ref)
    }
    tol = meta["rtol"]
    record: dict[str, Any] = time_callable(
        fwd_bwd, repeat=meta["repeat"], budget_s=meta["budget_s"]
    )
    record |= rss_growth(baseline)
    fwd_rec = time_callable(fwd, repeat=meta["repeat"], budget_s=meta["budget_s"])
    record["forward_s"] = fwd_rec["run_s"]
    record |= torch_fields()
    record["grad_check"] = {
        "reference": "rnn_dyn.reverse_gradient (batch mean)",
        "rel_err": rel,
        "max_rel_err_per_tensor": max(per_key.values()),
        "rtol": tol,
        "passed": bool(rel <= tol),
    }
    emit(record)


def run_torch_case(
    model: Any,
    params: Any,
    x0: Any,
    us: Any,
    ys: Any,
    grad: Any,
    *,
    dtype: str,
    repeat: int,
    budget_s: float,
) -> dict[str, Any]:
    """Run `torch_worker` on the case in a subprocess (`run_torch_worker`)."""
    from _timing import run_torch_worker

    arrays = {"x0": np.asarray(x0), "us": np.asarray(us), "ys": np.asarray(ys)}
    arrays |= {f"param/{k}": v for k, v in model.state_dict(params).items()}
    arrays |= {f"grad/{k}": v for k, v in model.state_dict(grad).items()}
    meta = {"dtype": dtype, "repeat": repeat, "budget_s": budget_s}
    meta["rtol"] = GRAD_RTOL[dtype]
    return run_torch_worker(__file__, arrays, meta)


# --------------------------------------------------------------------------- JAX


def _methods(model: Any, loss: dict[str, Any]) -> dict[str, Any]:
    """Return the batched JAX functions ``fn(params, x0s, uss, yss, v)``."""
    import jax
    import jax.numpy as jnp

    import rnn_dyn as rd

    def per_example(grad_fn: Any) -> Any:
        """vmap a one-sequence gradient over the batch, then average."""

        def batched(p, x0s, uss, yss, v):
            del v
            grads = jax.vmap(lambda x0, us, ys: grad_fn(p, x0, us, ys))(x0s, uss, yss)
            return jax.tree.map(lambda a: jnp.mean(a, axis=0), grads)

        return batched

    def grad_of_mean(cost_fn: Any) -> Any:
        """jax.grad of the batch-mean cost: the batch is summed inside AD."""

        def batched(p, x0s, uss, yss, v):
            del v

            def mean_cost(q):
                costs = jax.vmap(lambda a, b, c: cost_fn(q, a, b, c))(x0s, uss, yss)
                return jnp.mean(costs)

            return jax.grad(mean_cost)(p)

        return batched

    def reverse(p, x0, us, ys):
        return rd.reverse_gradient(model, p, x0, us, ys, **loss)

    def forward_s1(p, x0, us, ys):
        return rd.forward_gradient(model, p, x0, us, ys, **loss)

    def jacfwd(p, x0, us, ys):
        return jax.jacfwd(lambda q: rd.cost(model, q, x0, us, ys, **loss))(p)

    def jvp(p, x0s, uss, yss, v):
        del yss
        return jax.vmap(lambda x0, us: rd.directional_sensitivity(model, p, x0, us, v))(
            x0s, uss
        )

    def simulate(p, x0s, uss, yss, v):
        del yss, v
        return jax.vmap(lambda x0, us: rd.simulate(model, p, x0, us))(x0s, uss)

    def lib_cost(q, x0, us, ys):
        return rd.cost(model, q, x0, us, ys, **loss)

    return {
        "reverse": per_example(reverse),
        "forward_s1": per_example(forward_s1),
        "jacfwd": per_example(jacfwd),
        "jvp": jvp,
        "simulate": simulate,
        "reverse_sum": grad_of_mean(lib_cost),
        "reverse_lastg": per_example(jax.grad(_last_output_cost(model))),
        "reverse_unroll": per_example(jax.grad(_last_output_cost(model, unroll=8))),
        "reverse_remat": per_example(jax.grad(_remat_cost(model, loss))),
        "reverse_best": grad_of_mean(_last_output_cost(model, remat=True)),
        "reverse_hoist": grad_of_mean(_hoisted_cost()),
    }


def _remat_cost(model: Any, loss: dict[str, Any]) -> Any:
    """``rd.cost`` with its scan step (``_rollout``'s) under ``jax.checkpoint``."""
    import jax

    import rnn_dyn as rd

    assert loss == {"loss": "cross_entropy", "last_only": True}

    def cost(p, x0, us, ys):
        def step(x, u):
            return model.f(p, x, u), (x, model.g(p, x, u))

        step = jax.checkpoint(step, prevent_cse=False)
        _, (_, outputs) = jax.lax.scan(step, x0, us)
        return rd.cross_entropy(outputs[-1], ys)

    return cost


def _last_output_cost(model: Any, *, unroll: int = 1, remat: bool = False) -> Any:
    """``rd.cost(..., loss="cross_entropy", last_only=True)`` evaluating g once.

    The library's ``cost`` scans ``_rollout``, which evaluates ``g`` at every
    step, and the cells' ``g`` re-evaluates ``f``; with ``last_only`` only the
    last output is used. Here the scan runs ``f`` alone and ``g`` is applied to
    ``(x_{N-1}, u_{N-1})`` at the end. Same value, same gradient. ``remat``
    wraps the step in ``jax.checkpoint``.
    """
    import jax

    import rnn_dyn as rd

    def cost(p, x0, us, ys):
        def step(x, u):
            return model.f(p, x, u), None

        if remat:
            step = jax.checkpoint(step, prevent_cse=False)
        x_last, _ = jax.lax.scan(step, x0, us[:-1], unroll=unroll)
        return rd.cross_entropy(model.g(p, x_last, us[-1]), ys)

    return cost


def _hoisted_cost() -> Any:
    """Hand-written LSTM last-step cost, shaped like PyTorch's CPU LSTM.

    Same maths as ``rd.cost(..., loss="cross_entropy", last_only=True)``: the
    input projection ``W_ih u_t + b_ih + b_hh`` for all t is one matmul before
    the scan, the carry is ``(h, c)`` (no concatenate/slice per step) and the
    readout is applied once.
    """
    import jax
    import jax.numpy as jnp

    import rnn_dyn as rd

    def cost(p, x0, us, ys):
        pre_in = us @ p.weight_ih.T + (p.bias_ih + p.bias_hh)

        def step(carry, gi):
            h, c = carry
            i, f, g, o = jnp.split(gi + p.weight_hh @ h, 4)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), None

        (h, _), _ = jax.lax.scan(step, (x0[:HIDDEN], x0[HIDDEN:]), pre_in)
        return rd.cross_entropy(p.readout_weight @ h + p.readout_bias, ys)

    return cost


def _rel_tree_err(a: Any, b: Any) -> float:
    import jax
    from jax.flatten_util import ravel_pytree

    fa, _ = ravel_pytree(jax.tree.map(np.asarray, a))
    fb, _ = ravel_pytree(jax.tree.map(np.asarray, b))
    return float(np.linalg.norm(np.asarray(fa) - np.asarray(fb)) / np.linalg.norm(fb))


def _evaluate_targets(results: dict[tuple[str, int, int], float]) -> list[dict]:
    out = []
    for name, num, den, limit, cases in TARGETS:
        keys = sorted({(n, b) for (_, n, b) in results})
        for n, b in keys if cases is None else cases:
            if (num, n, b) in results and (den, n, b) in results:
                ratio = results[(num, n, b)] / results[(den, n, b)]
                out.append(
                    {
                        "target": name,
                        "N": n,
                        "batch": b,
                        "ratio": ratio,
                        "limit": limit,
                        "met": bool(ratio <= limit),
                    }
                )
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.torch_worker:
        torch_worker(args.torch_worker)
        return 0

    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from _timing import (
        available_memory_bytes,
        cpu_model,
        emit,
        environment,
        time_jax,
    )

    import rnn_dyn as rd

    try:
        import torch  # noqa: F401 - only probing whether the worker can run

        have_torch = True
    except ImportError:
        have_torch = False

    dtype = "float64" if args.x64 else "float32"
    env = {"cpu_model": cpu_model()}
    model = rd.models.lstm(INPUT, HIDDEN, readout=OUTPUT)
    loss = {"loss": "cross_entropy", "last_only": True}
    # numpy, not model.init: eager JAX ops (and threefry) cost seconds to compile.
    # Same distribution as model.init and PyTorch: U(-1/sqrt(H), 1/sqrt(H)).
    rng = np.random.default_rng(args.seed)
    bound = 1.0 / np.sqrt(HIDDEN)
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    params = jax.tree.map(
        lambda a: jnp.asarray(rng.uniform(-bound, bound, a.shape).astype(dtype)),
        shapes,
    )
    direction = jax.tree.map(
        lambda a: jnp.asarray(rng.standard_normal(a.shape).astype(dtype)), shapes
    )
    fns = _methods(model, loss)

    cases = sorted(
        ((n, b) for n in args.lengths for b in args.batches), key=lambda c: c[0] * c[1]
    )
    avail = available_memory_bytes()
    max_bytes = None if avail is None else int(0.7 * avail)
    # A JAX case: --repeat timed calls within --max-seconds; compiled but not
    # run where its buffers exceed 70 % of MemAvailable.
    time_case = ft.partial(
        time_jax, repeat=args.repeat, budget_s=args.max_seconds, max_bytes=max_bytes
    )
    rate: dict[str, float] = {}  # seconds per (N * batch), from the last case run
    times: dict[tuple[str, int, int], float] = {}
    skipped: list[dict[str, Any]] = []
    reference: dict[tuple[int, int], Any] = {}
    checks: list[bool] = []

    def reference_grad(n: int, b: int, inputs: tuple[Any, ...]) -> Any:
        """rd.reverse_gradient for the case (untimed unless `reverse` ran)."""
        if (n, b) not in reference:
            reference[(n, b)] = jax.jit(fns["reverse"])(*inputs)
        return reference[(n, b)]

    for n, b in cases:
        symbols = rng.integers(0, INPUT, size=(b, n))
        uss = jnp.asarray(np.eye(INPUT, dtype=dtype)[symbols])
        x0s = jnp.asarray(np.zeros((b, model.state_size), dtype))
        yss = jnp.asarray(rng.integers(0, OUTPUT, size=(b,)).astype(np.int32))
        inputs = (params, x0s, uss, yss, direction)
        for method in args.methods:
            base = {"bench": BENCH, "kind": "case", "method": method, "N": n}
            base |= {"batch": b, "dtype": dtype} | env | environment()
            est = rate.get(method, 0.0) * n * b
            if method == "torch" and not have_torch:
                rec = {"status": "skipped", "skip_reason": "torch not installed"}
            elif 2 * est > args.max_seconds:
                rec = {
                    "status": "skipped",
                    "estimated_run_s": est,
                    "skip_reason": f"estimated {est:.0f} s per call (linear in "
                    f"N*batch from the last smaller case); first call + 1 repeat "
                    f"> --max-seconds {args.max_seconds:g}",
                }
            elif method == "torch":
                rec = run_torch_case(
                    model,
                    params,
                    x0s,
                    uss,
                    yss,
                    reference_grad(n, b, inputs),
                    dtype=dtype,
                    repeat=args.repeat,
                    budget_s=args.max_seconds,
                )
                rec["status"] = "ok"
                checks.append(rec["grad_check"]["passed"])
            else:
                rec, out = time_case(fns[method], inputs)
                if out is not None and method == "reverse":
                    reference[(n, b)] = out
                elif out is not None and method not in ("jvp", "simulate"):
                    ref = reference_grad(n, b, inputs)
                    rec["rel_err_vs_reverse"] = _rel_tree_err(out, ref)
                del out
            if rec["status"] == "ok":
                rate[method] = rec["run_s"] / (n * b)
                times[(method, n, b)] = rec["run_s"]
            else:
                skipped.append(
                    {"method": method, "N": n, "batch": b, "why": rec["skip_reason"]}
                )
            emit(base | rec)

    summary = {"bench": BENCH, "kind": "summary", "dtype": dtype} | env | environment()
    summary["targets"] = _evaluate_targets(times)
    summary["skipped"] = skipped
    summary["torch_grad_check_passed"] = all(checks) if checks else None
    emit(summary)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
