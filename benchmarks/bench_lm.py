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

- ``jax_epoch``  the library's kernel, ``rnn_dyn.train.make_train_step``'s,
                 exactly as ``fit`` runs it with one seed (the seed axis
                 stripped): one jitted ``lax.scan`` over the K windows with
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
import os
import sys
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


def jax_cores() -> int:
    """The cores XLA:CPU's thread pool uses: those this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from _timing import BenchParser, fill_defaults, quick_xla_flags, torch_last

    ap = BenchParser(description=__doc__.splitlines()[0])
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
    ap.add_train_options(DEFAULT_METHODS + EXTRA_METHODS, "the cores XLA uses", 300)
    ap.add_argument("--seed", type=int, default=0, help="weights (and synthetic data)")
    args = ap.parse_args(argv)
    if args.quick:
        fill_defaults(args, hidden=16, batch=4, bptt=10, repeat=1, max_seconds=10.0)
        args.steps = 2 if args.steps is None else args.steps
    fill_defaults(args, hidden=200, batch=20, bptt=70, repeat=3, max_seconds=300.0)
    args.embed = args.embed or args.hidden
    args.steps = 20 if args.steps is None else args.steps
    args.torch_threads = args.torch_threads or [jax_cores()]
    # torch runs last: its checks need the JAX methods' results.
    args.methods = torch_last(
        ap.pick_methods(args.methods, DEFAULT_METHODS, DEFAULT_METHODS + EXTRA_METHODS)
    )
    sizes = (args.hidden, args.embed, args.batch, args.bptt, args.repeat, args.vocab)
    if min(sizes) < 1 or args.steps < 0:
        ap.error(
            "--hidden, --embed, --batch, --bptt, --repeat and --vocab must be "
            ">= 1, --steps >= 0"
        )
    quick_xla_flags(args.quick)
    return args


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
    from _timing import by_prefix, emit, load_case, time_torch_epochs

    data, meta = load_case(path)
    if meta["threads"] > 0:
        torch.set_num_threads(meta["threads"])
    vocab, embed, hidden = meta["vocab"], meta["embed"], meta["hidden"]
    modules = {
        "embedding": torch.nn.Embedding(vocab, embed),
        "lstm": torch.nn.LSTM(embed, hidden),  # time-major: (T, B, E)
        "decoder": torch.nn.Linear(hidden, vocab),
    }
    init = by_prefix(data, "param/")
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

    record = time_torch_epochs(
        epoch=epoch,
        first_backward=lambda: loss_backward(inputs[0], targets[0], None),
        opt=opt,
        named=named,
        data=data,
        meta=meta,
        grad_reference="jax.grad of the window loss (LanguageModel.unroll), "
        "first window, zero state",
        param_reference="jax_epoch",
    )
    emit(record)


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


def main(argv: list[str] | None = None) -> int:
    from _timing import beat_torch_targets, time_fit, torch_installed, torch_lines

    args = _parse(argv)
    if args.torch_worker:
        torch_worker(args.torch_worker)
        return 0

    import jax
    import jax.numpy as jnp
    import optax
    from _timing import cpu_model, emit, environment, time_jax

    from rnn_dyn import train

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
    # What fit builds before its first epoch (rnn_dyn.train.fit).
    data = train.make_data(config, corpus)
    lm = train.make_model(config, data)
    train_step = train.make_train_step(config, lm, data)
    inputs_np, targets_np = train_step.inputs, train_step.targets
    k_steps = inputs_np.shape[0]
    n_tokens = k_steps * batch * bptt
    state = train.init_state(config, lm)
    first_seed = lambda tree: jax.tree.map(lambda a: a[0], tree)  # _over_seeds
    params0, x0, opt_state0 = first_seed((state.params, state.x0, state.opt_state))
    lr = jnp.asarray(args.lr, jnp.float32)
    key = jax.random.fold_in(jax.random.key(args.seed), 1)  # fit's epoch 1
    inputs, targets = jnp.asarray(inputs_np), jnp.asarray(targets_np)
    kernel = train_step.kernel
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

    for method in args.methods:
        base = {"bench": BENCH, "kind": "case", "method": method} | env
        if method == "torch":
            arrays: dict[str, np.ndarray] | None = None  # None: torch not installed
            if torch_installed():
                grad0 = jax.jit(jax.grad(window_loss))(params0, inputs[0], targets[0])
                arrays = {f"param/{k}": v for k, v in _named(params0).items()}
                arrays |= {f"grad/{k}": v for k, v in _named(grad0).items()}
                arrays |= {f"after/{k}": v for k, v in reference_after().items()}
                arrays["inputs"], arrays["targets"] = inputs_np, targets_np
            meta = {"vocab": lm.vocab_size, "embed": args.embed, "hidden": args.hidden}
            meta |= {"grad_rtol": GRAD_RTOL, "param_rtol": PARAM_RTOL}
            rate = ft.partial(_rates, steps=k_steps, tokens=n_tokens)
            for rec in torch_lines(__file__, arrays, meta, args, base, rate):
                checks += [rec["grad_check"]["passed"], rec["param_check"]["passed"]]
                torch_rates.append((rec["torch_num_threads"], rec["tokens_per_s"]))
            continue
        if method == "jax_epoch":
            rec, out = time_jax(
                kernel, kernel_args, repeat=args.repeat, budget_s=args.max_seconds
            )
            after["jax_epoch"] = _named(out[0])
            rec["train_loss"] = float(out[3]["loss"])
        else:  # fit
            rec = time_fit(train.fit, config, corpus=corpus)
        rec |= _rates(rec["run_s"], k_steps, n_tokens)
        rates[method] = rec["tokens_per_s"]
        emit(base | environment() | rec)

    summary = {"bench": BENCH, "kind": "summary"} | env | environment()
    summary["tokens_per_s"] = rates | {f"torch_{t}_threads": r for t, r in torch_rates}
    summary["targets"] = beat_torch_targets(rates, ("jax_epoch",), torch_rates)
    summary["checks_passed"] = all(checks) if checks else None
    emit(summary)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
