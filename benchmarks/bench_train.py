"""Training steps per second on the symbols task: rnn_dyn against PyTorch.

The model is the symbol-classification LSTM: ``rnn_dyn.models.lstm(6, 50,
readout=4)`` (hidden 50, 4 logits), sequences of length 200, minibatches of
100, cross-entropy on the last output, Adam (lr 1e-3) after
``clip_by_global_norm(0.25)``, float32. One epoch is K minibatch steps
(``--steps``, default 10) over a training set of K·100 ``symbols`` sequences.
Methods (one JSON line each):

- ``jax_train_step``  the library's own epoch kernel, exactly as
                      ``rnn_dyn.train.fit`` runs it for one seed:
                      the kernel of ``rnn_dyn.train.make_train_step``
                      (``fit`` vmaps it over seeds only when
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
- ``jax_epoch_vmap``  that kernel vmapped over a seed axis of length one (what
                      ``fit`` ran before it dropped the axis for one seed);
- ``jax_naive``       a hand-written batch-major LSTM (``h @ W_hh.T`` on
                      ``(100, 50)`` blocks in a ``lax.scan``, no
                      ``jax.checkpoint``) with the same optax step, called K
                      times per epoch: the "straightforward lax.scan" of the
                      issue.

All methods start from the same weights (``init_state`` of the library's
``TrainConfig``, handed to PyTorch by ``model.state_dict``) and take the same
K minibatches in the order that the kernel draws for epoch 1. Two checks,
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
import sys
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


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from _timing import BenchParser, fill_defaults, quick_xla_flags, torch_last

    ap = BenchParser(description=__doc__.splitlines()[0])
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
    ap.add_train_options(DEFAULT_METHODS + EXTRA_METHODS, "0", 120)
    ap.add_argument("--seed", type=int, default=0, help="weights, data and order")
    args = ap.parse_args(argv)
    if args.quick:
        fill_defaults(args, seq_len=20, batch=10, steps=2, repeat=1, max_seconds=10.0)
    fill_defaults(args, seq_len=200, batch=100, steps=10, repeat=5, max_seconds=120.0)
    args.torch_threads = args.torch_threads or [0]
    # torch runs last: its checks need the JAX methods' results.
    args.methods = torch_last(
        ap.pick_methods(args.methods, DEFAULT_METHODS, DEFAULT_METHODS + EXTRA_METHODS)
    )
    if min(args.seq_len, args.batch, args.steps, args.repeat) < 1:
        ap.error("--seq-len, --batch, --steps and --repeat must be >= 1")
    quick_xla_flags(args.quick)
    return args


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
    from _timing import by_prefix, emit, load_case, time_torch_epochs

    data, meta = load_case(path)
    if meta["threads"] > 0:
        torch.set_num_threads(meta["threads"])
    lstm = torch.nn.LSTM(INPUT, HIDDEN, batch_first=True)
    readout = torch.nn.Linear(HIDDEN, OUTPUT)
    init = by_prefix(data, "param/")
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

    record = time_torch_epochs(
        epoch=epoch,
        first_backward=lambda: loss_backward(us[0], ys[0]),
        opt=opt,
        named=named,
        data=data,
        meta=meta,
        grad_reference="jax.grad of the jax_step loss, first minibatch",
        param_reference=meta["after_reference"],
    )
    emit(record)


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
    from _timing import jax_memory, summarise, time_repeats

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
    times = time_repeats(epoch, first, repeat=repeat, budget_s=budget_s)
    record = {"lower_s": t1 - t0, "compile_s": t2 - t1}
    record |= summarise(first, times) | jax_memory(compiled) | {"status": "ok"}
    return record, out


def main(argv: list[str] | None = None) -> int:
    from _timing import (
        beat_torch_targets,
        rel_err,
        time_fit,
        torch_installed,
        torch_lines,
    )

    args = _parse(argv)
    if args.torch_worker:
        torch_worker(args.torch_worker)
        return 0

    import jax
    import jax.numpy as jnp
    from _timing import cpu_model, emit, environment, time_jax

    from rnn_dyn import train

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
    task = train.make_data(config)
    model = train.make_model(config, task)
    train_step = train.make_train_step(config, model, task)
    state = train.init_state(config, model)
    us, ys = train_step.inputs, train_step.targets
    lr = jnp.full((1,), args.lr, jnp.float32)
    keys = jnp.stack([jax.random.fold_in(jax.random.key(args.seed), 1)])
    # The minibatches of epoch 1, in the order the kernel draws them.
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
        rel = rel_err(after[name], ref)
        update = rel_err(
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
            fn = jax.vmap(train_step.kernel, in_axes=(0, 0, 0, 0, 0, None, None))
            return fn, (state.params, state.x0, state.opt_state, lr, keys, us, ys)
        one = first_seed((state.params, state.x0, state.opt_state, lr, keys))
        return train_step.kernel, (*one, us, ys)

    for method in args.methods:
        base = {"bench": BENCH, "kind": "case", "method": method} | env
        if method == "torch":
            arrays: dict[str, np.ndarray] | None = None  # None: torch not installed
            ref_name = None
            if torch_installed():
                ref_name, ref_after = reference_after()
                grad0 = jax.jit(jax.grad(user_loss))(params0, *batches[0])
                arrays = {f"param/{k}": v for k, v in model.state_dict(params0).items()}
                arrays |= {f"grad/{k}": v for k, v in model.state_dict(grad0).items()}
                arrays |= {f"after/{k}": v for k, v in ref_after.items()}
                arrays["us"] = np.stack([np.asarray(u) for u, _ in batches])
                arrays["ys"] = np.stack([np.asarray(y) for _, y in batches])
            meta = {"grad_rtol": GRAD_RTOL, "param_rtol": PARAM_RTOL}
            meta["after_reference"] = ref_name
            rate = ft.partial(_rates, steps=k_steps)
            for rec in torch_lines(__file__, arrays, meta, args, base, rate):
                checks += [rec["grad_check"]["passed"], rec["param_check"]["passed"]]
                torch_rates.append((rec["torch_num_threads"], rec["steps_per_s"]))
            continue
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
            rec = time_fit(train.fit, config)
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
    summary["targets"] = beat_torch_targets(rates, TARGET_METHODS, torch_rates)
    summary["checks_passed"] = all(checks) if checks else None
    emit(summary)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
