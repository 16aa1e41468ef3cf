"""``rnn-dyn reproduce``: each figure of the paper, as the commands that make it.

An `Experiment` is one figure: at each scale, the list of ``rnn-dyn``
command lines that compute it (the training runs use ``--protocol
authors``, the authors' settings), and what to read back from their outputs
into ``result.json``. The commands run in this process, one after the other,
into ``--out``; a training run found there half done is resumed, one found
done is kept, so an interrupted reproduction continues where it stopped.

Scales:

- ``smoke``: seconds, tiny sizes; what the tests run.
- ``cpu``: the same protocol reduced to fit two cores (fewer epochs, orbits
  recorded less often, a smaller language model on valid.txt); each entry
  says what it changes.
- ``paper``: the supplement's sizes and epochs (for a GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._io import save_json, to_json
from .._provenance import provenance
from ._inputs import UsageError

SCALES = ("smoke", "cpu", "paper")

# Sizes of a seconds-long run: a small model, few sequences, short orbits.
_SMOKE_SYMBOLS = "--hidden 8 --n-train 200 --n-val 100 --epochs 2"
_SMOKE_ORBITS = "--orbit-steps 40 --orbit-burn-in 20 --orbit-inits 2"
_SMOKE_LM = (
    "--train-split valid --max-tokens 2000 --hidden 16 --batch-size 4 --bptt 10 "
    "--epochs 2 --orbit-every 1 --orbit-steps 40 --orbit-burn-in 20 "
    "--orbit-projections mean,is,<unk>"
)
# The offline WikiText-2 copy has no train.txt, and "Valkyria" occurs only in
# train.txt: the reduced runs train on valid.txt and leave that projection out.
_CPU_LM = (
    "--train-split valid --hidden 128 --batch-size 20 --epochs 10 --orbit-every 1 "
    "--orbit-projections mean,is,<unk>"
)
_PAPER_LM = "--train-split train --epochs 150 --orbit-every 1"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One figure of the paper and the commands that reproduce it.

    Attributes:
        name: ``supp-fig-N`` or ``main-line``.
        figure: What the paper shows (its caption, shortened).
        kind: ``"landscape"``, ``"train"`` or ``"lm"``: what `result.json` reads.
        commands: Per scale, ``rnn-dyn`` command lines with ``{out}`` (the
            output directory), ``{run}`` (its training run) and ``{data}``
            (the corpus) to fill in.
        figures: The files, in the output directory, of the paper's figure.
        notes: Per scale, how it differs from the paper.
        run: Name of the training run's directory in the output directory
            (its name titles the figures), or None.
    """

    name: str
    figure: str
    kind: str
    commands: dict[str, tuple[str, ...]]
    figures: tuple[str, ...]
    notes: dict[str, str]
    run: str | None = None

    def command_lines(self, scale: str, out: Path, data: str | None) -> list[list[str]]:
        """The command lines of ``scale``, split into words, placeholders filled."""
        run = out / (self.run or "")
        return [
            [w.format(out=out, run=run, data=data) for w in line.split()]
            for line in self.commands[scale]
        ]


def _symbols(
    name: str, figure: str, model: str, draw: str, seeds: str = "0"
) -> Experiment:
    """A symbol-classification figure: train with the authors' protocol, then draw.

    A bifurcation diagram (``draw`` starts with ``orbit``) records orbits: every
    epoch at the paper's scale, every 4 at the CPU's; it draws one trajectory
    (initial state 0, input X, output 0), as the authors' plots do.
    """
    run = (
        f"train symbols --protocol authors --model {model} --seeds {seeds} "
        "--out {run} --json"
    )
    orbits = draw.startswith("orbit")
    every = lambda k: f" --orbit-every {k}" if orbits else ""
    smoke = f"{run} {_SMOKE_SYMBOLS}" + (
        every(1) + " " + _SMOKE_ORBITS if orbits else ""
    )
    draw = f"{draw} --out {{out}}/{name}.png"
    return Experiment(
        name,
        figure,
        "train",
        commands={
            "smoke": (smoke, draw),
            "cpu": (f"{run} --epochs 400" + every(4), draw),
            "paper": (f"{run} --epochs 400" + every(1), draw),
        },
        figures=(f"{name}.png",),
        notes={
            "smoke": "hidden 8, 200 sequences, 2 epochs"
            + (", short orbits" if orbits else ""),
            "cpu": "the supplement's 400 epochs at T = 100, hidden 50"
            + ("; orbits recorded every 4 epochs, not every one" if orbits else ""),
            "paper": "the supplement's T = 100, hidden 50, 400 epochs",
        },
        run=f"{model}-symbols",
    )


def _lm(name: str, model: str, figure: str) -> Experiment:
    """A language-model figure: train on WikiText-2, draw every projection."""
    run = (
        f"train lm --protocol authors --model {model} --data {{data}} "
        "--out {run} --json"
    )
    draw = f"orbit {{run}} --type orbit2d --out {{out}}/{name}.png"
    return Experiment(
        name,
        figure,
        "lm",
        commands={
            "smoke": (f"{run} {_SMOKE_LM}", draw),
            "cpu": (f"{run} {_CPU_LM}", draw),
            "paper": (f"{run} {_PAPER_LM}", draw),
        },
        figures=(f"{name}.png",),
        notes={
            "smoke": "hidden 16, 2,000 tokens of valid.txt, 2 epochs, short orbits",
            "cpu": "hidden 128 (paper 800), batch 20, 10 epochs (paper 150), "
            "trained on valid.txt and validated and tested on the halves of "
            "test.txt, projections mean, is, <unk> (Valkyria is a word of "
            "train.txt only)",
            "paper": "the supplement's 800 units and 150 epochs, on train.txt",
        },
        run=f"{model}-wikitext",
    )


def _landscape(
    name: str, figure: str, smoke: str, full: str, png: str, cpu: str
) -> Experiment:
    """A figure of the chaotic LSTM's cost (Appendix C): `rnn-dyn chaotic-lstm`."""
    run = "chaotic-lstm --out {out} --json "
    return Experiment(
        name,
        figure,
        "landscape",
        commands={
            "smoke": (run + smoke,),
            "cpu": (run + full,),
            "paper": (run + full,),
        },
        figures=(png, "attractor.png"),
        notes={"smoke": "a coarse line and plane", "cpu": cpu, "paper": "as cpu"},
    )


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        _landscape(
            "main-line",
            "Main text: the chaotic LSTM's cost along θ = s·θ_true, smooth where "
            "the attractor is a fixed point or cycle and jagged where it is chaotic",
            "--line 200 --grid 10,10",
            "--line 5000 --grid 10,10",
            "line.png",
            "none: the authors' 5000 values of s in [0.5, 2] (plus s = 1), a "
            "200-step run with 100 dropped; seconds on a CPU (with a 10 × 10 "
            "plane, not drawn)",
        ),
        _landscape(
            "supp-fig-1",
            "Supp. Fig. 1: the chaotic LSTM's mean-square cost over "
            "θ = s1·θ_true + s2·θ_random",
            "--line 20 --grid 20,20",
            "--line 20 --grid 150,150",
            "plane.png",
            "none: the authors' grid, s1 150 values in [0, 2] plus 0 and 1, s2 "
            "150 in [-0.5, 0.5] plus 0, one random direction U[0, 1) (theirs "
            "came from PyTorch's unseeded generator); seconds on a CPU (with a "
            "20-point line, not drawn)",
        ),
        _symbols(
            "supp-fig-2",
            "Supp. Fig. 2: training and validation accuracy of the LSTM on the "
            "symbols task (T = 100) from two random initialisations",
            "lstm",
            "history {run}",
            seeds="0,1",
        ),
        _symbols(
            "supp-fig-3",
            "Supp. Fig. 3: bifurcation diagram of the LSTM's output on the "
            "symbols task (T = 100), epochs 0 to 400",
            "lstm",
            "orbit {run} --type orbit2d --init 0",
        ),
        _symbols(
            "supp-fig-4",
            "Supp. Fig. 4: bifurcation diagram of the oRNN's output on the "
            "symbols task (T = 100), epochs 0 to 400",
            "ornn",
            "orbit {run} --type orbit2d --init 0",
        ),
        _lm(
            "supp-fig-5",
            "lstm",
            "Supp. Fig. 5: bifurcation diagrams of the LSTM language model on "
            "WikiText-2 (constant and fed-back words; projections mean, is, "
            "Valkyria)",
        ),
        _lm(
            "supp-fig-6",
            "slstm",
            "Supp. Fig. 6: the same for the stable LSTM (projections mean, is, "
            "Valkyria, <unk>)",
        ),
        _lm("supp-fig-7", "ornn", "Supp. Fig. 7: the same for the orthogonal RNN"),
    )
}


def listing(json_out: bool) -> str:
    """The experiments, as text or as one JSON object."""
    if json_out:
        return to_json(
            {
                name: {
                    "figure": e.figure,
                    "commands": {s: list(e.commands[s]) for s in SCALES},
                    "notes": e.notes,
                }
                for name, e in EXPERIMENTS.items()
            }
        )
    width = max(map(len, EXPERIMENTS))
    return "\n".join(f"{name:<{width}}  {e.figure}" for name, e in EXPERIMENTS.items())


def _run_command(argv: list[str]) -> dict[str, Any] | None:
    """Run one ``rnn-dyn`` command here; its JSON summary (with ``--json``) or None.

    A training run already in its ``--out`` is resumed (and, if finished, only
    reported), so an interrupted reproduction loses at most an epoch.
    """
    from . import _commands
    from ._parser import build_parser

    if argv[0] == "train":
        out = Path(argv[argv.index("--out") + 1])
        if (out / "config.json").exists():
            _check_same_run(argv, out)
            argv = [*argv, "--resume"]
    args = build_parser().parse_args(argv)
    args.argv = argv
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        getattr(_commands, args.command.replace("-", "_"))(args)
    return json.loads(printed.getvalue()) if args.json else None


def _check_same_run(argv: list[str], out: Path) -> None:
    """Refuse to resume a run in ``out`` that these flags would not have started.

    ``--resume`` keeps the saved value of every flag not given, so a smoke run
    found where a cpu-scale run goes would otherwise continue at smoke sizes.
    """
    from ..train import Run
    from ._inputs import train_config
    from ._parser import build_parser

    args = build_parser().parse_args(argv)
    args.argv = argv
    wanted, saved = train_config(args), Run(out).config()
    for field in dataclasses.fields(wanted):
        a, b = getattr(wanted, field.name), getattr(saved, field.name)
        if field.name != "epochs" and a != b:
            raise UsageError(
                f"{out} holds a run with {field.name} {b}, not {a}: give another "
                "--out, or remove it to start again"
            )


def reproduce(args: argparse.Namespace) -> int:
    """Run an experiment at a scale; write its figures, result.json, provenance.json."""
    if args.list:
        print(listing(args.json))
        return 0
    if args.name is None:
        raise UsageError(
            "give an experiment NAME (rnn-dyn reproduce --list names them)"
        )
    experiment = EXPERIMENTS[args.name]
    if experiment.kind == "lm" and not args.data:
        raise UsageError(f"{args.name} needs --data DIR, a WikiText-2 directory")
    out = Path(args.out or f"results/reproduce/{args.name}-{args.scale}")
    lines = experiment.command_lines(args.scale, out, args.data)
    record = provenance()  # the code as it is when the run starts
    outputs, seconds = [], []
    for i, argv in enumerate(lines, 1):
        if args.quiet and argv[0] in ("train", "chaotic-lstm"):
            argv.append("--quiet")  # their progress bars
        elif not args.quiet:
            print(f"[{i}/{len(lines)}] rnn-dyn {' '.join(argv)}", flush=True)
        start = time.perf_counter()
        outputs.append(_run_command(argv))
        seconds.append(round(time.perf_counter() - start, 3))
    run = out / experiment.run if experiment.run else None
    result = {
        "experiment": experiment.name,
        "figure": experiment.figure,
        "scale": args.scale,
        "differs_from_paper": experiment.notes[args.scale],
        "figures": [str(out / f) for f in experiment.figures],
        **_RESULTS[experiment.kind](run, outputs[0]),
    }
    config = run / "config.json" if run else None
    record |= {
        "commands": [["rnn-dyn", *argv] for argv in lines],
        "seconds": seconds,
        "config": json.loads(config.read_text()) if config else None,
    }
    save_json(out / "provenance.json", record)
    save_json(out / "result.json", result)
    print(to_json(result) if args.json else f"wrote {out}/result.json")
    return 0


def _landscape_result(_: None, summary: dict[str, Any]) -> dict[str, Any]:
    """The line's and the plane's numbers from `rnn-dyn chaotic-lstm`'s summary."""
    keep = ("loss_at_true", "line", "grid", "points_per_second", "dtype")
    return {k: summary[k] for k in keep}


def _lm_result(run: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Each seed's final scores (perplexities) and the last epoch's orbits."""
    result = {"epochs": summary["epochs"], "final_per_seed": summary["final_per_seed"]}
    if (run / "orbit.npz").exists():
        result["orbits_last_epoch"] = orbit_census(run / "orbit.npz")
    return result


def _symbols_result(run: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """`_lm_result`'s, and each seed's first epoch at 90 % validation accuracy."""
    from ..train import Run

    history = Run(run).history()
    first = {
        str(seed): next(
            (r["epoch"] for r in history if r["seed"] == seed and r["val_acc"] >= 0.9),
            None,
        )
        for seed in summary["seeds"]
    }
    return _lm_result(run, summary) | {"first_epoch_val_acc_0.9": first}


def orbit_census(path: Path, *, tol: float = 1e-4) -> dict[str, Any]:
    """What each recorded trajectory of the last epoch settled into.

    A trajectory (one initial state, input and output) is a fixed point when
    its stored values span at most ``tol`` (relative to 1 + their size), a
    cycle of period p when it repeats after p <= 50 steps at that resolution,
    and otherwise "other" (a closed curve, a longer cycle, chaos, or a slow
    transient); non-finite ones are counted apart. Counted in all and for
    each constant input (by its label).
    """
    from ..orbit import read_orbit

    record = read_orbit(path)
    last = record.outputs[..., -1]  # (steps, inits, inputs, outputs)
    n_inputs = last.shape[2]
    labels = record.labels or tuple(f"input {k}" for k in range(n_inputs))
    kinds = ("fixed_point", "cycle", "other", "nonfinite")
    total = dict.fromkeys(kinds, 0)
    per_input = {label: dict.fromkeys(kinds, 0) for label in labels[:n_inputs]}
    periods = set()
    for k, label in enumerate(labels[:n_inputs]):
        for y in last[:, :, k].reshape(last.shape[0], -1).T:
            if not np.all(np.isfinite(y)):
                kind = "nonfinite"
            else:
                period = _period(y, tol * (1 + np.max(np.abs(y))))
                kind = {None: "other", 1: "fixed_point"}.get(period, "cycle")
                if kind == "cycle":
                    periods.add(period)
            total[kind] += 1
            per_input[label][kind] += 1
    return {
        "epoch": int(record.epochs[-1]),
        "trajectories": sum(total.values()),
        **total,
        "cycle_periods": sorted(periods),
        "per_input": per_input,
    }


def _period(y: np.ndarray, tol: float, most: int = 50) -> int | None:
    """The smallest p <= most with |y[t + p] - y[t]| <= tol for all t; else None."""
    for p in range(1, min(most, len(y) // 2) + 1):
        if np.max(np.abs(y[p:] - y[:-p])) <= tol:
            return p
    return None


_RESULTS = {"landscape": _landscape_result, "train": _symbols_result, "lm": _lm_result}
