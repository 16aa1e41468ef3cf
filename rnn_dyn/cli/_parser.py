"""The ``rnn-dyn`` argument parser: no JAX here, so ``rnn-dyn --help`` is instant.

One ``_add_<command>`` function per subcommand; the argument types at the end
turn a bad value into a one-line error (exit code 2) that names the flag.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import NoReturn

from ..examples import CELLS, MODELS, REGIMES, SYSTEMS
from ..tasks import TASKS

# rnn_dyn.train's PROTOCOL_NAMES and STABILIZERS, written out so that parsing
# does not import the training code (2 s); tests keep them equal.
PROTOCOL_NAMES = ("rnn_dyn", "authors")
STABILIZERS = ("clip", "authors", "linf")
LAYOUTS = ("auto", "vmap", "minor")  # rnn_dyn.landscape.LAYOUTS

VARIANTS = ("authors", "printed")
SCHEDULES = ("constant", "multistep", "plateau")
PER_TASK = "default: the protocol's for the task (rnn_dyn.train.PROTOCOLS)"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def given(args: argparse.Namespace, argv: Sequence[str]) -> set[str]:
    """The flags of ``args.command`` given: named in ``argv``, or off their default.

    Returns their destinations (``"orbit_steps"`` for ``--orbit-steps``).
    """
    sub = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    names = {t.split("=", 1)[0] for t in argv if t.startswith("--")}
    flags = [a for a in sub.choices[args.command]._actions if a.option_strings]
    return {
        a.dest
        for a in flags
        if names & set(a.option_strings)
        or getattr(args, a.dest, a.default) != a.default
    }


def build_parser() -> argparse.ArgumentParser:
    """Return the ``rnn-dyn`` argument parser."""
    parser = _Parser(
        prog="rnn-dyn",
        allow_abbrev=False,
        description="Recurrent neural networks as dynamical systems (JAX).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (add, help_text, description) in _SUBCOMMANDS.items():
        # No abbreviated flags: `given` reads the flags off the command line.
        add(
            sub.add_parser(
                name, help=help_text, description=description, allow_abbrev=False
            )
        )
    return parser


def _add_simulate(p: argparse.ArgumentParser) -> None:
    _system_options(p)
    p.add_argument("--steps", type=int_at_least(1), default=5000)
    p.add_argument("--burn-in", type=int_at_least(0), default=100)
    _common_options(p, "results/simulate")


def _add_chaotic_lstm(p: argparse.ArgumentParser) -> None:
    _landscape_options(p)
    p.set_defaults(model="chaotic-lstm", params=None, centered=False)


def _add_landscape(p: argparse.ArgumentParser) -> None:
    _model_options(p, default="lstm")
    p.add_argument(
        "--centered",
        action="store_true",
        help="plane θ + s1·d1 + s2·d2 around θ (filter-normalised)",
    )
    _landscape_options(p)


def _add_smoothness(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--system",
        choices=REGIMES,
        default=REGIMES[0],
        help="built-in system, one per regime (not with --model)",
    )
    _model_options(p, default=None)
    p.add_argument(
        "--variant",
        choices=VARIANTS,
        default="authors",
        help="chaotic-lstm weights with --model chaotic-lstm",
    )
    p.add_argument("--lengths", type=lengths, default=(10, 20, 50, 100, 200))
    p.add_argument("--radius", type=positive_float, default=0.1)
    p.add_argument("--samples", type=int_at_least(1), default=8)
    p.add_argument("--seed", type=seed, default=0)
    _common_options(p, "results/smoothness")


def _add_lyapunov(p: argparse.ArgumentParser) -> None:
    _system_options(p)
    p.add_argument("--steps", type=int_at_least(2), default=10_000)
    p.add_argument("--burn-in", type=int_at_least(0), default=1000)
    p.add_argument("--k", type=int_at_least(1), help="exponents (default: all)")
    _common_options(p, "results/lyapunov")


def _add_fixed_points(p: argparse.ArgumentParser) -> None:
    _system_options(p)
    p.add_argument("--starts", type=int_at_least(1), default=64)
    p.add_argument(
        "--std", type=positive_float, default=1.0, help="spread of the starts"
    )
    p.add_argument("--max-period", type=int_at_least(1), default=4)
    _common_options(p, "results/fixed-points")


def _add_entropy(p: argparse.ArgumentParser) -> None:
    _system_options(p)
    p.add_argument("--samples", type=int_at_least(8), default=2000)
    p.add_argument("--steps", type=int_at_least(1), default=30)
    p.add_argument(
        "--std", type=positive_float, default=0.1, help="spread of the ensemble"
    )
    p.add_argument("--k", type=int_at_least(1), default=4, help="neighbour order")
    p.add_argument(
        "--tol",
        type=positive_float,
        default=0.1,
        help="estimator allowance (nats) before a step counts as a violation",
    )
    _common_options(p, "results/entropy")


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", choices=TASKS)
    p.add_argument("--model", choices=CELLS, default="lstm")
    p.add_argument(
        "--protocol",
        choices=PROTOCOL_NAMES,
        default="rnn_dyn",
        help="whose settings fill the flags not given: this project's (rnn_dyn) "
        "or the authors' code's (authors)",
    )
    p.add_argument("--hidden", type=int_at_least(1), help=PER_TASK)
    p.add_argument("--seq-len", type=int_at_least(2), help=PER_TASK)
    p.add_argument("--epochs", type=int_at_least(1), help="default 100")
    p.add_argument("--lr", type=positive_float, help=PER_TASK)
    p.add_argument("--batch-size", type=int_at_least(1), help=PER_TASK)
    p.add_argument(
        "--clip", type=non_negative_float, help="0: no clipping; " + PER_TASK
    )
    p.add_argument("--schedule", choices=SCHEDULES, help=PER_TASK)
    p.add_argument(
        "--milestones", type=int_list, help="multistep epochs E1,E2; " + PER_TASK
    )
    p.add_argument("--gamma", type=positive_float, help=PER_TASK)
    p.add_argument("--patience", type=int_at_least(1), help=PER_TASK)
    p.add_argument("--factor", type=positive_float, help=PER_TASK)
    p.add_argument("--seeds", type=seed_list, default=(0,), help="S1,S2,...")
    p.add_argument("--data-seed", type=seed, default=0)
    p.add_argument("--n-train", type=int_at_least(2))
    p.add_argument("--n-val", type=int_at_least(1))
    p.add_argument("--learn-x0", action="store_true", help="learn the initial state")
    p.add_argument(
        "--loss-reduction",
        choices=("mean", "sum"),
        help="differentiate the loss averaged (mean) or summed (sum, the "
        "authors') over the batch and time steps; " + PER_TASK,
    )
    p.add_argument(
        "--no-shuffle",
        dest="shuffle",
        action="store_const",
        const=False,
        help="take the minibatches in order (the authors'), not reshuffled",
    )
    p.add_argument(
        "--stabilize",
        choices=STABILIZERS,
        help="slstm projection: clip the columns over the bound (clip), rescale "
        "every column to it (authors), or clip the rows (linf, Miller & Hardt's "
        "condition); " + PER_TASK,
    )
    p.add_argument(
        "--ornn-variant",
        choices=("rnn_dyn", "authors"),
        help="ornn: expm(A - Aᵀ) with an input bias (rnn_dyn), or the expRNN "
        "the authors used (authors: strict upper triangle, no input bias); " + PER_TASK,
    )
    p.add_argument(
        "--min-lr",
        type=non_negative_float,
        help="stop once the plateau schedule goes below this; " + PER_TASK,
    )
    _language_model_options(p.add_argument_group("language model (lm)"))
    p.add_argument("--orbit-every", type=int_at_least(0), default=0)
    p.add_argument("--orbit-steps", type=int_at_least(2), help=PER_TASK)
    p.add_argument("--orbit-burn-in", type=int_at_least(0), help=PER_TASK)
    p.add_argument("--orbit-inits", type=int_at_least(1), help="per input; " + PER_TASK)
    p.add_argument("--orbit-std", type=positive_float, help=PER_TASK)
    p.add_argument(
        "--orbit-shared-inits",
        action=argparse.BooleanOptionalAction,
        help="one set of initial states for every input, or each its own; " + PER_TASK,
    )
    p.add_argument(
        "--orbit-untrained",
        action=argparse.BooleanOptionalAction,
        help="record the untrained model's orbits (epoch 0) too; " + PER_TASK,
    )
    p.add_argument("--resume", action="store_true")
    _common_options(p, "results/train")


def _language_model_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--data", help="WikiText directory (train.txt, valid.txt, test.txt)")
    g.add_argument(
        "--train-split",
        choices=("train", "valid"),
        default="train",
        help="valid: train on valid.txt, validate and test on the halves of test.txt",
    )
    g.add_argument("--embed", type=int_at_least(1), help="default: --hidden")
    g.add_argument("--bptt", type=int_at_least(1), default=70)
    g.add_argument("--dropout", type=fraction, help=PER_TASK)
    g.add_argument("--tied", action="store_true", help="decoder = embedding")
    g.add_argument(
        "--max-tokens",
        type=int_at_least(2),
        help="use only the first tokens of each split",
    )
    g.add_argument(
        "--cache-corpus",
        action="store_true",
        help="keep the encoded corpus in DATA/.rnn_dyn_corpus.npz",
    )
    g.add_argument(
        "--orbit-words",
        type=word_list,
        help="W1,W2: constant words of the orbits (default: 2 at random)",
    )
    g.add_argument(
        "--orbit-projections",
        type=word_list,
        help="mean, random[K] or words; " + PER_TASK,
    )
    g.add_argument(
        "--orbit-space",
        choices=("hidden", "logits"),
        help="project the hidden vector, or the decoder's logits (the "
        "authors'); " + PER_TASK,
    )
    g.add_argument(
        "--orbit-word-pool",
        type=int_at_least(0),
        help="draw the 2 constant words from the first N ids (0: all); " + PER_TASK,
    )


def _add_orbit(p: argparse.ArgumentParser) -> None:
    p.add_argument("run")
    p.add_argument(
        "--type", choices=("orbit1d", "orbit2d", "transient"), default="orbit1d"
    )
    p.add_argument(
        "--burn-in", type=int_at_least(0), default=0, help="further steps to drop"
    )
    p.add_argument("--epochs", type=epoch_range, help="A:B")
    p.add_argument("--input", type=int_at_least(0), default=0, help="input index")
    p.add_argument("--output", type=int_at_least(0), default=0)
    p.add_argument("--init", type=int_at_least(0), help="one initial state")
    p.add_argument("--out", help="PNG file (default RUN/orbit_TYPE.png)")
    p.set_defaults(json=False)


def _add_reproduce(p: argparse.ArgumentParser) -> None:
    from ._reproduce import EXPERIMENTS, SCALES

    p.add_argument("name", nargs="?", choices=tuple(EXPERIMENTS), metavar="NAME")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument(
        "--scale",
        choices=SCALES,
        default="cpu",
        help="smoke: seconds; cpu: reduced for 2 cores; paper: the supplement's",
    )
    p.add_argument("--data", help="WikiText-2 directory (the language models)")
    p.add_argument(
        "--out", help="output directory (default results/reproduce/NAME-SCALE)"
    )
    p.add_argument("--json", action="store_true", help="print result.json")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("run")
    p.add_argument("--out", help="PNG file (default RUN/history.png)")
    p.set_defaults(json=False)


# Each subcommand: its function below, and the help and description of --help.
_SUBCOMMANDS = {
    "simulate": (
        _add_simulate,
        "simulate a system and draw its attractor",
        "Simulate a built-in system, write trajectory.npz and "
        "attractor.png (the states after burn-in).",
    ),
    "chaotic-lstm": (
        _add_chaotic_lstm,
        "the chaotic LSTM's loss line and plane (the main job)",
        "Appendix C at the paper's resolution: the attractor, the loss "
        "and bifurcation diagram along s·θ_true, and the loss over "
        "s1·θ_true + s2·θ_random (Supplementary Fig. 1).",
    ),
    "landscape": (
        _add_landscape,
        "loss line and plane of any built-in model",
        "Loss along a line s·θ and over the plane s1·θ + s2·θ_random "
        "(or centred on θ with --centered), against the model's own outputs at θ.",
    ),
    "smoothness": (
        _add_smoothness,
        "Lipschitz constants of V and ∇V against N, beside Theorem 1",
        "Estimate L_f, L_g, L'_f, L'_g on a trajectory, measure the "
        "Lipschitz constants of V and ∇V in a ball around θ for each N, draw them "
        "with the bounds of Theorem 1 and classify their growth.",
    ),
    "lyapunov": (
        _add_lyapunov,
        "Lyapunov spectrum and attractor of a system",
        "The k leading Lyapunov exponents by the QR method (with the "
        "two-trajectory estimate of the largest as a cross-check), their "
        "convergence, and the attractor coloured by the local expansion rate.",
    ),
    "fixed-points": (
        _add_fixed_points,
        "fixed points and cycles under a constant input",
        "Fixed points and cycles of x = f^k(x, u) by Newton's method "
        "from many initial states, with their eigenvalues and stability.",
    ),
    "entropy": (
        _add_entropy,
        "entropy of an ensemble of states against Theorem 2's bound",
        "Propagate a Gaussian ensemble of initial states, estimate "
        "the entropy H_t of its distribution at every step (Kozachenko-Leonenko) "
        "and check H_{t+1} <= H_t + n log L_f (the direction Theorem 2's proof "
        "supports; the printed (S3) has it reversed).",
    ),
    "train": (
        _add_train,
        "train a model on sine, symbols or a language model, recording its attractors",
        "Train with Adam and gradient clipping, several seeds at once, "
        "writing config.json, history.csv, params.npz, state.msgpack (for "
        "--resume) and, with --orbit-every, orbit.npz. --resume continues the "
        "run in --out with its saved configuration (only --epochs may change). "
        "lm: a word-level language model on a WikiText directory (--data), "
        "truncated BPTT with the state carried across windows. Settings left "
        "out take the --protocol's values for the task "
        "(rnn_dyn.train.PROTOCOLS): rnn_dyn (this project's) or authors (the "
        "authors' code's: summed losses, ordered batches, their schedules, "
        "orbits and models).",
    ),
    "orbit": (
        _add_orbit,
        "bifurcation diagram of a training run's attractors",
        "Draw the steady-state outputs recorded in RUN_DIR/orbit.npz "
        "against the epoch (orbit1d), as (epoch, y_t, y_t - y_{t-1}) in 3-D "
        "(orbit2d, Supp. Figs. 3-4), or against the step (transient).",
    ),
    "reproduce": (
        _add_reproduce,
        "reproduce a figure of the paper: rnn-dyn reproduce --list names them",
        "Run the rnn-dyn commands that make one figure of the paper (training "
        "runs with --protocol authors) at a scale: smoke (seconds), cpu (the "
        "same protocol reduced for 2 cores) or paper (the supplement's sizes, "
        "for a GPU). Writes the figure(s), result.json (the numbers found) and "
        "provenance.json (commands, config, versions, commit, machine, "
        "seconds) into --out. Run again, it resumes an interrupted training "
        "run and keeps a finished one.",
    ),
    "history": (
        _add_history,
        "loss and accuracy curves of a training run",
        "Draw RUN_DIR/history.csv: loss and accuracy per epoch and seed.",
    ),
}


# Option groups -----------------------------------------------------------


def _common_options(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--out", default=default_out, help="output directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--x64", action="store_true", help="compute in float64")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _system_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--system",
        choices=SYSTEMS,
        default="chaotic-lstm",
        help="built-in system (not with --model)",
    )
    p.add_argument(
        "--variant",
        choices=VARIANTS,
        default="authors",
        help="chaotic-lstm weights: the authors' code or the supplement as printed",
    )
    p.add_argument("--r", type=finite_float, default=4.0, help="logistic map parameter")
    p.add_argument("--a", type=finite_float, default=1.4, help="Hénon parameter a")
    p.add_argument("--b", type=finite_float, default=0.3, help="Hénon parameter b")
    _model_options(p, default=None)
    p.add_argument(
        "--input",
        type=floats,
        help="constant input u: one value for every input, or U1,U2,... (default 0)",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of random weights")


def _model_options(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument("--model", choices=MODELS, default=default)
    p.add_argument(
        "--params",
        help=".npz of a params pytree, or a training run's "
        "directory (its model and parameters); else random weights",
    )
    p.add_argument("--input-size", type=int_at_least(0), default=1)
    p.add_argument("--hidden", type=int_at_least(1), default=8)
    p.add_argument("--readout", type=int_at_least(1), default=1)


def _landscape_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--variant", choices=VARIANTS, default="authors", help="chaotic-lstm weights"
    )
    p.add_argument(
        "--line",
        type=int_at_least(2),
        default=5000,
        help="points on the line (plus s=1)",
    )
    p.add_argument(
        "--grid",
        type=grid_size,
        default=(150, 150),
        help="plane resolution N or N1,N2 (plus s=0 and s=1)",
    )
    p.add_argument(
        "--s-range", type=value_range, default=(0.5, 2.0), help="line range of s"
    )
    p.add_argument("--s1-range", type=value_range, default=(0.0, 2.0))
    p.add_argument("--s2-range", type=value_range, default=(-0.5, 0.5))
    p.add_argument("--seq-len", type=int_at_least(1), default=200)
    p.add_argument("--burn-in", type=int_at_least(0), default=100)
    p.add_argument("--seed", type=seed, default=0, help="seed of θ_random and inputs")
    p.add_argument(
        "--distribution",
        choices=("uniform", "gaussian"),
        default="uniform",
        help="θ_random: U[0,1) as the authors, or N(0,1)",
    )
    p.add_argument(
        "--chunk-size",
        type=int_at_least(1),
        help="points per compiled call (default: by layout, see rnn_dyn.landscape)",
    )
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="auto",
        help="points first (vmap) or last (minor, elementwise; small cells)",
    )
    _common_options(p, "results/chaotic-lstm")


# Argument types: each raises ArgumentTypeError, which argparse reports as
# "argument --flag: <message>" on one line. ----------------------------------


def _items(text: str, sep: str, parse: Callable[[str], object]) -> tuple | None:
    """``text`` split on ``sep`` and parsed, or None if any item fails."""
    try:
        return tuple(parse(v) for v in text.split(sep))
    except (ValueError, argparse.ArgumentTypeError):
        return None


def _check(ok: bool, expected: str, text: str) -> None:
    if not ok:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")


# The largest count or size a flag takes (2^31 steps, units or samples hold
# more than any machine's memory in every command), and the largest seed (a
# 32-bit `jax.random.key` seed, which it takes in every mode).
MAX_INT = 2**31 - 1
MAX_SEED = 2**32 - 1


def int_at_least(low: int) -> Callable[[str], int]:
    """Return an argparse type accepting integers in [``low``, `MAX_INT`]."""

    def parse(text: str) -> int:
        value = _items(text, ",", int)
        _check(
            value is not None and len(value) == 1 and value[0] >= low,
            f"an integer >= {low}",
            text,
        )
        count: int = value[0]  # type: ignore[index]
        _check(count <= MAX_INT, f"an integer <= {MAX_INT}", text)
        return count

    return parse


def seed(text: str) -> int:
    """A PRNG seed: an integer in [0, `MAX_SEED`]."""
    value = _items(text, ",", int)
    _check(
        value is not None and len(value) == 1 and 0 <= value[0] <= MAX_SEED,
        f"an integer seed in [0, {MAX_SEED}]",
        text,
    )
    return value[0]  # type: ignore[index]


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _number(text: str, ok: Callable[[float], bool], expected: str) -> float:
    """One finite number for which ``ok`` holds, else an argparse error."""
    value = _items(text, ",", _finite_float)
    _check(value is not None and len(value) == 1 and ok(value[0]), expected, text)
    return value[0]  # type: ignore[index]


def finite_float(text: str) -> float:
    """A finite number."""
    return _number(text, lambda v: True, "a finite number")


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    return _number(text, lambda v: v >= 0, "a finite number >= 0")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _number(text, lambda v: v > 0, "a positive number")


def fraction(text: str) -> float:
    """A number in [0, 1)."""
    return _number(text, lambda v: 0 <= v < 1, "a number in [0, 1)")


def floats(text: str) -> tuple[float, ...]:
    """Finite numbers X or X1,X2,...."""
    values = _items(text, ",", _finite_float)
    _check(bool(values), "finite numbers X or X1,X2,...", text)
    return values  # type: ignore[return-value]


def int_list(text: str) -> tuple[int, ...]:
    """Distinct integers in [0, `MAX_INT`] as N1,N2,...."""
    values = _items(text, ",", int_at_least(0))
    _check(
        bool(values) and len(set(values)) == len(values),
        "distinct integers >= 0 as N1,N2,...",
        text,
    )
    return values  # type: ignore[return-value]


def seed_list(text: str) -> tuple[int, ...]:
    """Distinct seeds (integers in [0, `MAX_SEED`]) as S1,S2,...."""
    values = _items(text, ",", seed)
    _check(
        bool(values) and len(set(values)) == len(values),
        f"distinct integer seeds in [0, {MAX_SEED}] as S1,S2,...",
        text,
    )
    return values  # type: ignore[return-value]


def word_list(text: str) -> tuple[str, ...]:
    """Distinct words as W1,W2,...."""
    values = tuple(v for v in text.split(",") if v)
    _check(
        bool(values) and len(set(values)) == len(values),
        "distinct words as W1,W2,...",
        text,
    )
    return values


def lengths(text: str) -> tuple[int, ...]:
    """At least three distinct positive integers, sorted."""
    values = _items(text, ",", int_at_least(1))
    _check(
        values is not None and len(set(values)) >= 3,
        "at least 3 distinct positive integers N1,N2,N3",
        text,
    )
    return tuple(sorted(set(values)))  # type: ignore[arg-type]


def value_range(text: str) -> tuple[float, float]:
    """LOW,HIGH: finite, LOW < HIGH."""
    values = _items(text, ",", _finite_float)
    _check(
        values is not None and len(values) == 2 and values[0] < values[1],
        "finite LOW,HIGH with LOW < HIGH",
        text,
    )
    return values  # type: ignore[return-value]


def grid_size(text: str) -> tuple[int, int]:
    """N or N1,N2 with N >= 2."""
    sizes = _items(text, ",", int_at_least(2))
    _check(sizes is not None and len(sizes) in (1, 2), "N or N1,N2 with N >= 2", text)
    return sizes[0], sizes[-1]  # type: ignore[index]


def epoch_range(text: str) -> tuple[int, int]:
    """A:B with 0 <= A <= B."""
    values = _items(text, ":", int)
    _check(
        values is not None and len(values) == 2 and 0 <= values[0] <= values[1],
        "A:B with 0 <= A <= B",
        text,
    )
    return values  # type: ignore[return-value]
