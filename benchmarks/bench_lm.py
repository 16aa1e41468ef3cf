"""Training tokens per second of the word-level LSTM language model: rnn_dyn vs PyTorch.

The model is the language model that ``rnn-dyn train lm`` builds:
``rnn_dyn.models.language_model(lstm(E, H), V)`` with embedding E = hidden
H = 200 (``--embed``, ``--hidden``), an untied `(V, H)` decoder with bias, and
truncated BPTT over 20 parallel streams (``--batch``) in windows of 70 steps
(``--bptt``), the state carried from window to window. The loss is the mean
next-word cross-entropy of a window; the optimiser is Adam (lr 1e-3) after
``clip_by_global_norm(0.25)``; dropout is 0, so that both frameworks compute
the same function; float32.

The tokens are the first ``batch·(K·bptt + 1)`` of WikiText-2's ``valid.txt``
(``--data``, default ``../shared/data/wikitext-2`` from the repository root,
read with ``read_corpus(path, splits=("valid", "test"))``, so V = 18 328), cut
into streams and windows as ``fit`` does (``train_split="valid"``,
``max_tokens``). Where that folder does not exist, or with ``--synthetic``, a
corpus of uniformly random tokens over ``--vocab`` (10 000) words stands in;
every line says which (``corpus``). One epoch is K windows (``--steps``,
default 20; 0: every window of ``valid.txt``, 155 at the defaults), i.e. K
optimiser steps over K·batch·bptt tokens. Methods (one JSON line each):

- ``jax_epoch``  the library's kernel ``rnn_dyn._train_lm.lm_epoch`` exactly
                 as ``fit`` runs it with one seed (the seed axis stripped by
                 ``_over_seeds``, ``LMStatics`` as ``_language_problem``
                 builds them): one jitted ``lax.scan`` over the K windows with
                 ``value_and_grad``, clip and Adam in its body.
- ``torch``      ``nn.Embedding(V, E)`` + ``nn.LSTM(E, H)`` (time-major) +
                 ``nn.Linear(H, V)``, ``F.cross_entropy`` over the window,
                 ``clip_grad_norm_(…, 0.25)``, ``torch.optim.Adam``; the
                 ``(h, c)`` state carried over the windows and detached; in a
                 fresh subprocess, with ``torch.set_num_threads`` set to the
                 cores that XLA uses (``--torch-threads`` for others; a list
                 gives one line per value).

Experimental method (not run by default; ``--methods`` selects it):

- ``fit``        ``rnn_dyn.train.fit`` itself, in memory, on the same tokens
                 (``max_tokens``), for 1 + ``--repeat`` epochs; ``run_s`` is
                 the shortest epoch after the first by the wall clock between
                 ``on_epoch`` calls, so it includes ``fit``'s validation pass
                 (forward only, over up to ``max_tokens`` tokens of the first
                 half of ``test.txt``).

``tokens_per_s`` is K·batch·bptt / ``run_s`` and ``steps_per_s`` K / ``run_s``;
``run_s`` is the best of the repeats, after a first, untimed epoch.

Every method starts from the same weights, ``init_state`` of the
``TrainConfig`` (copied into the torch modules: ``nn.LSTM`` has the library's
gate order i, f, g, o and its ``weight_ih``/``weight_hh``/``bias_ih``/
``bias_hh`` layout). Two checks, untimed; the script exits 1 if one fails:
PyTorch's gradient on the first window (zero state) against ``jax.grad`` of
the same window loss written with ``LanguageModel.unroll`` (relative 2-norm
error over all parameters, tolerance 1e-4); and PyTorch's parameters after the
first epoch (K steps) against ``jax_epoch``'s (tolerance 1e-3: Adam's first
steps move each weight by about ±lr, so a gradient entry near zero whose sign
differs in float32 moves that weight by up to 2·lr; see ``bench_train.py``).

``--quick`` (H = E = 16, batch 4, bptt 10, K = 2, one repeat) compiles with
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
from pathlib import Path
from typing import Any

import numpy as np

BENCH = "lm"
DEFAULT_METHODS = ("jax_epoch", "torch")
EXTRA_METHODS = ("fit",)
GRAD_RTOL = 1e-4
PARAM_RTOL = 1e-3
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikitext-2"
CORE_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _int_list(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def jax_cores() -> int:
    """The cores XLA:CPU's thread pool uses: those this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="hidden 16, batch 4, bptt 10, K=2, one repeat: CI smoke run",
    )
    ap.add_argument(
        "--repeat", type=int, default=None, help="timed epochs per method (default 3)"
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=None,
        help="K: windows (optimiser steps) per epoch (default 20; 0: all of valid.txt)",
    )
    ap.add_argument("--hidden", type=int, default=None, help="H (default 200)")
    ap.add_argument("--embed", type=int, default=None, help="E (default: H)")
    ap.add_argument("--batch", type=int, default=None, help="streams (default 20)")
    ap.add_argument("--bptt", type=int, default=None, help="window (default 70)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=0.25)
    ap.add_argument(
        "--data",
        default=str(DATA),
        help="WikiText directory holding valid.txt and test.txt (default: "
        "../shared/data/wikitext-2); synthetic tokens where it does not exist",
    )
    ap.add_argument(
        "--synthetic", action="store_true", help="use random tokens, not --data"
    )
    ap.add_argument(
        "--vocab", type=int, default=10000, help="synthetic vocabulary (10000)"
    )
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
        "line per value; 0 keeps torch's default (default: the cores XLA uses)",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="cut a method's timed epochs so that the first one plus the "
        "repeats stay within this (default 300; 10 with --quick)",
    )
    ap.add_argument("--seed", type=int, default=0, help="weights (and synthetic data)")
    ap.add_argument("--torch-worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.hidden = args.hidden or 16
        args.batch = args.batch or 4
        args.bptt = args.bptt or 10
        args.steps = 2 if args.steps is None else args.steps
        args.repeat = args.repeat or 1
        args.max_seconds = args.max_seconds or 10.0
    args.hidden = args.hidden or 200
    args.embed = args.embed or args.hidden
    args.batch = args.batch or 20
    args.bptt = args.bptt or 70
    args.steps = 20 if args.steps is None else args.steps
    args.repeat = args.repeat or 3
    args.max_seconds = args.max_seconds or 300.0
    args.torch_threads = args.torch_threads or [jax_cores()]
    args.methods = args.methods or list(DEFAULT_METHODS)
    unknown = set(args.methods) - set(DEFAULT_METHODS + EXTRA_METHODS)
    if unknown:
        ap.error(f"unknown methods {sorted(unknown)}")
    sizes = (args.hidden, args.embed, args.batch, args.bptt, args.repeat, args.vocab)
    if min(sizes) < 1 or args.steps < 0:
        ap.error(
            "--hidden, --embed, --batch, --bptt, --repeat and --vocab must be "
            ">= 1, --steps >= 0"
        )
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


def _rates(run_s: float, steps: int, tokens: int) -> dict[str, float]:
    return {
        "tokens_per_s": tokens / run_s,
        "steps_per_s": steps / run_s,
        "ms_per_step": 1e3 * run_s / steps,
    }


# --------------------------------------------------------------------------- torch


def torch_worker(path: str) -> None:
    """Time epochs of K PyTorch truncated-BPTT steps for the case in ``path``.

    Runs in a fresh process (no JAX loaded), so that the peak-RSS growth over
    the training calls is the memory they needed (plus allocator and
    thread-pool overhead). Prints one JSON object on stdout.
    """
    import torch
    import torch.nn.functional as F
    from _timing import rss_now, rss_peak, rss_peak_reset, summarise

    data = dict(np.load(path, allow_pickle=False))
    meta = json.loads(str(data.pop("meta")))
    if meta["threads"] > 0:
        torch.set_num_threads(meta["threads"])
    vocab, embed, hidden = meta["vocab"], meta["embed"], meta["hidden"]
    modules = {
        "embedding": torch.nn.Embedding(vocab, embed),
        "lstm": torch.nn.LSTM(embed, hidden),  # time-major: (T, B, E)
        "decoder": torch.nn.Linear(hidden, vocab),
    }

    def by_prefix(prefix: str) -> dict[str, np.ndarray]:
        return {
            k.removeprefix(prefix): v for k, v in data.items() if k.startswith(prefix)
        }

    init = by_prefix("param/")
    for name, module in modules.items():
        module.load_state_dict(
            {
                k.removeprefix(name + "."): torch.from_numpy(v)
                for k, v in init.items()
                if k.startswith(name + ".")
            }
        )
    # Windows (K, B, T) -> time-major (K, T, B), one contiguous tensor each.
    inputs = [torch.from_numpy(w.T.copy()).long() for w in data["inputs"]]
    targets = [torch.from_numpy(w.T.copy()).long() for w in data["targets"]]
    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=meta["lr"])

    def named() -> dict[str, torch.Tensor]:
        return {
            f"{name}.{k}": p
            for name, m in modules.items()
            for k, p in m.named_parameters()
        }

    def loss_backward(tokens, next_tokens, state):
        out, state = modules["lstm"](modules["embedding"](tokens), state)
        logits = modules["decoder"](out)
        loss = F.cross_entropy(logits.reshape(-1, vocab), next_tokens.reshape(-1))
        loss.backward()
        return state

    def epoch() -> None:
        state = None  # zeros, as x0 of the JAX kernel at every epoch
        for tokens, next_tokens in zip(inputs, targets, strict=True):
            opt.zero_grad(set_to_none=True)
            if state is not None:
                state = tuple(s.detach() for s in state)  # truncated BPTT
            state = loss_backward(tokens, next_tokens, state)
            if meta["clip"] > 0:
                torch.nn.utils.clip_grad_norm_(params, meta["clip"])
            opt.step()

    rss0 = rss_now()
    reset = rss_peak_reset()
    # The gradient check: the first window's gradient, untimed, no update.
    loss_backward(inputs[0], targets[0], None)
    grads = {k: p.grad.numpy() for k, p in named().items()}
    grad_rel = _rel_err(grads, by_prefix("grad/"))
    opt.zero_grad(set_to_none=True)
    # The first epoch (left out of the minimum) gives the parameter check.
    t0 = time.perf_counter()
    epoch()
    first = time.perf_counter() - t0
    after = {k: p.detach().numpy().copy() for k, p in named().items()}
    after_ref = by_prefix("after/")
    param_rel = _rel_err(after, after_ref)
    update_rel = _rel_err(
        {k: after[k] - init[k] for k in after_ref},
        {k: after_ref[k] - init[k] for k in after_ref},
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
        "reference": "jax.grad of the window loss (LanguageModel.unroll), "
        "first window, zero state",
        "rel_err": grad_rel,
        "rtol": meta["grad_rtol"],
        "passed": bool(grad_rel <= meta["grad_rtol"]),
    }
    record["param_check"] = {
        "reference": "jax_epoch",
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


# --------------------------------------------------------------------------- data


def load_corpus(args: argparse.Namespace, n_tokens: int | None) -> tuple[Any, str]:
    """The corpus to train on and its description ("wikitext-2 ..." / "synthetic").

    The synthetic corpus has ``--vocab`` words and uniformly random ``valid``
    and ``test`` splits of ``n_tokens`` tokens (K·batch·bptt + batch without
    ``--steps 0``; 200 000 with it).
    """
    from rnn_dyn.tasks.wikitext import Corpus, read_corpus

    path = Path(args.data)
    if not args.synthetic and path.is_dir():
        corpus = read_corpus(path, splits=("valid", "test"))
        return corpus, f"wikitext-2 valid.txt ({path.resolve()})"
    rng = np.random.default_rng(args.seed)
    n = n_tokens or 200_000
    splits = {
        s: rng.integers(0, args.vocab, n, dtype=np.int32) for s in ("valid", "test")
    }
    words = tuple(f"w{i}" for i in range(args.vocab))
    why = "--synthetic" if args.synthetic else f"{path} does not exist"
    return Corpus(words, splits, Path("<synthetic>")), f"synthetic ({why})"


def _named(params: Any) -> dict[str, np.ndarray]:
    """`LanguageModelParams` as the state-dict names of the torch modules."""
    out = {
        "embedding.weight": params.embedding,
        "decoder.weight": params.decoder_weight,
        "decoder.bias": params.decoder_bias,
    }
    out |= {f"lstm.{k}_l0": getattr(params.core, k) for k in CORE_KEYS}
    return {k: np.asarray(v) for k, v in out.items()}


def _time_fit(fit: Any, config: Any, corpus: Any) -> dict[str, Any]:
    """Run ``fit(config)`` in memory; time its epochs by the wall clock.

    An epoch's time is the interval between two ``on_epoch`` calls: ``fit``
    makes that call after waiting for the epoch and its validation pass. The
    first epoch includes compilation and is left out of the minimum.
    """
    from _timing import summarise

    stamps = [time.perf_counter()]
    logged: list[float] = []

    def on_epoch(row: dict[str, Any]) -> None:
        stamps.append(time.perf_counter())
        logged.append(row["seconds"])

    fit(config, on_epoch=on_epoch, corpus=corpus)
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
    import optax
    from _timing import cpu_model, emit, environment, time_jax

    from rnn_dyn import _train_lm, train
    from rnn_dyn.tasks.wikitext import streams, windows

    # Probe without importing: torch runs only in the worker subprocess.
    have_torch = importlib.util.find_spec("torch") is not None

    batch, bptt = args.batch, args.bptt
    # Exactly K windows: streams of K·bptt + 1 tokens (windows drops the rest).
    max_tokens = batch * (args.steps * bptt + 1) if args.steps else None
    corpus, source = load_corpus(args, max_tokens)
    config = train.TrainConfig(
        task="lm",
        model="lstm",
        hidden=args.hidden,
        embed=args.embed,
        batch_size=batch,
        bptt=bptt,
        lr=args.lr,
        clip=args.clip,
        dropout=0.0,
        epochs=1 + args.repeat,
        seeds=(args.seed,),
        data_seed=args.seed,
        data=str(corpus.path),
        train_split="valid",
        max_tokens=max_tokens,
    )
    # What fit builds before its first epoch (train._language_problem, fit).
    data = train.make_lm_data(config, corpus)
    lm = train.make_model(config, data)
    statics = _train_lm.LMStatics(
        config.clip,
        config.dropout,
        config.stabilize if hasattr(lm.core, "stabilize") else None,
    )
    inputs_np, targets_np = windows(streams(data.train, batch), bptt)
    k_steps = inputs_np.shape[0]
    n_tokens = k_steps * batch * bptt
    state = train.init_state(config, lm)
    first_seed = lambda tree: jax.tree.map(lambda a: a[0], tree)  # _over_seeds
    params0, x0, opt_state0 = first_seed((state.params, state.x0, state.opt_state))
    lr = jnp.asarray(args.lr, jnp.float32)
    key = jax.random.fold_in(jax.random.key(args.seed), 1)  # fit's epoch 1
    inputs, targets = jnp.asarray(inputs_np), jnp.asarray(targets_np)
    kernel = ft.partial(_train_lm.lm_epoch, statics, lm)
    kernel_args = (params0, x0, opt_state0, lr, key, inputs, targets)
    n_params = sum(a.size for a in jax.tree.leaves(params0))

    dtype = "float32"
    env = {
        "cpu_model": cpu_model(),
        "corpus": source,
        "vocab": lm.vocab_size,
        "hidden": args.hidden,
        "embed": args.embed,
        "batch": batch,
        "bptt": bptt,
        "steps": k_steps,
        "tokens_per_epoch": n_tokens,
        "n_params": int(n_params),
        "dtype": dtype,
        "jax_cores": jax_cores(),
    }
    after: dict[str, dict[str, np.ndarray]] = {}
    rates: dict[str, float] = {}
    torch_rates: list[tuple[int, float]] = []
    checks: list[bool] = []

    def reference_after() -> dict[str, np.ndarray]:
        if "jax_epoch" not in after:
            after["jax_epoch"] = _named(kernel(*kernel_args)[0])
        return after["jax_epoch"]

    def window_loss(params, tokens, next_tokens):
        """The loss of one window from the initial state, as lm_epoch's."""
        xs = jnp.broadcast_to(x0, (tokens.shape[0], x0.shape[0]))
        logits, _ = jax.vmap(lambda x, t: lm.unroll(params, x, t))(xs, tokens)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, next_tokens)
        return jnp.mean(ce)

    methods = [m for m in args.methods if m != "torch"]
    methods += ["torch"] * ("torch" in args.methods)
    for method in methods:
        base = {"bench": BENCH, "kind": "case", "method": method} | env
        if method == "torch":
            arrays: dict[str, np.ndarray] = {}
            if have_torch:
                grad0 = jax.jit(jax.grad(window_loss))(params0, inputs[0], targets[0])
                arrays = {f"param/{k}": v for k, v in _named(params0).items()}
                arrays |= {f"grad/{k}": v for k, v in _named(grad0).items()}
                arrays |= {f"after/{k}": v for k, v in reference_after().items()}
                arrays["inputs"], arrays["targets"] = inputs_np, targets_np
            for threads in args.torch_threads:
                if not have_torch:
                    rec = {"status": "skipped", "skip_reason": "torch not installed"}
                    emit(base | environment() | rec)
                    continue
                meta = {
                    "threads": threads,
                    "vocab": lm.vocab_size,
                    "embed": args.embed,
                    "hidden": args.hidden,
                    "lr": args.lr,
                    "clip": args.clip,
                    "repeat": args.repeat,
                    "budget_s": args.max_seconds,
                    "grad_rtol": GRAD_RTOL,
                    "param_rtol": PARAM_RTOL,
                }
                rec = run_torch_case(arrays, meta) | {"status": "ok"}
                rec |= _rates(rec["run_s"], k_steps, n_tokens)
                checks.append(rec["grad_check"]["passed"])
                checks.append(rec["param_check"]["passed"])
                torch_rates.append((rec["torch_num_threads"], rec["tokens_per_s"]))
                emit(base | environment() | rec)
            continue
        if method == "jax_epoch":
            rec, out = time_jax(
                kernel, kernel_args, repeat=args.repeat, budget_s=args.max_seconds
            )
            after["jax_epoch"] = _named(out[0])
            rec["train_loss"] = float(out[3])
        else:  # fit
            rec = _time_fit(train.fit, config, corpus)
        rec |= _rates(rec["run_s"], k_steps, n_tokens)
        rates[method] = rec["tokens_per_s"]
        emit(base | environment() | rec)

    summary = {"bench": BENCH, "kind": "summary"} | env | environment()
    summary["tokens_per_s"] = rates | {f"torch_{t}_threads": r for t, r in torch_rates}
    targets_met = []
    if torch_rates and "jax_epoch" in rates:
        threads, best = max(torch_rates, key=lambda tr: tr[1])
        targets_met.append(
            {
                "target": "jax_epoch >= torch",
                "torch_reference": "fastest torch line of this run",
                "torch_num_threads": threads,
                "ratio": rates["jax_epoch"] / best,
                "limit": 1.0,
                "met": bool(rates["jax_epoch"] >= best),
            }
        )
    summary["targets"] = targets_met
    summary["checks_passed"] = all(checks) if checks else None
    emit(summary)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
