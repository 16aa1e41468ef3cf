"""The ``rnn-dyn`` command line: a thin argparse front end over the public API.

JAX is imported inside each subcommand, so ``rnn-dyn --help`` is instant.
Errors are one line on stderr with exit code 2; numerics that fail exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

SYSTEMS = ("chaotic-lstm", "logistic", "henon")


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
    sim.add_argument("--system", choices=SYSTEMS, default="chaotic-lstm")
    sim.add_argument(
        "--variant",
        choices=("authors", "printed"),
        default="authors",
        help="chaotic-lstm weights: the authors' code or the supplement as printed",
    )
    sim.add_argument("--steps", type=_int_at_least(1), default=5000)
    sim.add_argument("--burn-in", type=_int_at_least(0), default=100)
    sim.add_argument("--r", type=float, default=4.0, help="logistic map parameter")
    sim.add_argument("--a", type=float, default=1.4, help="Hénon parameter a")
    sim.add_argument("--b", type=float, default=0.3, help="Hénon parameter b")
    _add_common(sim, "results/simulate")
    sim.set_defaults(func=cmd_simulate)
    return parser


def _setup_jax(args: argparse.Namespace) -> None:
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
    if name == "logistic":
        model = rd.models.logistic(args.r)
    elif name == "henon":
        model = rd.models.henon(args.a, args.b)
    else:  # argparse's choices make this unreachable
        raise UsageError(f"unknown system {name!r}")
    import jax

    params = model.init(jax.random.key(0))
    return model, params, model.initial_state(params)


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

    model, params, x0 = build_system(args.system, args)
    us = jnp.zeros((args.steps, model.input_size), x0.dtype)
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

        title = args.system + (
            f" ({args.variant})" if args.system == "chaotic-lstm" else ""
        )
        ax = plotting.attractor(
            kept[finite],
            title=title,
            labels=("$h_1$", "$h_2$") if args.system == "chaotic-lstm" else None,
        )
        files.append(plotting.save_figure(ax.figure, out / "attractor.png"))
    summary = {
        "system": args.system,
        "variant": args.variant if args.system == "chaotic-lstm" else None,
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
        f"simulated {args.system} for {args.steps} steps in {seconds:.2f} s "
        f"({summary['nonfinite_steps']} non-finite after burn-in); "
        f"wrote {', '.join(str(f) for f in files)}",
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rnn-dyn`` command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (UsageError, ValueError) as err:
        print(f"rnn-dyn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnn-dyn {args.command}: interrupted", file=sys.stderr)
        return 130
