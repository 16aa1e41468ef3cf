"""``rnn-dyn reproduce``: the registry, the smoke runs, result.json and provenance."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import write_corpus

from rnn_dyn.cli import main
from rnn_dyn.cli._parser import build_parser
from rnn_dyn.cli._reproduce import EXPERIMENTS, SCALES, orbit_census
from rnn_dyn.orbit import append_orbit
from rnn_dyn.train import Run, TrainConfig

NAMES = ["main-line", *(f"supp-fig-{i}" for i in range(1, 8))]


def test_list_names_one_experiment_per_figure_and_every_command_parses(capsys):
    assert main(["reproduce", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(listed) == sorted(NAMES)
    parser = build_parser()
    for name, entry in listed.items():
        assert set(entry["commands"]) == set(SCALES) == set(entry["notes"])
        for scale in SCALES:
            lines = EXPERIMENTS[name].command_lines(scale, Path("/o"), "/d")
            for argv in lines:  # paper-scale lines too, never run by the tests
                args = parser.parse_args(argv)
                assert args.command in ("chaotic-lstm", "train", "orbit", "history")
                if args.command == "train":
                    assert args.protocol == "authors"
    assert main(["reproduce", "--list"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(NAMES)


def test_paper_scale_trains_at_the_supplements_sizes():
    """Supp. Figs. 2-4: T = 100, hidden 50, 400 epochs; 5-7: 800 units, 150 epochs."""
    for name, epochs, hidden in (("supp-fig-3", 400, 50), ("supp-fig-7", 150, 800)):
        argv = EXPERIMENTS[name].command_lines("paper", Path("/o"), "/d")[0]
        args = build_parser().parse_args(argv)
        config = TrainConfig(
            task=args.task, protocol="authors", data="/d", epochs=args.epochs
        )
        assert (config.epochs, config.hidden) == (epochs, hidden)
        assert args.orbit_every == 1
        if args.task == "symbols":
            assert config.seq_len == 100


def _trajectory(kind, n=40):
    t = np.arange(n)
    return {
        "fixed": np.full(n, 0.3),
        "period 3": np.asarray([0.1, -0.4, 0.9])[t % 3],
        "quasi": np.sin(2 * np.pi * t * (np.sqrt(5) - 1) / 2),
        "nan": np.where(t > 30, np.nan, 1.0),
    }[kind]


def test_orbit_census_tells_fixed_points_cycles_and_the_rest(tmp_path):
    kinds = ["fixed", "period 3", "quasi", "nan", "period 3"]
    record = np.stack([_trajectory(k) for k in kinds], axis=1)  # (steps, inits)
    path = tmp_path / "orbit.npz"
    append_orbit(path, np.zeros((40, 5, 1, 1)), 1)
    append_orbit(path, record[:, :, None, None], 2)
    census = orbit_census(path)
    counts = {"fixed_point": 1, "cycle": 2, "other": 1, "nonfinite": 1}
    assert census == {
        "epoch": 2,
        "trajectories": 5,
        **counts,
        "cycle_periods": [3],
        "per_input": {"input 0": counts},
    }


@pytest.mark.slow  # 20 s of compiling: the slow tier, with the other figures
def test_smoke_symbols_figure_writes_result_provenance_and_resumes(tmp_path, capsys):
    out = tmp_path / "fig3"
    argv = ["reproduce", "supp-fig-3", "--scale", "smoke", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    capsys.readouterr()
    result = json.loads((out / "result.json").read_text())
    provenance = json.loads((out / "provenance.json").read_text())
    run = Run(out / "lstm-symbols")
    assert (out / "supp-fig-3.png").stat().st_size > 10_000
    assert result["figures"] == [str(out / "supp-fig-3.png")]
    # result.json's numbers are the run's
    last = run.history()[-1]
    final = result["final_per_seed"][0]
    assert (
        final["val_acc"] == last["val_acc"]
        and final["train_loss"] == last["train_loss"]
    )
    census = result["orbits_last_epoch"]
    assert census["epoch"] == 2 and census["trajectories"] == 2 * 6 * 4
    assert sum(census[k] for k in ("fixed_point", "cycle", "other", "nonfinite")) == 48
    # provenance: the config trained, the commands, versions and machine
    assert TrainConfig.from_json(provenance["config"]) == run.config()
    assert run.config().protocol == "authors"
    assert provenance["commands"][0][:3] == ["rnn-dyn", "train", "symbols"]
    assert provenance["jax"] and provenance["python"] and provenance["cpu"]
    commit = provenance["git_commit"]
    assert commit is None or len(commit) == 40
    assert len(provenance["seconds"]) == 2
    # Run again: the finished run is kept (resumed with nothing left to do)
    history = (out / "lstm-symbols" / "history.csv").read_text()
    assert main([*argv, "--json"]) == 0
    again = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (out / "lstm-symbols" / "history.csv").read_text() == history
    assert again["final_per_seed"] == result["final_per_seed"]
    # Another scale into the same --out: refused in one line, the run kept
    cpu = ["reproduce", "supp-fig-3", "--scale", "cpu", "--out", str(out)]
    assert main([*cpu, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run with hidden 8, not 50" in err[0]
    assert (out / "lstm-symbols" / "history.csv").read_text() == history


@pytest.mark.slow  # three more compilations: the slow tier
@pytest.mark.parametrize("name", ["main-line", "supp-fig-4", "supp-fig-6"])
def test_smoke_figures_of_the_other_kinds(name, tmp_path, capsys):
    data = write_corpus(tmp_path / "corpus", splits=("valid", "test"), repeat=200)
    out = tmp_path / name
    argv = ["reproduce", name, "--scale", "smoke", "--out", str(out), "--quiet"]
    assert main([*argv, "--data", str(data)]) == 0
    result = json.loads((out / "result.json").read_text())
    for figure in result["figures"]:
        assert Path(figure).stat().st_size > 10_000
    if name == "main-line":
        with np.load(out / "landscape.npz") as arrays:
            loss = arrays["line_loss"]
            s = arrays["line_s"]
        assert result["loss_at_true"] == float(loss[s == 1.0][0]) == 0.0
        inner = loss[1:-1]
        minima = int(np.sum((inner < loss[:-2]) & (inner < loss[2:])))
        assert result["line"]["local_minima"] == minima and result["line"]["n"] == 201
    else:
        config = Run(out / next(p.name for p in out.iterdir() if p.is_dir())).config()
        assert config.protocol == "authors" and config.loss_reduction == "sum"
        if name == "supp-fig-6":  # the language model's scores, not its state
            assert config.orbit_space == "logits" and config.stabilize == "authors"
            assert result["final_per_seed"][0]["val_ppl"] > 1
        else:
            assert config.ornn_variant == "authors"
