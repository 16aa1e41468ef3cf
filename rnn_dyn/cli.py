"""The ``rnn-dyn`` command line: a thin argparse front end over the public API.

JAX is imported inside each subcommand, so ``rnn-dyn --help`` is instant.
Errors are one line on stderr with exit code 2; numerics that fail exit 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

SYSTEMS = ("chaotic-lstm", "logistic", "henon", "linear")
MODELS = ("chaotic-lstm", "lstm", "gru", "rnn", "linear", "logistic", "henon")
TRAIN_MODELS = ("lstm", "gru", "rnn", "ornn", "slstm")


class UsageError(Exception):
    """A bad argument found after parsing; reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_at_least(low: int) -> Callable[[str], int]:
    """Return an argparse type accepting integers >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}, got {text!r}"
            )
        return value

    return parse


def _add_common(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--out", default=default_out, help="output directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--x64", action="store_true", help="compute in float64")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``rnn-dyn`` argument parser."""
    parser = _Parser(
        prog="rnn-dyn",
        description="Recurrent neural networks as dynamical systems (JAX).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sim = sub.add_parser(
        "simulate",
        help="simulate a system and draw its attractor",
        description="Simulate a built-in system, write trajectory.npz and "
        "attractor.png (the states after burn-in).",
    )
    _add_system_options(sim)
    sim.add_argument("--steps", type=_int_at_least(1), default=5000)
    sim.add_argument("--burn-in", type=_int_at_least(0), default=100)
    _add_common(sim, "results/simulate")
    sim.set_defaults(func=cmd_simulate)

    chaotic = sub.add_parser(
        "chaotic-lstm",
        help="the chaotic LSTM's loss line and plane (the main job)",
        description="Appendix C at the paper's resolution: the attractor, the loss "
        "and bifurcation diagram along s·θ_true, and the loss over "
        "s1·θ_true + s2·θ_random (Supplementary Fig. 1).",
    )
    _add_landscape_options(chaotic)
    chaotic.set_defaults(func=cmd_landscape, model="chaotic-lstm", params=None)

    land = sub.add_parser(
        "landscape",
        help="loss line and plane of any built-in model",
        description="Loss along a line s·θ and over the plane s1·θ + s2·θ_random "
        "(or centred on θ with --centered), against the model's own outputs at θ.",
    )
    _add_model_options(land, default="lstm")
    land.add_argument(
        "--centered",
        action="store_true",
        help="plane θ + s1·d1 + s2·d2 around θ (filter-normalised)",
    )
    _add_landscape_options(land)
    land.set_defaults(func=cmd_landscape)

    smooth = sub.add_parser(
        "smoothness",
        help="Lipschitz constants of V and ∇V against N, beside Theorem 1",
        description="Estimate L_f, L_g, L'_f, L'_g on a trajectory, measure the "
        "Lipschitz constants of V and ∇V in a ball around θ for each N, draw them "
        "with the bounds of Theorem 1 and classify their growth.",
    )
    smooth.add_argument(
        "--system",
        choices=("contractive", "neutral", "chaotic-lstm"),
        default="contractive",
        help="built-in system, one per regime (ignored with --model)",
    )
    _add_model_options(smooth, default=None)
    smooth.add_argument(
        "--variant",
        choices=("authors", "printed"),
        default="authors",
        help="chaotic-lstm weights with --model chaotic-lstm",
    )
    smooth.add_argument("--lengths", type=_lengths, default=(10, 20, 50, 100, 200))
    smooth.add_argument("--radius", type=_positive_float, default=0.1)
    smooth.add_argument("--samples", type=_int_at_least(1), default=8)
    smooth.add_argument("--seed", type=int, default=0)
    _add_common(smooth, "results/smoothness")
    smooth.set_defaults(func=cmd_smoothness)

    lyap = sub.add_parser(
        "lyapunov",
        help="Lyapunov spectrum and attractor of a system",
        description="The k leading Lyapunov exponents by the QR method (with the "
        "two-trajectory estimate of the largest as a cross-check), their "
        "convergence, and the attractor coloured by the local expansion rate.",
    )
    _add_system_options(lyap)
    lyap.add_argument("--steps", type=_int_at_least(2), default=10_000)
    lyap.add_argument("--burn-in", type=_int_at_least(0), default=1000)
    lyap.add_argument("--k", type=_int_at_least(1), help="exponents (default: all)")
    _add_common(lyap, "results/lyapunov")
    lyap.set_defaults(func=cmd_lyapunov)

    fixed = sub.add_parser(
        "fixed-points",
        help="fixed points and cycles under a constant input",
        description="Fixed points and cycles of x = f^k(x, u) by Newton's method "
        "from many initial states, with their eigenvalues and stability.",
    )
    _add_system_options(fixed)
    fixed.add_argument("--starts", type=_int_at_least(1), default=64)
    fixed.add_argument(
        "--std", type=_positive_float, default=1.0, help="spread of the starts"
    )
    fixed.add_argument("--max-period", type=_int_at_least(1), default=4)
    _add_common(fixed, "results/fixed-points")
    fixed.set_defaults(func=cmd_fixed_points)

    ent = sub.add_parser(
        "entropy",
        help="entropy of an ensemble of states against Theorem 2's bound",
        description="Propagate a Gaussian ensemble of initial states, estimate "
        "the entropy H_t of its distribution at every step (Kozachenko-Leonenko) "
        "and check H_{t+1} <= H_t + n log L_f (the direction Theorem 2's proof "
        "supports; the printed (S3) has it reversed).",
    )
    _add_system_options(ent)
    ent.add_argument("--samples", type=_int_at_least(8), default=2000)
    ent.add_argument("--steps", type=_int_at_least(1), default=30)
    ent.add_argument(
        "--std", type=_positive_float, default=0.1, help="spread of the ensemble"
    )
    ent.add_argument("--k", type=_int_at_least(1), default=4, help="neighbour order")
    ent.add_argument(
        "--tol",
        type=_positive_float,
        default=0.1,
        help="estimator allowance (nats) before a step counts as a violation",
    )
    _add_common(ent, "results/entropy")
    ent.set_defaults(func=cmd_entropy)

    train = sub.add_parser(
        "train",
        help="train a model on sine, symbols or a language model, recording "
        "its attractors",
        description="Train with Adam and gradient clipping, several seeds at once, "
        "writing config.json, history.csv, params.npz, state.msgpack (for "
        "--resume) and, with --orbit-every, orbit.npz. --resume continues the "
        "run in --out with its saved configuration (only --epochs may change). "
        "lm: a word-level language model on a WikiText directory (--data), "
        "truncated BPTT with the state carried across windows.",
    )
    train.add_argument("task", choices=("sine", "symbols", "lm"))
    train.add_argument("--model", choices=TRAIN_MODELS, default="lstm")
    train.add_argument(
        "--hidden", type=_int_at_least(1), help="sine 200, symbols 50, lm 800"
    )
    train.add_argument("--seq-len", type=_int_at_least(2), help="sine 400, symbols 100")
    train.add_argument("--epochs", type=_int_at_least(1), help="default 100")
    train.add_argument("--lr", type=_positive_float, default=1e-3)
    train.add_argument(
        "--batch-size", type=_int_at_least(1), help="sine 10, symbols 100, lm 100"
    )
    train.add_argument("--clip", type=float, default=0.25, help="0: no clipping")
    train.add_argument(
        "--schedule",
        choices=("constant", "multistep", "plateau"),
        help="constant; lm: plateau",
    )
    train.add_argument(
        "--milestones", type=_int_list, default=(), help="multistep epochs E1,E2"
    )
    train.add_argument("--gamma", type=_positive_float, default=0.1)
    train.add_argument("--patience", type=_int_at_least(1), default=7)
    train.add_argument("--factor", type=_positive_float, default=0.1)
    train.add_argument("--seeds", type=_int_list, default=(0,), help="S1,S2,...")
    train.add_argument("--data-seed", type=int, default=0)
    train.add_argument("--n-train", type=_int_at_least(2))
    train.add_argument("--n-val", type=_int_at_least(1))
    train.add_argument(
        "--learn-x0", action="store_true", help="learn the initial state"
    )
    train.add_argument(
        "--stabilize",
        choices=("clip", "authors"),
        default="clip",
        help="slstm projection: clip columns over the bound, or rescale all",
    )
    train.add_argument(
        "--min-lr",
        type=float,
        default=0.0,
        help="stop once the plateau schedule goes below this",
    )
    lm = train.add_argument_group("language model (lm)")
    lm.add_argument(
        "--data", help="WikiText directory (train.txt, valid.txt, test.txt)"
    )
    lm.add_argument(
        "--train-split",
        choices=("train", "valid"),
        default="train",
        help="valid: train on valid.txt, validate and test on the halves of test.txt",
    )
    lm.add_argument("--embed", type=_int_at_least(1), help="default: --hidden")
    lm.add_argument("--bptt", type=_int_at_least(1), default=70)
    lm.add_argument("--dropout", type=_fraction, help="default 0.5")
    lm.add_argument("--tied", action="store_true", help="decoder = embedding")
    lm.add_argument(
        "--max-tokens",
        type=_int_at_least(2),
        help="use only the first tokens of each split",
    )
    lm.add_argument(
        "--cache-corpus",
        action="store_true",
        help="keep the encoded corpus in DATA/.rnn_dyn_corpus.npz",
    )
    lm.add_argument(
        "--orbit-words",
        type=_word_list,
        help="W1,W2: constant words of the orbits (default: 2 at random)",
    )
    lm.add_argument(
        "--orbit-projections",
        type=_word_list,
        default=("mean", "is", "<unk>"),
        help="mean, random[K] or words (default mean,is,<unk>)",
    )
    train.add_argument("--orbit-every", type=_int_at_least(0), default=0)
    train.add_argument(
        "--orbit-steps", type=_int_at_least(2), help="default 1000; lm 1600"
    )
    train.add_argument(
        "--orbit-burn-in", type=_int_at_least(0), help="default 900; lm 1500"
    )
    train.add_argument("--orbit-inits", type=_int_at_least(1), default=5)
    train.add_argument("--orbit-std", type=_positive_float, help="default 100; lm 1")
    train.add_argument("--resume", action="store_true")
    _add_common(train, "results/train")
    train.set_defaults(func=cmd_train)

    orbit = sub.add_parser(
        "orbit",
        help="bifurcation diagram of a training run's attractors",
        description="Draw the steady-state outputs recorded in RUN_DIR/orbit.npz "
        "against the epoch (orbit1d), as (epoch, y_t, y_t - y_{t-1}) in 3-D "
        "(orbit2d, Supp. Figs. 3-4), or against the step (transient).",
    )
    orbit.add_argument("run")
    orbit.add_argument(
        "--type", choices=("orbit1d", "orbit2d", "transient"), default="orbit1d"
    )
    orbit.add_argument(
        "--burn-in", type=_int_at_least(0), default=0, help="further steps to drop"
    )
    orbit.add_argument("--epochs", type=_epoch_range, help="A:B")
    orbit.add_argument("--input", type=_int_at_least(0), default=0, help="input index")
    orbit.add_argument("--output", type=_int_at_least(0), default=0)
    orbit.add_argument("--init", type=_int_at_least(0), help="one initial state")
    orbit.add_argument("--out", help="PNG file (default RUN/orbit_TYPE.png)")
    orbit.set_defaults(func=cmd_orbit, json=False)

    hist = sub.add_parser(
        "history",
        help="loss and accuracy curves of a training run",
        description="Draw RUN_DIR/history.csv: loss and accuracy per epoch and seed.",
    )
    hist.add_argument("run")
    hist.add_argument("--out", help="PNG file (default RUN/history.png)")
    hist.set_defaults(func=cmd_history, json=False)
    return parser


def _add_system_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--system",
        choices=SYSTEMS,
        default="chaotic-lstm",
        help="built-in system (ignored with --model)",
    )
    p.add_argument(
        "--variant",
        choices=("authors", "printed"),
        default="authors",
        help="chaotic-lstm weights: the authors' code or the supplement as printed",
    )
    p.add_argument("--r", type=float, default=4.0, help="logistic map parameter")
    p.add_argument("--a", type=float, default=1.4, help="Hénon parameter a")
    p.add_argument("--b", type=float, default=0.3, help="Hénon parameter b")
    _add_model_options(p, default=None)
    p.add_argument(
        "--input",
        type=_floats,
        help="constant input u: one value for every input, or U1,U2,... (default 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of random weights")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or len(set(values)) != len(values) or min(values) < 0:
        raise argparse.ArgumentTypeError(
            f"expected distinct integers >= 0 as N1,N2,..., got {text!r}"
        )
    return values


def _word_list(text: str) -> tuple[str, ...]:
    values = tuple(v for v in text.split(",") if v)
    if not values or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(
            f"expected distinct words as W1,W2,..., got {text!r}"
        )
    return values


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _epoch_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in text.split(":"))
    except ValueError:
        low, high = 1, 0
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError(f"expected A:B with 0 <= A <= B, got {text!r}")
    return low, high


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(abs(v) < float("inf") for v in values):
        raise argparse.ArgumentTypeError(
            f"expected finite numbers X or X1,X2,..., got {text!r}"
        )
    return values


def _lengths(text: str) -> tuple[int, ...]:
    parse = _int_at_least(1)
    try:
        values = tuple(sorted({parse(v) for v in text.split(",")}))
    except argparse.ArgumentTypeError:
        values = ()
    if len(values) < 3:
        raise argparse.ArgumentTypeError(
            f"expected at least 3 distinct positive integers N1,N2,N3, got {text!r}"
        )
    return values


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH with LOW < HIGH, got {text!r}"
        ) from None
    if not low < high:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH with LOW < HIGH, got {text!r}"
        )
    return low, high


def _grid_size(text: str) -> tuple[int, int]:
    parts = text.split(",")
    parse = _int_at_least(2)
    try:
        sizes = [parse(p) for p in parts]
    except argparse.ArgumentTypeError:
        sizes = []
    if len(sizes) not in (1, 2):
        raise argparse.ArgumentTypeError(
            f"expected N or N1,N2 with N >= 2, got {text!r}"
        )
    return (sizes[0], sizes[-1])


def _add_model_options(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument("--model", choices=MODELS, default=default)
    p.add_argument("--params", help=".npz of a params pytree (else random)")
    p.add_argument("--input-size", type=_int_at_least(0), default=1)
    p.add_argument("--hidden", type=_int_at_least(1), default=8)
    p.add_argument("--readout", type=_int_at_least(1), default=1)


def _add_landscape_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--variant",
        choices=("authors", "printed"),
        default="authors",
        help="chaotic-lstm weights",
    )
    p.add_argument(
        "--line",
        type=_int_at_least(2),
        default=5000,
        help="points on the line (plus s=1)",
    )
    p.add_argument(
        "--grid",
        type=_grid_size,
        default=(150, 150),
        help="plane resolution N or N1,N2 (plus s=0 and s=1)",
    )
    p.add_argument("--s-range", type=_range, default=(0.5, 2.0), help="line range of s")
    p.add_argument("--s1-range", type=_range, default=(0.0, 2.0))
    p.add_argument("--s2-range", type=_range, default=(-0.5, 0.5))
    p.add_argument("--seq-len", type=_int_at_least(1), default=200)
    p.add_argument("--burn-in", type=_int_at_least(0), default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of θ_random and inputs")
    p.add_argument(
        "--distribution",
        choices=("uniform", "gaussian"),
        default="uniform",
        help="θ_random: U[0,1) as the authors, or N(0,1)",
    )
    p.add_argument("--chunk-size", type=_int_at_least(1), default=8192)
    _add_common(p, "results/chaotic-lstm")


def _setup_jax(args: argparse.Namespace) -> None:
    """Configure JAX before its first import: float64 and host devices.

    On CPU, XLA runs one device per process on few threads; one host device
    per core lets the sharded grid evaluator use every core. The flag only
    shapes the CPU platform, so on a GPU or TPU machine nothing changes.
    """
    import os

    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"
        os.environ["XLA_FLAGS"] = f"{flags} {count}".strip()
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)


def _emit(args: argparse.Namespace, summary: dict[str, Any], line: str) -> None:
    print(json.dumps(summary) if args.json else line)


def build_system(name: str, args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Return ``(model, params, x0)`` of a built-in system named on the command line."""
    import rnn_dyn as rd
    from rnn_dyn.examples import chaotic_lstm

    if name == "chaotic-lstm":
        return chaotic_lstm(args.variant)
    import jax
    import jax.numpy as jnp

    if name == "logistic":
        model = rd.models.logistic(args.r)
    elif name == "henon":
        model = rd.models.henon(args.a, args.b)
    elif name == "linear":
        # x' = A x with A random (--seed), scaled to spectral radius 0.9: its
        # Lyapunov exponents are log|eig A|, a check anyone can redo.
        n = getattr(args, "hidden", 4)
        model = rd.models.linear(n, 0, 1)
        params = model.init(jax.random.key(args.seed))
        a = jax.random.normal(jax.random.key(args.seed), (n, n), params.a.dtype)
        a = a * (0.9 / jnp.max(jnp.abs(jnp.linalg.eigvals(a))))
        params = params._replace(a=a)
        return model, params, jnp.ones(n, a.dtype)
    else:  # argparse's choices make this unreachable
        raise UsageError(f"unknown system {name!r}")
    params = model.init(jax.random.key(0))
    return model, params, model.initial_state(params)


def system_from_args(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """Return ``(model, params, x0, name)``: ``--model`` if given, else ``--system``."""
    if args.model is not None:
        return model_from_args(args)
    model, params, x0 = build_system(args.system, args)
    variant = f" ({args.variant})" if args.system == "chaotic-lstm" else ""
    return model, params, x0, args.system + variant


def constant_input(args: argparse.Namespace, model: Any, dtype: Any) -> Any:
    """Return ``--input`` as an array of shape ``(input_size,)`` (zeros if absent)."""
    import jax.numpy as jnp

    m = model.input_size
    values = args.input or (0.0,)
    if m == 0 and args.input:
        raise UsageError("--input given, but this model takes no input")
    if len(values) not in (1, m):
        raise UsageError(
            f"--input must hold 1 or {m} values (the input size), got {len(values)}"
        )
    return jnp.broadcast_to(jnp.asarray(values, dtype), (m,))


def cmd_simulate(args: argparse.Namespace) -> int:
    """Simulate a system; write trajectory.npz and attractor.png."""
    if args.burn_in >= args.steps:
        raise UsageError(
            f"--burn-in must be below --steps ({args.steps}), got {args.burn_in}"
        )
    from rnn_dyn._io import prepare_out_dir, save_npz

    out = prepare_out_dir(args.out)
    _setup_jax(args)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import rnn_dyn as rd

    model, params, x0, name = system_from_args(args)
    u = constant_input(args, model, x0.dtype)
    us = jnp.broadcast_to(u, (args.steps, model.input_size))
    chaotic = args.model is None and args.system == "chaotic-lstm"
    start = time.perf_counter()
    states, outputs = jax.block_until_ready(
        jax.jit(rd.simulate, static_argnums=0)(model, params, x0, us)
    )
    seconds = time.perf_counter() - start
    states, outputs = np.asarray(states), np.asarray(outputs)
    kept = states[args.burn_in :]
    finite = np.all(np.isfinite(kept), axis=1)
    files = [
        save_npz(
            out / "trajectory.npz",
            states=states,
            outputs=outputs,
            x0=np.asarray(x0),
            burn_in=args.burn_in,
        )
    ]
    if not args.no_plot and finite.any():
        from rnn_dyn import plotting

        ax = plotting.attractor(
            kept[finite],
            title=name,
            labels=("$h_1$", "$h_2$") if chaotic else None,
        )
        files.append(plotting.save_figure(ax.figure, out / "attractor.png"))
    summary = {
        "system": args.model or args.system,
        "variant": args.variant if chaotic else None,
        "steps": args.steps,
        "burn_in": args.burn_in,
        "dtype": str(states.dtype),
        "nonfinite_steps": int((~finite).sum()),
        "state_min": np.nanmin(kept, axis=0).tolist() if finite.any() else None,
        "state_max": np.nanmax(kept, axis=0).tolist() if finite.any() else None,
        "seconds": round(seconds, 4),
        "files": [str(f) for f in files],
    }
    _emit(
        args,
        summary,
        f"simulated {name} for {args.steps} steps in {seconds:.2f} s "
        f"({summary['nonfinite_steps']} non-finite after burn-in); "
        f"wrote {', '.join(str(f) for f in files)}",
    )
    return 0


def model_from_args(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """Return ``(model, params, x0, title)`` named by ``--model`` and ``--params``.

    Without ``--params`` the weights are drawn with ``--seed``; a params file
    must match the model's structure and be finite.
    """
    import jax
    import jax.numpy as jnp

    import rnn_dyn as rd
    from rnn_dyn._validate import check_finite_params
    from rnn_dyn.examples import chaotic_lstm
    from rnn_dyn.models._base import param_shapes, params_dtype

    if args.model == "chaotic-lstm":
        model, theta, x0 = chaotic_lstm(args.variant)
        return model, theta, x0, f"chaotic LSTM ({args.variant})"
    m, h, p = args.input_size, args.hidden, args.readout
    model = {
        "lstm": lambda: rd.models.lstm(m, h, readout=p),
        "gru": lambda: rd.models.gru(m, h, readout=p),
        "rnn": lambda: rd.models.rnn(m, h, readout=p),
        "linear": lambda: rd.models.linear(h, m, p),
        "logistic": lambda: rd.models.logistic(),
        "henon": lambda: rd.models.henon(),
    }[args.model]()
    theta = model.init(jax.random.key(args.seed))
    title = args.model
    if args.params:
        like = param_shapes(model, params_dtype(theta))
        theta = jax.tree_util.tree_map(jnp.asarray, rd.load_params(args.params, like))
        check_finite_params(theta, f"parameters in {args.params}")
        title += f" ({args.params})"
    return model, theta, model.initial_state(theta), title


def _landscape_problem(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, str]:
    """Return ``(model, theta, x0, us, title)`` for `cmd_landscape`."""
    import jax

    model, theta, x0, title = model_from_args(args)
    key = jax.random.fold_in(jax.random.key(args.seed), 1)
    us = jax.random.normal(key, (args.seq_len, model.input_size), x0.dtype)
    return model, theta, x0, us, title


def cmd_landscape(args: argparse.Namespace) -> int:
    """Evaluate the loss along a line and over a plane; write figures and data."""
    if args.burn_in >= args.seq_len:
        raise UsageError(
            f"--burn-in must be below --seq-len ({args.seq_len}), got {args.burn_in}"
        )
    from rnn_dyn._io import prepare_out_dir, save_json, save_npz

    out = prepare_out_dir(args.out)
    _setup_jax(args)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import rnn_dyn as rd
    from rnn_dyn import landscape as ls

    model, theta, x0, us, title = _landscape_problem(args)
    ys = ls.reference_outputs(model, theta, x0, us)
    zero = jax.tree_util.tree_map(jnp.zeros_like, theta)
    options = dict(
        burn_in=args.burn_in, chunk_size=args.chunk_size, progress=not args.quiet
    )
    s = ls.coordinates(*args.s_range, args.line, exact=[1.0])
    line = ls.line(
        model,
        theta,
        zero,
        x0,
        us,
        ys,
        s,
        steady_steps=args.seq_len - args.burn_in,
        **options,
    )
    key = jax.random.key(args.seed)
    s1 = ls.coordinates(*args.s1_range, args.grid[0], exact=[0.0, 1.0])
    s2 = ls.coordinates(*args.s2_range, args.grid[1], exact=[0.0])
    if getattr(args, "centered", False):
        k1, k2 = jax.random.split(key)
        d1, d2 = (
            ls.random_direction(
                k, theta, distribution="gaussian", filter_normalize=True
            )
            for k in (k1, k2)
        )
        plus = lambda d: jax.tree_util.tree_map(jnp.add, theta, d)
        plane = ls.grid_2d(
            model, theta, plus(d1), plus(d2), x0, us, ys, s1, s2, **options
        )
        true_point = (0.0, 0.0)
    else:
        theta_random = ls.random_direction(key, theta, distribution=args.distribution)
        plane = ls.grid_2d(
            model, zero, theta, theta_random, x0, us, ys, s1, s2, **options
        )
        true_point = (1.0, 0.0)
    at_true = float(line.loss[s == 1.0][0])
    at_true_plane = float(plane.loss[s1 == true_point[0]][:, s2 == true_point[1]][0, 0])
    finite = plane.loss[np.isfinite(plane.loss)]
    n_points = line.loss.size + plane.loss.size
    run = line.run_seconds + plane.run_seconds
    flat = lambda tree: np.asarray(jax.flatten_util.ravel_pytree(tree)[0])
    summary = {
        "variant": args.variant if args.model == "chaotic-lstm" else None,
        "model": args.model,
        "loss_at_true": at_true,
        "loss_at_true_plane": at_true_plane,
        "line": {
            "n": int(s.size),
            "s_min": float(s[0]),
            "s_max": float(s[-1]),
            "nonfinite": int((~np.isfinite(line.loss)).sum()),
            "local_minima": ls.local_minima(line.loss),
        },
        "grid": {
            "shape": list(plane.loss.shape),
            "nonfinite": int((~np.isfinite(plane.loss)).sum()),
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
        },
        "seconds": {
            "compile": round(line.compile_seconds + plane.compile_seconds, 4),
            "line": round(line.run_seconds, 4),
            "grid": round(plane.run_seconds, 4),
        },
        "points_per_second": round(n_points / run) if run > 0 else None,
        "devices": [str(d) for d in jax.devices()],
        "dtype": str(line.loss.dtype),
        "seq_len": args.seq_len,
        "burn_in": args.burn_in,
        "seed": args.seed,
    }
    states = rd.simulate(
        model,
        theta,
        x0,
        jnp.zeros((max(5000, args.seq_len), model.input_size), x0.dtype)
        if model.input_size == 0
        else us,
    ).states[args.burn_in :]
    files = [
        save_npz(
            out / "landscape.npz",
            line_s=s,
            line_loss=line.loss,
            line_steady=line.steady,
            grid_s1=s1,
            grid_s2=s2,
            grid_loss=plane.loss,
            theta=flat(theta),
            plane_origin=flat(plane.subspace.origin),
            plane_directions=np.stack(
                [
                    flat(
                        jax.tree_util.tree_map(
                            lambda d, i=i: d[i], plane.subspace.directions
                        )
                    )
                    for i in range(2)
                ]
            ),
        )
    ]
    if not args.no_plot:
        from rnn_dyn import plotting

        good = np.all(np.isfinite(states), axis=1)
        if good.any() and model.state_size >= 1:
            ax = plotting.attractor(
                np.asarray(states)[good],
                title=title,
                labels=("$h_1$", "$h_2$") if args.model == "chaotic-lstm" else None,
            )
            files.append(plotting.save_figure(ax.figure, out / "attractor.png"))
        fig = plotting.loss_line(s, line.loss, line.steady, title=title)
        files.append(plotting.save_figure(fig, out / "line.png"))
        name = r"$\theta$" if getattr(args, "centered", False) else r"$\theta_{true}$"
        ax = plotting.loss_plane(
            s1, s2, plane.loss, marks={name: true_point}, title=title
        )
        files.append(plotting.save_figure(ax.figure, out / "plane.png"))
    summary["files"] = [str(f) for f in files] + [str(out / "summary.json")]
    save_json(out / "summary.json", summary)
    _emit(
        args,
        summary,
        f"{title}: loss at θ_true {at_true:g}; line of {s.size} points with "
        f"{summary['line']['local_minima']} local minima; plane {plane.loss.shape} "
        f"with {summary['grid']['nonfinite']} non-finite; "
        f"{summary['points_per_second']} points/s; wrote {out}",
    )
    return 0


def cmd_smoothness(args: argparse.Namespace) -> int:
    """Measure L_V(N) and L'_V(N) of a system or saved model beside Theorem 1."""
    from rnn_dyn._io import prepare_out_dir, save_json

    out = prepare_out_dir(args.out)
    _setup_jax(args)
    import jax

    from rnn_dyn.examples import regime_example
    from rnn_dyn.smoothness import measure_smoothness

    k_model, k_measure = jax.random.split(jax.random.key(args.seed))
    if args.model is None:
        system = args.system
        model, theta, x0, us = regime_example(system, max(args.lengths), key=k_model)
    else:
        model, theta, x0, system = model_from_args(args)
        shape = (max(args.lengths), model.input_size)
        us = jax.random.normal(k_model, shape, x0.dtype)
    report = measure_smoothness(
        model,
        theta,
        x0,
        us,
        lengths=args.lengths,
        radius=args.radius,
        num_samples=args.samples,
        key=k_measure,
    )
    summary = {"system": system, "radius": args.radius, "samples": args.samples}
    for name, value in report._asdict().items():
        if isinstance(value, tuple):  # a Growth
            value = value._asdict()
        summary[name] = value.tolist() if hasattr(value, "tolist") else value
    summary["note"] = "measured values are maxima over samples: lower bounds"
    files = []
    if not args.no_plot:
        from rnn_dyn import plotting

        fig = plotting.smoothness_curves(
            report.lengths,
            {"L_V": report.L_V, "L_V_grad": report.L_V_grad},
            {"L_V": report.bound_L_V, "L_V_grad": report.bound_L_V_grad},
            title=f"{system}: max ‖A_t‖ = {report.L_f_state:.3g} ({report.regime})",
        )
        files.append(plotting.save_figure(fig, out / "smoothness.png"))
    summary["files"] = [str(f) for f in files] + [str(out / "smoothness.json")]
    save_json(out / "smoothness.json", summary)
    _emit(
        args,
        summary,
        f"{system}: max ‖A_t‖ {report.L_f_state:.3g} ({report.regime}); "
        f"L_V {report.growth_L_V.kind}, L'_V {report.growth_L_V_grad.kind}; "
        f"wrote {out}",
    )
    return 0


def cmd_lyapunov(args: argparse.Namespace) -> int:
    """Lyapunov spectrum, its convergence and the attractor of a system."""
    from rnn_dyn._io import prepare_out_dir, save_json, save_npz

    out = prepare_out_dir(args.out)
    _setup_jax(args)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import rnn_dyn as rd
    from rnn_dyn import kaplan_yorke_dimension

    model, params, x0, name = system_from_args(args)
    n = model.state_size
    if args.k is not None and args.k > n:
        raise UsageError(f"--k must be at most the state size {n}, got {args.k}")
    u = constant_input(args, model, x0.dtype)
    us = jnp.broadcast_to(u, (args.burn_in + args.steps, model.input_size))
    key = jax.random.key(args.seed)
    start = time.perf_counter()
    spec = rd.lyapunov_spectrum(
        model, params, x0, us, burn_in=args.burn_in, k=args.k, key=key
    )
    two = rd.largest_lyapunov_exponent(model, params, x0, us, burn_in=args.burn_in)
    window = min(args.steps, 5000)
    kind = rd.classify_attractor(
        model,
        params,
        x0,
        u,
        n_steps=window,
        burn_in=args.burn_in,
        max_period=min(64, window - 1),
        key=key,
    )
    states = np.asarray(rd.simulate(model, params, x0, us).states[args.burn_in :])
    seconds = time.perf_counter() - start
    exponents = np.asarray(spec.exponents)
    summary: dict[str, Any] = {
        "system": name,
        "steps": args.steps,
        "burn_in": args.burn_in,
        "k": int(exponents.size),
        "input": np.asarray(u).tolist(),
        "dtype": str(exponents.dtype),
        "exponents": exponents.tolist(),
        "stderr": np.asarray(spec.stderr).tolist(),
        "sum": float(exponents.sum()),
        "kaplan_yorke_dimension": kaplan_yorke_dimension(exponents),
        "two_trajectory": {
            "exponent": float(two.exponents[0]),
            "stderr": float(two.stderr[0]),
        },
        "attractor": kind.kind,
        "period": kind.period,
        "nonfinite_steps": int(spec.nonfinite_steps),
        "seconds": round(seconds, 3),
    }
    if args.model is None and args.system == "linear":
        eig = np.linalg.eigvals(np.asarray(params.a))
        summary["expected"] = np.sort(np.log(np.abs(eig)))[::-1][: exponents.size]
        summary["expected"] = summary["expected"].tolist()
    files = [
        save_npz(
            out / "lyapunov.npz",
            exponents=exponents,
            stderr=spec.stderr,
            history=spec.history,
            local_rates=spec.local_rates,
            states=states,
        )
    ]
    if not args.no_plot:
        from rnn_dyn import plotting

        ax = plotting.lyapunov_convergence(np.asarray(spec.history), title=name)
        files.append(plotting.save_figure(ax.figure, out / "convergence.png"))
        finite = np.all(np.isfinite(states), axis=1)
        rate = np.asarray(spec.local_rates)[:, 0]
        if finite.any():
            ax = plotting.attractor(
                states[finite][-20_000:],
                title=f"{name}: {kind.kind}",
                color=rate[finite][-20_000:],
                color_label=r"local expansion rate $\log|R_{11}|$",
            )
            files.append(plotting.save_figure(ax.figure, out / "attractor.png"))
    summary["files"] = [str(f) for f in files] + [str(out / "lyapunov.json")]
    save_json(out / "lyapunov.json", summary)
    shown = ", ".join(
        f"{e:.4g} ± {s:.1g}" for e, s in zip(exponents, summary["stderr"], strict=True)
    )
    period = f" (period {kind.period})" if kind.period else ""
    _emit(
        args,
        summary,
        f"{name}: λ = {shown}; {kind.kind}{period}; "
        f"{summary['nonfinite_steps']} non-finite steps; wrote {out}",
    )
    return 0


def cmd_fixed_points(args: argparse.Namespace) -> int:
    """Fixed points and cycles of a system under a constant input."""
    from rnn_dyn._io import prepare_out_dir, save_json, save_npz

    out = prepare_out_dir(args.out)
    _setup_jax(args)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import rnn_dyn as rd

    model, params, x0, name = system_from_args(args)
    u = constant_input(args, model, x0.dtype)
    # Starts: a Gaussian cloud around x0, and points of the trajectory from
    # x0 (near whatever it settles into).
    n_cloud = (args.starts + 1) // 2
    cloud = x0[None] + args.std * jax.random.normal(
        jax.random.key(args.seed), (n_cloud, model.state_size), x0.dtype
    )
    us = jnp.broadcast_to(u, (2000, model.input_size))
    states = rd.simulate(model, params, x0, us).states
    along = states[jnp.linspace(0, 1999, args.starts - n_cloud).astype(int)]
    starts = jnp.concatenate([cloud, along])
    start = time.perf_counter()
    found = rd.cycles(model, params, u, starts, max_period=args.max_period)
    seconds = time.perf_counter() - start
    cycles = []
    arrays: dict[str, Any] = {"starts": starts, "input": u}
    for result in found:
        k = result.period
        arrays[f"points_{k}"] = result.points
        arrays[f"eigenvalues_{k}"] = result.eigenvalues
        for i, label in enumerate(result.stability):
            eig = np.asarray(result.eigenvalues[i])
            cycles.append(
                {
                    "period": k,
                    "points": np.asarray(result.points[i]).tolist(),
                    "stability": label,
                    "spectral_radius": float(result.spectral_radius[i]),
                    "eigenvalues": [[float(z.real), float(z.imag)] for z in eig],
                    "starts": int(result.counts[i]),
                }
            )
    summary = {
        "system": name,
        "input": np.asarray(u).tolist(),
        "starts": int(starts.shape[0]),
        "max_period": args.max_period,
        "cycles": cycles,
        "diverged": [r.num_diverged for r in found],
        "stalled": [r.num_stalled for r in found],
        "seconds": round(seconds, 3),
    }
    files = [save_npz(out / "fixed_points.npz", **arrays)]
    if not args.no_plot:
        from rnn_dyn import plotting

        kept = np.asarray(states[200:])
        kept = kept[np.all(np.isfinite(kept), axis=1)]
        ax = plotting.attractor(kept, title=f"{name}: fixed points and cycles")
        for result in found:
            plotting.mark_cycles(ax, np.asarray(result.points), result.stability)
        files.append(plotting.save_figure(ax.figure, out / "fixed_points.png"))
    summary["files"] = [str(f) for f in files] + [str(out / "fixed_points.json")]
    save_json(out / "fixed_points.json", summary)
    counts = ", ".join(
        f"{sum(c['period'] == k for c in cycles)} of period {k}"
        for k in range(1, args.max_period + 1)
    )
    _emit(args, summary, f"{name}: cycles found: {counts}; wrote {out}")
    return 0


def cmd_entropy(args: argparse.Namespace) -> int:
    """Ensemble entropy H_t against the per-step bound of Theorem 2."""
    if args.k >= args.samples:
        raise UsageError(f"--k must be below --samples ({args.samples}), got {args.k}")
    from rnn_dyn._io import prepare_out_dir, save_json, save_npz

    out = prepare_out_dir(args.out)
    _setup_jax(args)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import rnn_dyn as rd

    model, params, x0, name = system_from_args(args)
    u = constant_input(args, model, x0.dtype)
    us = jnp.broadcast_to(u, (args.steps, model.input_size))
    shape = (args.samples, model.state_size)
    noise = jax.random.normal(jax.random.key(args.seed), shape, x0.dtype)
    start = time.perf_counter()
    result = rd.ensemble_entropy(
        model, params, x0[None] + args.std * noise, us, k=args.k, tol=args.tol
    )
    seconds = time.perf_counter() - start
    as_list = lambda a: np.asarray(a, float).tolist()
    summary = {
        "system": name,
        "samples": args.samples,
        "steps": args.steps,
        "std": args.std,
        "k": args.k,
        "tol": args.tol,
        "dtype": str(np.asarray(result.entropy).dtype),
        "H": as_list(result.entropy),
        "bound": as_list(result.bound),
        "log_det_mean": as_list(result.log_det_mean),
        "lipschitz": as_list(result.lipschitz),
        "nonfinite": np.asarray(result.num_nonfinite).tolist(),
        "violations": np.asarray(result.violations).tolist(),
        "printed_violations": np.asarray(result.printed_violations).tolist(),
        "seconds": round(seconds, 3),
    }
    files = [
        save_npz(
            out / "entropy.npz",
            **{k: v for k, v in result._asdict().items() if k not in ("k", "tol")},
        )
    ]
    if not args.no_plot:
        from rnn_dyn import plotting

        fig = plotting.entropy_curves(
            np.asarray(result.entropy),
            np.asarray(result.bound),
            np.asarray(result.log_det_mean),
            violations=np.asarray(result.violations),
            title=f"{name}: Theorem 2, {args.samples} states, std {args.std}",
        )
        files.append(plotting.save_figure(fig, out / "entropy.png"))
    summary["files"] = [str(f) for f in files] + [str(out / "entropy.json")]
    save_json(out / "entropy.json", summary)
    _emit(
        args,
        summary,
        f"{name}: H_t from {summary['H'][0]:.3g} to {summary['H'][-1]:.3g} nats in "
        f"{args.steps} steps; {len(summary['violations'])} violations of "
        f"H_(t+1) <= H_t + n log L_f, {len(summary['printed_violations'])} of the "
        f"printed (S3); wrote {out}",
    )
    return 0


def _train_config(args: argparse.Namespace) -> Any:
    """The `TrainConfig` of ``rnn-dyn train``: from the flags, or the run to resume."""
    from rnn_dyn.train import TrainConfig

    if args.resume:
        path = Path(args.out) / "config.json"
        try:
            saved = TrainConfig.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise UsageError(f"cannot resume: {args.out} holds no run") from None
        except (OSError, ValueError, TypeError) as err:
            raise UsageError(f"cannot resume: {path} is corrupted ({err})") from None
        epochs = args.epochs or saved.epochs
        return dataclasses.replace(saved, epochs=epochs)
    lm = args.task == "lm"
    if lm and not args.data:
        raise UsageError("train lm needs --data DIR, a WikiText directory")
    if not lm:
        given = [
            f for f in ("data", "embed", "dropout", "max_tokens") if getattr(args, f)
        ]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise UsageError(f"{flag} is for the lm task only")
    # Flags not given stay None: TrainConfig fills them from TASK_DEFAULTS.
    return TrainConfig(
        task=args.task,
        model=args.model,
        hidden=args.hidden,
        seq_len=args.seq_len,
        epochs=args.epochs or 100,
        lr=args.lr,
        batch_size=args.batch_size,
        clip=args.clip,
        schedule=args.schedule,
        milestones=args.milestones,
        gamma=args.gamma,
        patience=args.patience,
        factor=args.factor,
        seeds=args.seeds,
        data_seed=args.data_seed,
        n_train=args.n_train,
        n_val=args.n_val,
        learn_x0=args.learn_x0,
        orbit_every=args.orbit_every,
        orbit_steps=args.orbit_steps,
        orbit_burn_in=args.orbit_burn_in,
        orbit_inits=args.orbit_inits,
        orbit_std=args.orbit_std,
        stabilize=args.stabilize,
        min_lr=args.min_lr,
        data=str(args.data) if lm else None,
        train_split=args.train_split,
        embed=args.embed,
        bptt=args.bptt,
        dropout=args.dropout,
        tied=args.tied,
        max_tokens=args.max_tokens,
        orbit_words=args.orbit_words or (),
        orbit_projections=args.orbit_projections,
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train on a task; write the run directory."""
    if not args.resume:
        from rnn_dyn._io import prepare_out_dir

        prepare_out_dir(args.out)
    _setup_jax(args)
    config = _train_config(args)
    if args.resume and config.task != args.task:
        raise UsageError(f"cannot resume: {args.out} is a {config.task} run")
    from rnn_dyn.train import fit

    start = time.perf_counter()
    corpus = None
    if config.task == "lm" and args.cache_corpus:
        from rnn_dyn.tasks import read_corpus
        from rnn_dyn.train import lm_splits

        corpus = read_corpus(config.data, splits=lm_splits(config), cache=True)
    progress = not args.quiet and sys.stderr.isatty()
    result = fit(config, args.out, resume=args.resume, progress=progress, corpus=corpus)
    seconds = time.perf_counter() - start
    last = [row for row in result.history if row["epoch"] == result.state.epoch]
    keys = ("train_loss", "val_loss", "train_acc", "val_acc")
    clean = lambda v: None if v != v else v  # NaN (no accuracy) as null
    finals = [{k: clean(row[k]) for k in keys} | {"seed": row["seed"]} for row in last]
    for row, test in zip(finals, result.test, strict=False):
        row |= test
        row |= {
            f"{k}_ppl": math.exp(row[f"{k}_loss"]) for k in ("train", "val", "test")
        }
    summary = {
        "task": config.task,
        "model": config.model,
        "epochs": result.state.epoch,
        "seeds": list(config.seeds),
        "final": finals[0] if finals else None,
        "final_per_seed": finals,
        "seconds": round(seconds, 3),
        "out": str(args.out),
    }
    f = finals[0] if finals else {}
    acc = f" val acc {f['val_acc']:.3f}," if f.get("val_acc") is not None else ""
    if "test_ppl" in f:
        acc += f" perplexity val {f['val_ppl']:.1f} test {f['test_ppl']:.1f},"
    _emit(
        args,
        summary,
        f"{config.model} on {config.task}: {result.state.epoch} epochs, train loss "
        f"{f.get('train_loss', float('nan')):.4g}, val loss "
        f"{f.get('val_loss', float('nan')):.4g},{acc} {seconds:.1f} s; "
        f"wrote {args.out}",
    )
    return 0


def cmd_orbit(args: argparse.Namespace) -> int:
    """Draw the recorded orbits of a run as a bifurcation diagram."""
    import numpy as np

    path = Path(args.run) / "orbit.npz"
    try:
        with np.load(path) as data:
            outputs, epochs = data["outputs"], data["epochs"]
            labels = data["labels"] if "labels" in data.files else None
            projections = data.get("projections")
    except (OSError, KeyError, ValueError) as err:
        raise UsageError(f"cannot read {path}: {err}") from None
    steps, n_init, n_inputs, n_outputs, _ = outputs.shape
    for name, value, size in (
        ("--input", args.input, n_inputs),
        ("--output", args.output, n_outputs),
        ("--init", args.init, n_init),
    ):
        if value is not None and value >= size:
            raise UsageError(f"{name} must be below {size}, got {value}")
    if args.burn_in >= steps - 1:
        raise UsageError(f"--burn-in must be below {steps - 1}, got {args.burn_in}")
    keep = np.ones(epochs.size, bool)
    if args.epochs:
        keep = (epochs >= args.epochs[0]) & (epochs <= args.epochs[1])
        if not keep.any():
            raise UsageError(f"no recorded epoch in {args.epochs[0]}:{args.epochs[1]}")
    order = np.argsort(epochs[keep])
    inits = slice(None) if args.init is None else slice(args.init, args.init + 1)
    from rnn_dyn import plotting

    if projections is not None and args.type != "transient":
        # A language model's record (Supp. Figs. 5-7): every projection
        # (rows) under every word and its feedback version (columns).
        fig = plotting.orbit_grid(
            epochs[keep][order],
            outputs[args.burn_in :, inits][..., keep][..., order],
            rows=[str(p) for p in projections],
            columns=[str(label) for label in labels],
            kind=args.type,
            title=f"{Path(args.run).name}: projections of h after the burn-in",
        )
        out = Path(args.out) if args.out else Path(args.run) / f"orbit_{args.type}.png"
        plotting.save_figure(fig, out)
        print(f"wrote {out}")
        return 0
    values = outputs[args.burn_in :, inits, args.input, args.output][..., keep][
        ..., order
    ]

    label = labels[args.input] if labels is not None else f"input {args.input}"
    fig = plotting.orbit_diagram(
        epochs[keep][order],
        values,
        kind=args.type,
        ylabel=f"output {args.output}",
        title=f"{Path(args.run).name}: constant input {label}",
    )
    out = Path(args.out) if args.out else Path(args.run) / f"orbit_{args.type}.png"
    plotting.save_figure(fig, out)
    print(f"wrote {out}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """Draw the loss and accuracy curves of a run."""
    from rnn_dyn.train import read_history

    path = Path(args.run) / "history.csv"
    try:
        history = read_history(path)
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"cannot read {path}: {err}") from None
    if not history:
        raise UsageError(f"{path} has no epochs yet")
    from rnn_dyn import plotting

    fig = plotting.training_curves(history, title=Path(args.run).name)
    out = Path(args.out) if args.out else Path(args.run) / "history.png"
    plotting.save_figure(fig, out)
    print(f"wrote {out}")
    return 0


def _one_line_warning(command: str) -> Callable[..., None]:
    """Return a `warnings.showwarning` that prints each message once, on one line."""
    seen: set[str] = set()

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        if str(message) not in seen:
            seen.add(str(message))
            print(f"rnn-dyn {command}: warning: {message}", file=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rnn-dyn`` command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return func(args)
    except (UsageError, ValueError) as err:
        print(f"rnn-dyn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnn-dyn {args.command}: interrupted", file=sys.stderr)
        return 130
