"""Training steps per second on the symbols task: rnn_dyn against PyTorch.

The model is the symbol-classification LSTM: ``rnn_dyn.models.lstm(6, 50,
readout=4)`` (hidden 50, 4 logits), sequences of length 200, minibatches of
100, cross-entropy on the last output, Adam (lr 1e-3) after
``clip_by_global_norm(0.25)``, float32. One epoch is K minibatch steps
(``--steps``, default 10) over a training set of K·100 ``symbols`` sequences.
Methods (one JSON line each):

- ``jax_train_step``  the library's own epoch kernel, exactly as
                      ``rnn_dyn.train.fit`` runs it for one seed:
                      ``rnn_dyn.train._epoch`` with the ``_Statics`` that
                      ``fit`` builds (``fit`` vmaps it over seeds only when
                      there are several); one call is one
                      jitted epoch of K steps (shuffle, gather, gradient,
                      clip, Adam, all inside a ``lax.scan``).
- ``jax_step``        one jitted train step written with the public API, as a
                      user would: ``jax.value_and_grad`` of the batch mean of
                      ``jax.vmap(rd.cost)(..., loss="cross_entropy",
                      last_only=True)``, then an ``optax.chain`` of
                      ``clip_by_global_norm`` and ``adam``; a Python loop
                      calls it K times per epoch.
- ``torch``           ``nn.LSTM(6, 50, batch_first=True)`` + ``nn.Linear(50,
                      4)``, ``F.cross_entropy`` on the last output,
                      ``clip_grad_norm_(..., 0.25)``, ``torch.optim.Adam``; a
                      Python loop of K steps, in a fresh subprocess (for its
                      peak-RSS figure); ``--torch-threads`` sets its threads.

Experimental methods (not run by default; ``--methods`` selects them):

- ``fit``             ``rnn_dyn.train.fit`` itself, in memory, for 1 +
                      ``--repeat`` epochs; ``run_s`` is the shortest epoch
                      after the first by the wall clock between ``on_epoch``
                      calls, so it includes ``fit``'s evaluation of the
                      training and validation (100) sequences after every
                      epoch. ``history_seconds_min`` is what ``fit`` itself
                      logged as ``seconds``, which does not wait for the
                      asynchronously dispatched epoch (see the README);
- ``jax_epoch_vmap``  ``_epoch`` vmapped over a seed axis of length one (what
                      ``fit`` ran before it dropped the axis for one seed);
- ``jax_naive``       a hand-written batch-major LSTM (``h @ W_hh.T`` on
                      ``(100, 50)`` blocks in a ``lax.scan``, no
                      ``jax.checkpoint``) with the same optax step, called K
                      times per epoch: the "straightforward lax.scan" of the
                      issue.

All methods start from the same weights (``init_state`` of the library's
``TrainConfig``, handed to PyTorch by ``model.state_dict``) and take the same
K minibatches in the order that ``_epoch`` draws for epoch 1. Two checks,
untimed: the first-step gradient of PyTorch against ``jax.grad`` of the
``jax_step`` loss (relative 2-norm error, tolerance 1e-4); and the parameters
after the first epoch of every method against ``jax_train_step``'s (or
``jax_step``'s) (relative 2-norm error, tolerance 1e-3: Adam's first steps
move each weight by about ±lr, so a gradient entry near zero whose sign
differs in float32 moves that weight by up to 2·lr). The script exits 1 if a
check fails.

``--quick`` (N = 20, batch 10, K = 2, one repeat) compiles with
``--xla_backend_optimization_level=0`` unless XLA_FLAGS sets a level.
Results and the machine that produced them are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import functools as ft
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

BENCH = "train"
INPUT, HIDDEN, OUTPUT = 6, 50, 4
DEFAULT_METHODS = ("jax_train_step", "jax_step", "torch")
EXTRA_METHODS = ("fit", "jax_epoch_vmap", "jax_naive")
GRAD_RTOL = 1e-4
PARAM_RTOL = 1e-3
# JAX methods whose steps/s must reach PyTorch's (the target).
TARGET_METHODS = ("jax_train_step", "jax_step")


def _int_list(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="N=20, batch 10, K=2: CI smoke run"
    )
    ap.add_argument(
        "--repeat", type=int, default=None, help="timed epochs per method (default 5)"
    )
    ap.add_argument("--steps", type=int, default=None, help="K: steps per epoch (10)")
    ap.add_argument("--seq-len", type=int, default=None, help="N (default 200)")
    ap.add_argument("--batch", type=int, default=None, help="batch size (default 100)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=0.25)
    ap.add_argument(
        "--methods",
        type=lambda s: [m for m in s.split(",") if m],
        default=None,
        help=f"comma-separated subset of {DEFAULT_METHODS + EXTRA_METHODS}",
    )
    ap.add_argument(
        "--torch-threads",
        type=_int_list,
        default=None,
        help="torch.set_num_threads for the torch worker; a list runs one torch "
        "line per value; 0 keeps torch's default (default: 0)",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="cut a method's timed epochs so that the first one plus the "
        "repeats stay within this (default 120; 10 with --quick)",
    )
    ap.add_argument("--seed", type=int, default=0, help="weights, data and order")
    ap.add_argument("--torch-worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.seq_len = args.seq_len or 20
        args.batch = args.batch or 10
        args.steps = args.steps or 2
        args.repeat = args.repeat or 1
        args.max_seconds = args.max_seconds or 10.0
    args.seq_len = args.seq_len or 200
    args.batch = args.batch or 100
    args.steps = args.steps or 10
    args.repeat = args.repeat or 5
    args.max_seconds = args.max_seconds or 120.0
    args.torch_threads = args.torch_threads or [0]
    args.methods = args.methods or list(DEFAULT_METHODS)
    unknown = set(args.methods) - set(DEFAULT_METHODS + EXTRA_METHODS)
    if unknown:
        ap.error(f"unknown methods {sorted(unknown)}")
    if min(args.seq_len, args.batch, args.steps, args.repeat) < 1:
        ap.error("--seq-len, --batch, --steps and --repeat must be >= 1")
    return args


def _rel_err(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Relative 2-norm error of ``a`` against ``b`` over all entries."""
    keys = sorted(b)
    diff = np.concatenate([(np.asarray(a[k]) - b[k]).ravel() for k in keys])
    ref = np.concatenate([b[k].ravel() for k in keys])
    return float(np.linalg.norm(diff) / np.linalg.norm(ref))


def _n_repeats(first: float, repeat: int, budget_s: float) -> int:
    """Cut ``repeat`` so that first call + repeats stay within ``budget_s``."""
    if first <= 0:
        return repeat
    return max(1, min(repeat, int((budget_s - first) / first)))


def _rates(run_s: float, steps: int) -> dict[str, float]:
    return {"steps_per_s": steps / run_s, "ms_per_step": 1e3 * run_s / steps}


# --------------------------------------------------------------------------- torch


def torch_worker(path: str) -> None:
    """Time K PyTorch training steps per epoch for the case stored in ``path``.

    Runs in a fresh process, so that peak-RSS growth over the training calls is
    the memory they needed (plus allocator and thread-pool overhead). Prints one
    JSON object on stdout.
    """
    import torch
    import torch.nn.functional as F
    from _timing import rss_now, rss_peak, rss_peak_reset, summarise

    data = dict(np.load(path, allow_pickle=False))
    meta = json.loads(str(data.pop("meta")))
    if meta["threads"] > 0:
        torch.set_num_threads(meta["threads"])
    lstm = torch.nn.LSTM(INPUT, HIDDEN, batch_first=True)
    readout = torch.nn.Linear(HIDDEN, OUTPUT)

    def by_prefix(prefix: str) -> dict[str, np.ndarray]:
        return {
            k.removeprefix(prefix): v for k, v in data.items() if k.startswith(prefix)
        }

    init = by_prefix("param/")
    lstm.load_state_dict(
        {k: torch.from_numpy(v) for k, v in init.items() if "_l0" in k}
    )
    readout.load_state_dict(
        {
            k.removeprefix("readout."): torch.from_numpy(v)
            for k, v in init.items()
            if k.startswith("readout.")
        }
    )
    # The K minibatches of the epoch, in _epoch's order, as separate tensors.
    us = [torch.from_numpy(u) for u in data["us"]]
    ys = [torch.from_numpy(y).long() for y in data["ys"]]
    params = list(lstm.parameters()) + list(readout.parameters())
    opt = torch.optim.Adam(params, lr=meta["lr"])

    def named() -> dict[str, torch.Tensor]:
        out = dict(lstm.named_parameters())
        return out | {f"readout.{k}": p for k, p in readout.named_parameters()}

    def loss_backward(u: torch.Tensor, y: torch.Tensor) -> None:
        out, _ = lstm(u)
        F.cross_entropy(readout(out[:, -1]), y).backward()

    def epoch() -> None:
        for u, y in zip(us, ys, strict=True):
            opt.zero_grad(set_to_none=True)
            loss_backward(u, y)
            if meta["clip"] > 0:
                torch.nn.utils.clip_grad_norm_(params, meta["clip"])
            opt.step()

    rss0 = rss_now()
    reset = rss_peak_reset()
    # The gradient check: the first step's gradient, untimed, no update.
    loss_backward(us[0], ys[0])
    grads = {k: p.grad.numpy() for k, p in named().items()}
    grad_ref = by_prefix("grad/")
    grad_rel = _rel_err(grads, grad_ref)
    opt.zero_grad(set_to_none=True)
    # The first epoch (untimed in the minimum) gives the parameter check.
    t0 = time.perf_counter()
    epoch()
    first = time.perf_counter() - t0
    after = {k: p.detach().numpy().copy() for k, p in named().items()}
    after_ref = by_prefix("after/")
    param_rel = _rel_err(after, after_ref) if after_ref else None
    update_rel = (
        _rel_err(
            {k: after[k] - init[k] for k in after_ref},
            {k: after_ref[k] - init[k] for k in after_ref},
        )
        if after_ref
        else None
    )
    times = []
    for _ in range(_n_repeats(first, meta["repeat"], meta["budget_s"])):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    record: dict[str, Any] = summarise(first, times)
    peak = rss_peak()
    record["peak_bytes"] = None if rss0 is None else int(peak - rss0)
    record["memory_source"] = (
        "rss_growth_fresh_process" if reset else "maxrss_growth_fresh_process"
    )
    record["torch_version"] = torch.__version__
    record["torch_num_threads"] = torch.get_num_threads()
    record["grad_check"] = {
        "reference": "jax.grad of the jax_step loss, first minibatch",
        "rel_err": grad_rel,
        "rtol": meta["grad_rtol"],
        "passed": bool(grad_rel <= meta["grad_rtol"]),
    }
    if param_rel is not None:
        record["param_check"] = {
            "reference": meta["after_reference"],
            "rel_err": param_rel,
            "update_rel_err": update_rel,
            "rtol": meta["param_rtol"],
            "passed": bool(param_rel <= meta["param_rtol"]),
        }
    print(json.dumps(record), flush=True)


def run_torch_case(
    arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> dict[str, Any]:
    """Write the case to an .npz, run `torch_worker` in a subprocess, parse it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.npz")
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--torch-worker", path],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"torch worker failed:\n{proc.stderr}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    record["worker_wall_s"] = wall
    return record


# --------------------------------------------------------------------------- JAX


def _user_step(model: Any, x0: Any, clip: float, lr: float) -> tuple[Any, Any, Any]:
    """The train step a user writes with the public API: (opt, step, loss)."""
    import jax
    import jax.numpy as jnp
    import optax

    import rnn_dyn as rd

    opt = optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr))

    def loss(params, us, ys):
        cost = lambda u, y: rd.cost(
            model, params, x0, u, y, loss="cross_entropy", last_only=True
        )
        return jnp.mean(jax.vmap(cost)(us, ys))

    def step(params, opt_state, us, ys):
        value, grads = jax.value_and_grad(loss)(params, us, ys)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return opt, step, loss


def _naive_step(clip: float, lr: float) -> tuple[Any, Any]:
    """A plain batch-major LSTM step in ``lax.scan``; returns (opt, step)."""
    import jax
    import jax.numpy as jnp
    import optax

    opt = optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr))

    def loss(p, us, ys):
        def cell(carry, u):
            h, c = carry
            z = u @ p.weight_ih.T + p.bias_ih + h @ p.weight_hh.T + p.bias_hh
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

        zeros = jnp.zeros((us.shape[0], HIDDEN), us.dtype)
        (h, _), _ = jax.lax.scan(cell, (zeros, zeros), jnp.swapaxes(us, 0, 1))
        logits = h @ p.readout_weight.T + p.readout_bias
        picked = jnp.take_along_axis(logits, ys[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)

    def step(params, opt_state, us, ys):
        value, grads = jax.value_and_grad(loss)(params, us, ys)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return opt, step


def _time_step_loop(
    step: Callable[..., Any],
    state: tuple[Any, Any],
    batches: list[tuple[Any, Any]],
    *,
    repeat: int,
    budget_s: float,
) -> tuple[dict[str, Any], Any]:
    """Compile ``step`` once, then time epochs of ``len(batches)`` calls to it.

    Like ``_timing.time_jax``, but one timed call is a Python loop over the
    minibatches that threads (params, opt_state) through the compiled step, as
    a training loop does; only the epoch's end is waited for
    (``jax.block_until_ready``), so dispatch overlaps execution.
    """
    import jax
    from _timing import jax_memory, summarise

    t0 = time.perf_counter()
    lowered = jax.jit(step).lower(*state, *batches[0])
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()

    def epoch() -> Any:
        params, opt_state = state
        for u, y in batches:
            params, opt_state, loss = compiled(params, opt_state, u, y)
        return jax.block_until_ready((params, opt_state, loss))

    t3 = time.perf_counter()
    out = epoch()
    first = time.perf_counter() - t3
    times = []
    for _ in range(_n_repeats(first, repeat, budget_s)):
        t3 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t3)
    record = {"lower_s": t1 - t0, "compile_s": t2 - t1}
    record |= summarise(first, times) | jax_memory(compiled) | {"status": "ok"}
    return record, out


def _time_fit(fit: Callable[..., Any], config: Any) -> dict[str, Any]:
    """Run ``fit(config)`` in memory; time its epochs by the wall clock.

    An epoch's time is the interval between two ``on_epoch`` calls: ``fit``
    makes that call after reading the epoch's losses back (``float``), i.e.
    after the work is done. The first epoch includes compilation. The shortest
    ``seconds`` that ``fit`` itself logged is kept for comparison.
    """
    from _timing import summarise

    stamps = [time.perf_counter()]
    logged: list[float] = []

    def on_epoch(row: dict[str, Any]) -> None:
        stamps.append(time.perf_counter())
        logged.append(row["seconds"])

    fit(config, on_epoch=on_epoch)
    epochs = np.diff(stamps).tolist()
    rec = summarise(epochs[0], epochs[1:])
    rec |= {"history_seconds_min": min(logged[1:]), "fit_wall_s": sum(epochs)}
    return rec | {"peak_bytes": None, "memory_source": "not measured", "status": "ok"}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.torch_worker:
        torch_worker(args.torch_worker)
        return 0
    flags = os.environ.get("XLA_FLAGS", "")
    if args.quick and "xla_backend_optimization_level" not in flags:
        # Compilation is most of a smoke run, which needs no optimised code.
        os.environ["XLA_FLAGS"] = (
            flags + " --xla_backend_optimization_level=0"
        ).strip()

    import jax
    import jax.numpy as jnp
    from _timing import cpu_model, emit, environment, time_jax

    from rnn_dyn import train

    # Probe without importing: torch runs only in the worker subprocess.
    have_torch = importlib.util.find_spec("torch") is not None

    n_seq, batch, k_steps = args.seq_len, args.batch, args.steps
    config = train.TrainConfig(
        task="symbols",
        model="lstm",
        hidden=HIDDEN,
        seq_len=n_seq,
        epochs=1 + args.repeat,
        lr=args.lr,
        batch_size=batch,
        clip=args.clip,
        seeds=(args.seed,),
        data_seed=args.seed,
        n_train=k_steps * batch,
        n_val=batch,
    )
    # What fit builds before its first epoch (rnn_dyn.train.fit).
    task = train.make_task(config)
    model = train.make_model(config, task)
    statics = train._statics(config, model, task)
    state = train.init_state(config, model)
    us = jnp.asarray(task.train_inputs, jnp.float32)
    ys = jnp.asarray(task.train_targets, jnp.int32)
    lr = jnp.full((1,), args.lr, jnp.float32)
    keys = jnp.stack([jax.random.fold_in(jax.random.key(args.seed), 1)])
    # The minibatches of epoch 1, in the order _epoch draws them.
    order = np.asarray(jax.random.permutation(keys[0], us.shape[0])).reshape(
        k_steps, batch
    )
    batches = [(us[idx], ys[idx]) for idx in order]
    first_seed = lambda tree: jax.tree.map(lambda a: a[0], tree)
    params0, x0 = first_seed(state.params), first_seed(state.x0)
    opt, step, user_loss = _user_step(model, x0, args.clip, args.lr)
    opt_state0 = opt.init(params0)

    dtype = "float32"
    env = {"cpu_model": cpu_model(), "N": n_seq, "batch": batch, "steps": k_steps}
    env |= {"hidden": HIDDEN, "dtype": dtype}
    after: dict[str, dict[str, np.ndarray]] = {}  # params after epoch 1, by method
    rates: dict[str, float] = {}
    torch_rates: list[tuple[int, float]] = []
    checks: list[bool] = []

    def reference_after() -> tuple[str, dict[str, np.ndarray]]:
        for name in ("jax_train_step", "jax_step"):
            if name in after:
                return name, after[name]
        _, out = _time_step_loop(
            step, (params0, opt_state0), batches, repeat=1, budget_s=0.0
        )
        after["jax_step"] = model.state_dict(out[0])
        return "jax_step", after["jax_step"]

    def param_check(name: str) -> dict[str, Any] | None:
        ref_name, ref = next(
            ((m, after[m]) for m in ("jax_train_step", "jax_step") if m in after),
            (None, None),
        )
        if ref is None or ref_name == name:
            return None
        init = model.state_dict(params0)
        rel = _rel_err(after[name], ref)
        update = _rel_err(
            {k: after[name][k] - init[k] for k in ref},
            {k: ref[k] - init[k] for k in ref},
        )
        checks.append(rel <= PARAM_RTOL)
        return {
            "reference": ref_name,
            "rel_err": rel,
            "update_rel_err": update,
            "rtol": PARAM_RTOL,
            "passed": bool(rel <= PARAM_RTOL),
        }

    def epoch_kernel(vmapped: bool) -> tuple[Any, tuple[Any, ...]]:
        if vmapped:
            fn = jax.vmap(
                ft.partial(train._epoch, statics, model),
                in_axes=(0, 0, 0, 0, 0, None, None),
            )
            return fn, (state.params, state.x0, state.opt_state, lr, keys, us, ys)
        fn = ft.partial(train._epoch, statics, model)
        one = first_seed((state.params, state.x0, state.opt_state, lr, keys))
        return fn, (*one, us, ys)

    methods = [m for m in args.methods if m != "torch"]
    methods += ["torch"] * ("torch" in args.methods)
    for method in methods:
        if method == "torch":
            arrays: dict[str, np.ndarray] = {}
            ref_name = None
            if have_torch:
                ref_name, ref_after = reference_after()
                grad0 = jax.jit(jax.grad(user_loss))(params0, *batches[0])
                arrays = {f"param/{k}": v for k, v in model.state_dict(params0).items()}
                arrays |= {f"grad/{k}": v for k, v in model.state_dict(grad0).items()}
                arrays |= {f"after/{k}": v for k, v in ref_after.items()}
                arrays["us"] = np.stack([np.asarray(u) for u, _ in batches])
                arrays["ys"] = np.stack([np.asarray(y) for _, y in batches])
            for threads in args.torch_threads:
                base = {"bench": BENCH, "kind": "case", "method": method} | env
                if not have_torch:
                    rec = {"status": "skipped", "skip_reason": "torch not installed"}
                    emit(base | environment() | rec)
                    continue
                meta = {
                    "threads": threads,
                    "lr": args.lr,
                    "clip": args.clip,
                    "repeat": args.repeat,
                    "budget_s": args.max_seconds,
                    "grad_rtol": GRAD_RTOL,
                    "param_rtol": PARAM_RTOL,
                    "after_reference": ref_name,
                }
                rec = run_torch_case(arrays, meta) | {"status": "ok"}
                rec |= _rates(rec["run_s"], k_steps)
                checks.append(rec["grad_check"]["passed"])
                checks.append(rec["param_check"]["passed"])
                torch_rates.append((rec["torch_num_threads"], rec["steps_per_s"]))
                emit(base | environment() | rec)
            continue
        base = {"bench": BENCH, "kind": "case", "method": method} | env
        if method in ("jax_train_step", "jax_epoch_vmap"):
            fn, fn_args = epoch_kernel(vmapped=method == "jax_epoch_vmap")
            rec, out = time_jax(
                fn, fn_args, repeat=args.repeat, budget_s=args.max_seconds
            )
            params1 = out[0] if method == "jax_train_step" else first_seed(out[0])
        elif method in ("jax_step", "jax_naive"):
            if method == "jax_step":
                run_step, state0 = step, (params0, opt_state0)
            else:
                naive_opt, run_step = _naive_step(args.clip, args.lr)
                state0 = (params0, naive_opt.init(params0))
            rec, out = _time_step_loop(
                run_step, state0, batches, repeat=args.repeat, budget_s=args.max_seconds
            )
            params1 = out[0]
        else:  # fit
            rec = _time_fit(train.fit, config)
            params1 = None  # the same kernel as jax_train_step, many epochs on
        rec |= _rates(rec["run_s"], k_steps)
        if params1 is not None:
            after[method] = model.state_dict(params1)
            check = param_check(method)
            if check is not None:
                rec["param_check"] = check
        rates[method] = rec["steps_per_s"]
        emit(base | environment() | rec)

    summary = {"bench": BENCH, "kind": "summary"} | env | environment()
    summary["steps_per_s"] = rates | {f"torch_{t}_threads": r for t, r in torch_rates}
    targets = []
    if torch_rates:
        threads, best = max(torch_rates, key=lambda tr: tr[1])
        for name in TARGET_METHODS:
            if name in rates:
                targets.append(
                    {
                        "target": f"{name} >= torch",
                        "torch_reference": "fastest torch line of this run",
                        "torch_num_threads": threads,
                        "ratio": rates[name] / best,
                        "limit": 1.0,
                        "met": bool(rates[name] >= best),
                    }
                )
    summary["targets"] = targets
    summary["checks_passed"] = all(checks) if checks else None
    emit(summary)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
