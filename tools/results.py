"""The README's numbers: JSON sources in docs/results/, rendered into its blocks.

A source is the JSON an `rnn-dyn ... --json` command prints, wrapped with the
command line and where and when it ran. A README block

    <!-- results: NAME -->
    ...
    <!-- /results -->

holds the text that the renderer NAME (below) writes from the sources.

    python tools/results.py run NAME -- rnn-dyn lyapunov --system henon ...
    python tools/results.py render [--readme FILE]  # rewrite every block
    python tools/results.py check [--readme FILE]   # exit 1, diff, if one differs

without --readme both README.md and benchmarks/README.md. A benchmark's
source holds the list of JSON lines it printed.

`make results` is `render`. Only `run` computes anything; `render` and `check`
read files (standard library only, no JAX).
"""

import argparse
import dataclasses
import difflib
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
README = ROOT / "README.md"
BENCHMARKS = ROOT / "benchmarks" / "README.md"
DOCS = (README, BENCHMARKS)  # the files with blocks
BLOCK = re.compile(
    r"^<!-- results: (?P<name>\S+) -->\n(?P<body>.*?)^<!-- /results -->$",
    re.MULTILINE | re.DOTALL,
)

# Running a command into a source


def run_source(name: str, command: list[str], results: Path = RESULTS) -> Path:
    """Run an `rnn-dyn ... --json` command and write its output as a source.

    The command runs in a temporary directory (its figures and npz files are
    discarded) with this Python's scripts first on PATH, so `rnn-dyn` is the
    one of the environment whose versions are recorded.

    Args:
        name: The source's name; it is written to `results/NAME.json`.
        command: The command line, split into words.
        results: The folder of sources.

    Returns:
        The path written.

    Raises:
        subprocess.CalledProcessError: The command failed (nothing is written).
    """
    from rnn_dyn._provenance import provenance  # the package's, no JAX

    record = provenance()  # the code as it is when the command starts
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        done = subprocess.run(
            command, cwd=scratch, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise subprocess.CalledProcessError(done.returncode, command)
    record["seconds"] = round(seconds, 1)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:  # a benchmark: one JSON object per line
        result = [json.loads(line) for line in done.stdout.splitlines() if line]
    source = {"command": shlex.join(command), "provenance": record, "result": result}
    path = results / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(source, indent=1, ensure_ascii=False) + "\n")
    return path


# Number formats


def _num(x: float, decimals: int) -> str:
    """Format with a typographic minus sign, as the README writes numbers."""
    return f"{x:.{decimals}f}".replace("-", "−")


def _error_decimals(err: float, most: int = 5) -> int:
    """Decimals that show an error to one digit (two if it starts with 1), at most 5."""
    exponent = math.floor(math.log10(abs(err)))
    leading = int(abs(err) / 10.0**exponent)
    return min(most, max(0, -exponent + (1 if leading == 1 else 0)))


def _with_error(x: float, err: float) -> str:
    decimals = _error_decimals(err)
    return f"{_num(x, decimals)} ± {_num(err, decimals)}"


def _sig(x: float, digits: int) -> str:
    """Format to significant digits: fixed for 1e-4 ≤ |x| < 1e4, else as 2e16."""
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    if -4 <= int(exponent) < 4:
        return _num(x, max(0, digits - 1 - int(exponent)))
    return f"{mantissa}e{int(exponent)}".replace("-", "−")


def _dimension(d: float) -> str:
    return str(int(d)) if d == int(d) else _num(d, 3)


# Reading the sources


@dataclasses.dataclass
class Sources:
    """The sources in a folder, by name, each read once."""

    folder: Path
    cache: dict[str, dict] = dataclasses.field(default_factory=dict)

    def _read(self, name: str) -> dict:
        if name not in self.cache:
            path = self.folder / f"{name}.json"
            if not path.is_file():
                raise FileNotFoundError(f"missing source {path}")
            self.cache[name] = json.loads(path.read_text())
        return self.cache[name]

    def result(self, name: str) -> dict:
        """The JSON that the source's command printed."""
        return self._read(name)["result"]

    def command(self, name: str) -> str:
        """The command line that made the source."""
        return self._read(name)["command"]

    def provenance(self, name: str) -> dict:
        """Where, when and how long the source's command ran."""
        return self._read(name)["provenance"]


# Renderers: each maps the sources to the markdown of a block.

LYAPUNOV_ROWS = {
    "lyapunov-authors": "chaotic LSTM, authors' weights",
    "lyapunov-printed": "chaotic LSTM, printed weights (`--variant printed`)",
    "lyapunov-henon": "Hénon, a = 1.4, b = 0.3 (`--system henon`)",
    "lyapunov-logistic": "logistic, r = 4 (`--system logistic`)",
}


def lyapunov_table(sources: Sources) -> str:
    """The Lyapunov spectra: the command and the table of the four systems."""
    results = {name: sources.result(name) for name in LYAPUNOV_ROWS}
    runs = {(r["steps"], r["burn_in"], r["dtype"]) for r in results.values()}
    if len(runs) != 1:
        raise ValueError(f"the Lyapunov sources differ in steps or burn-in: {runs}")
    ((steps, burn_in, dtype),) = runs
    lines = [
        f"**Lyapunov spectra** (`rnn-dyn lyapunov --system S --steps {steps} "
        f"--burn-in\n{burn_in} --x64 --json`, {dtype}, QR method; ± is the "
        "standard error over 10\nsegments; the last column is the "
        "two-trajectory estimate of λ₁):",
        "",
        "| system | exponents (nats/step) | sum | Kaplan–Yorke dim. | attractor "
        "| λ₁, two trajectories |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in LYAPUNOV_ROWS.items():
        r = results[name]
        exponents = ", ".join(map(_with_error, r["exponents"], r["stderr"]))
        if name == "lyapunov-logistic":
            exponents += f" (ln 2 = {math.log(2):.6f})"
        total = "" if len(r["exponents"]) == 1 else _num(r["sum"], 3)
        if name == "lyapunov-henon":
            total = f"{_num(r['sum'], 5)} (= ln 0.3)"
        attractor = r["attractor"]
        if r["period"] is not None:
            attractor += f", period {r['period']}"
        two = r["two_trajectory"]
        cells = [
            label,
            exponents,
            total,
            _dimension(r["kaplan_yorke_dimension"]),
            attractor,
            _with_error(two["exponent"], two["stderr"]),
        ]
        lines.append("| " + " | ".join(cells).replace("|  |", "| |") + " |")
    return "\n".join(lines) + "\n"


def _cycles(result: dict, period: int, stability: str) -> list[dict]:
    return [
        c
        for c in result["cycles"]
        if c["period"] == period and c["stability"] == stability
    ]


def _only(cycles: list[dict], what: str) -> dict:
    if len(cycles) != 1:
        raise ValueError(f"expected one {what}, found {len(cycles)}")
    return cycles[0]


def _leading_multiplier(cycle: dict) -> float:
    """The eigenvalue of Df^k of largest modulus; it must be real."""
    re_, im = max(cycle["eigenvalues"], key=lambda z: math.hypot(*z))
    if abs(im) > 1e-12 * abs(re_):
        raise ValueError(f"the leading multiplier is complex: {re_} + {im}i")
    return re_


def _radii(cycles: list[dict], decimals: int) -> str:
    return " and ".join(f"{c['spectral_radius']:.{decimals}f}" for c in cycles)


def _shown(command: str) -> str:
    """The command as the README shows it: without `--json`."""
    return command.replace(" --json", "")


def fixed_points(sources: Sources) -> str:
    """The paragraph on the printed weights' stable cycle and the saddles."""
    printed = sources.result("fixed-points-printed")
    authors = sources.result("fixed-points-authors")
    lyapunov = sources.result("lyapunov-printed")
    period = lyapunov["period"]
    stable = _only(_cycles(printed, period, "stable"), "stable cycle (printed)")
    multiplier = _leading_multiplier(stable)
    if multiplier >= 0:
        raise ValueError(f"the leading Floquet multiplier is not negative: {stable}")
    origin = _only(_cycles(authors, 1, "saddle"), "saddle fixed point (authors)")
    if any(x != 0.0 for x in origin["points"][0]):
        raise ValueError(f"the authors' saddle fixed point is not 0: {origin}")
    saddles = _cycles(authors, 3, "saddle")
    printed_saddles = _cycles(printed, 3, "saddle")
    if len(saddles) != 2 or len(printed_saddles) != 2:
        raise ValueError("expected two saddle 3-cycles for each variant")
    command_printed = _shown(sources.command("fixed-points-printed"))
    command_authors = _shown(sources.command("fixed-points-authors"))
    return (
        "Only the authors' variant of Appendix C is chaotic. The printed weights\n"
        f"settle, slowly, onto a stable cycle of period {period}: Newton's method\n"
        f"(`{command_printed}`\n"
        f"or `rd.fixed_points(..., period={period})` from a late state) finds it "
        "with leading\n"
        f"Floquet multiplier {_num(multiplier, 5)} (negative: the orbit flips "
        "from one side of the\n"
        f"cycle to the other each period), and ln|{_num(multiplier, 5)}|/{period} "
        f"= {_num(math.log(abs(multiplier)) / period, 5)} is the\n"
        "measured λ₁. The distance to the cycle shrinks by only about "
        f"{round(100 * (1 - abs(multiplier)))} % per period, which is why\n"
        'shorter runs looked "quasi-periodic" (λ₁ ≈ 0; our earlier note said '
        "so). `rnn-dyn lyapunov` labels it\n"
        f"`{lyapunov['attractor']}, period {period}` after a "
        f"{lyapunov['burn_in']:,}-step burn-in by finishing the convergence\n"
        "with Newton (`classify_attractor`). Inside the authors' chaotic "
        "attractor,\n"
        f"`{command_authors}` finds a saddle at the\n"
        "origin and two saddle-type 3-cycles (spectral radii "
        f"{_radii(saddles, 3)}) embedded\n"
        "in it. (An earlier version of this README gave "
        f"{_radii(printed_saddles, 2)}: those are the\n"
        "saddle 3-cycles of the *printed* weights, which `--variant printed\n"
        f"--max-period {printed['max_period']}` finds beside the stable "
        f"{period}-cycle.)\n"
    )


# `rnn-dyn reproduce NAME --scale cpu --json` of each figure, by source name.
REPRODUCTIONS = [
    f"reproduce-{name}"
    for name in (
        "main-line",
        "supp-fig-1",
        "supp-fig-2",
        "supp-fig-3",
        "supp-fig-4",
        "supp-fig-5",
        "supp-fig-6",
        "supp-fig-7",
    )
]


def _census(census: dict) -> str:
    """What the last epoch's orbits settled into, input by input, in words."""
    periods = ", ".join(map(str, census["cycle_periods"]))
    names = {
        "fixed_point": "fixed points",
        "cycle": "cycles",
        "other": "other",
        "nonfinite": "non-finite",
    }
    groups: dict[str, list[str]] = {}  # inputs with the same counts, together
    for label, counts in census["per_input"].items():
        kinds = ", ".join(
            f"{counts[k]} {name}" for k, name in names.items() if counts[k]
        )
        groups.setdefault(kinds, []).append(label)
    inputs = "; ".join(
        f"{', '.join(labels)}: {kinds}" for kinds, labels in groups.items()
    )
    cycles = f" (cycle periods, all inputs: {periods})" if periods else ""
    return f"epoch {census['epoch']}: {inputs}{cycles}"


def _found(result: dict) -> str:
    """The numbers of one reproduction, as a table cell."""
    if result["experiment"] == "main-line":
        line = result["line"]
        return (
            f"V(θ_true) = {result['loss_at_true']:g}; {line['n']} points, "
            f"{line['local_minima']} strict local minima, {line['nonfinite']} "
            "non-finite"
        )
    if "grid" in result:
        grid = result["grid"]
        return (
            f"{grid['shape'][0]} × {grid['shape'][1]} points, V from "
            f"{grid['min']:.3f} to {grid['max']:.3f}, "
            f"{grid['nonfinite']} non-finite"
        )
    seeds = []
    for row in result["final_per_seed"]:
        if "val_ppl" in row:  # a language model
            seeds.append(
                f"seed {row['seed']}: perplexity {row['val_ppl']:.1f} (validation), "
                f"{row['test_ppl']:.1f} (test)"
            )
            continue
        first = result["first_epoch_val_acc_0.9"][str(row["seed"])]
        reached = f"90 % at epoch {first}" if first is not None else "never 90 %"
        seeds.append(f"seed {row['seed']}: val. acc. {row['val_acc']:.3f} ({reached})")
    text = "; ".join(seeds) + f" after {result['epochs']} epochs"
    if "orbits_last_epoch" in result:
        text += "; orbits per input at " + _census(result["orbits_last_epoch"])
    return text


def reproductions(sources: Sources) -> str:
    """The table of `rnn-dyn reproduce NAME --scale cpu` runs."""
    lines = [
        "| figure | command | what it found | minutes |",
        "|---|---|---|---|",
    ]
    for name in REPRODUCTIONS:
        result = sources.result(name)
        minutes = sources.provenance(name)["seconds"] / 60
        command = _shown(sources.command(name)).split(" --out")[0]
        command = command.replace(" --quiet", "")
        lines.append(
            f"| {result['experiment']} | `{command}` | {_found(result)} "
            f"| {minutes:.1f} |"
        )
    cpus = {sources.provenance(name)["cpu"] for name in REPRODUCTIONS}
    lines += ["", f"Run on: {', '.join(sorted(cpus))}."]
    return "\n".join(lines) + "\n"


LANDSCAPE_RUNS = ("bench-landscape-1", "bench-landscape-2", "bench-landscape-3")
LANDSCAPE_CASES = {
    "jax": "`jax`: rnn_dyn, default layout (auto: minor)",
    "jax_vmap": '`jax_vmap`: rnn_dyn, `layout="vmap"`',
    "torch_compiled": "`torch_compiled`: points last, `torch.compile`",
    "torch_batched": "`torch_batched`: points last, eager",
    "torch_batched_major": "`torch_batched_major`: points first, eager",
    "torch_loop": "`torch_loop`: one `nn.LSTM` call per point (authors)",
    "bound": "`bound`: 6 sigmoid + 4 tanh alone, points last",
    "bound_major": "`bound_major`: the same, points first",
}


def landscape_speed(sources: Sources) -> str:
    """bench_landscape.py's runs: points/s by case, ratios, layouts, memory."""
    runs = [sources.result(name) for name in LANDSCAPE_RUNS]
    cases = [{r["method"]: r for r in run if r.get("kind") == "case"} for run in runs]
    header = " | ".join(f"run {i + 1}" for i in range(len(runs)))
    lines = [f"| points/s | {header} |", "|---" + "|---:" * len(runs) + "|"]
    rate = lambda case, name: case[name]["points_per_s"]
    for name, label in LANDSCAPE_CASES.items():
        cells = [f"{rate(c, name):,.0f}" if name in c else "" for c in cases]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    torch = ("torch_compiled", "torch_batched")
    rows = {
        "`jax` / fastest PyTorch": [
            rate(c, "jax") / max(rate(c, n) for n in torch) for c in cases
        ],
        "`jax` / `jax_vmap`": [rate(c, "jax") / rate(c, "jax_vmap") for c in cases],
        "`bound` / `jax`": [rate(c, "bound") / rate(c, "jax") for c in cases],
    }
    for label, values in rows.items():
        lines.append(f"| {label} | {' | '.join(f'{v:.2f}×' for v in values)} |")
    first = runs[0]
    layouts = [r for r in first if r.get("method") == "layouts"]
    lines += [
        "",
        "Layouts (run 1), LSTM(1, H, readout=1), points/s:",
        "",
        "| H | parameters | vmap | minor | minor / vmap | auto |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for r in layouts:
        lines.append(
            f"| {r['hidden']} | {r['params']:,} | {r['vmap_points_per_s']:,.0f} "
            f"| {r['minor_points_per_s']:,.0f} | {r['minor_over_vmap']:.2f}× "
            f"| {r['auto']} |"
        )
    memory = cases[0]["memory_1000x1000"]
    env = cases[0]["jax"]
    torch_version = cases[0]["torch_batched"]["torch_version"]
    threads = cases[0]["torch_batched"]["torch_threads"]
    lines += [
        "",
        f"A {memory['grid']} plane ran in {memory['run_s']:.2f} s with a peak RSS"
        f" of {memory['peak_bytes'] / 2**20:,.0f} MiB for the whole process.",
        "",
        f"Commands: `{_shown(sources.command(LANDSCAPE_RUNS[0]))}`, three times in"
        f" a row. CPU: {env['cpu']} ({env['nproc']} cores), jax {env['jax_version']},"
        f" torch {torch_version} ({threads} threads), {env['n_devices']} XLA host"
        f" devices, {env['dtype']}.",
    ]
    return "\n".join(lines) + "\n"


# The last steps of `rnn-dyn entropy`, where the ensemble lies on the attractor:
# the paragraph's level of H_t and E[log|det A_t|] are their means over these.
ENTROPY_LATE = 10


def entropy(sources: Sources) -> str:
    """The paragraph on Theorem 2: the ensemble entropy against its bound."""
    r = sources.result("entropy-chaotic-lstm")
    if not r["system"].startswith("chaotic-lstm"):
        raise ValueError(f"the entropy source is not the chaotic LSTM: {r['system']}")
    if any(r["nonfinite"]):
        raise ValueError("the entropy source has non-finite ensemble members")
    steps = r["steps"]
    H, log_det, bound = r["H"], r["log_det_mean"], r["bound"]
    late = range(steps - ENTROPY_LATE, steps)  # steps t, from H_t to H_{t+1}
    level = sum(H[t + 1] for t in late) / len(late)
    if any(abs(H[t + 1] - level) > 0.5 for t in late):
        raise ValueError(f"H_t does not level off near {level} in the last steps")
    log_det_late = sum(log_det[t] for t in late) / len(late)
    if any(H[t + 1] - H[t] <= log_det[t] or H[t + 1] >= bound[t] for t in late):
        raise ValueError(
            "a late increment is not between E[log|det A_t|] and the bound"
        )
    command = _shown(sources.command("entropy-chaotic-lstm"))
    return (
        "**Theorem 2 points the other way in print.** (S3) reads H_t + N_x log L_f "
        "≤\nH_{t+1}; its proof gives H_{t+1} = H_t + E[log|det A_t|] ≤ H_t + N_x "
        "log L_f.\n"
        f"`{command}` (chaotic LSTM, {r['samples']:,} states from x0 + "
        f"{r['std']:g}·N(0, I), {steps}\n"
        f"steps) finds {len(r['violations'])} violations of the proof's direction "
        f"and {len(r['printed_violations'])} of {steps} steps\n"
        "violating the printed one. Once the ensemble lies on the attractor the\n"
        f"estimate of H_t levels off near {_sig(level, 2)} nats while the exact "
        "H_t keeps falling\n"
        f"(E[log|det A_t|] ≈ {_sig(log_det_late, 1)} per step): a finite ensemble "
        "cannot resolve a fractal\nset, so measured increments are then above "
        "E[log|det A_t|] but still far below\nthe bound.\n"
    )


SMOOTHNESS = {
    "contractive": "smoothness-contractive",
    "chaotic-lstm": "smoothness-chaotic-lstm",
    "neutral": "smoothness-neutral",
}


def _smoothness_command(sources: Sources) -> tuple[str, int]:
    """The command of the three runs with `--system S`, and its seed."""
    shown = set()
    for system, name in SMOOTHNESS.items():
        words = shlex.split(sources.command(name))
        i = words.index("--system")
        if words[i + 1] != system:
            raise ValueError(f"{name} is not of --system {system}: {words}")
        words[i + 1] = "S"
        shown.add(tuple(words))
    if len(shown) != 1:
        raise ValueError(f"the smoothness sources differ beyond --system: {shown}")
    words = list(shown.pop())
    i = words.index("--seed")  # given, since the JSON does not record it
    seed = int(words[i + 1])
    del words[i : i + 2]
    return _shown(shlex.join(words)), seed


def _span(values: list[float], digits: int) -> str:
    return f"{_sig(min(values), digits)}–{_sig(max(values), digits)}"


def _from_to(values: list[float], first_digits: int, last_digits: int) -> str:
    """The first and last values (N shortest and longest)."""
    return f"from {_sig(values[0], first_digits)} to {_sig(values[-1], last_digits)}"


def _bound_holds(measured: list[float], bound: list[float | None]) -> bool:
    # A null bound overflowed float64 (inf), so it holds.
    return all(b is None or m <= b for m, b in zip(measured, bound, strict=True))


def theorem1(sources: Sources) -> str:
    """The paragraph on Theorem 1 measured for the three regimes."""
    r = {system: sources.result(name) for system, name in SMOOTHNESS.items()}
    runs = {(tuple(x["lengths"]), x["radius"], x["samples"]) for x in r.values()}
    if len(runs) != 1:
        raise ValueError(f"the smoothness sources differ in their settings: {runs}")
    ((lengths, radius, samples),) = runs
    command, seed = _smoothness_command(sources)
    regimes = {s: x["regime"] for s, x in r.items()}
    if regimes != {
        "contractive": "contractive",
        "chaotic-lstm": "expanding",
        "neutral": "neutral",
    }:
        raise ValueError(f"unexpected regimes: {regimes}")
    growth = {
        s: (x["growth_L_V"]["kind"], x["growth_L_V_grad"]["kind"]) for s, x in r.items()
    }
    if growth != {
        "contractive": ("bounded", "bounded"),
        "chaotic-lstm": ("exponential", "exponential"),
        "neutral": ("exponential", "exponential"),
    }:
        raise ValueError(f"unexpected growth of L_V, L'_V: {growth}")
    for s, x in r.items():
        if not (
            _bound_holds(x["L_V"], x["bound_L_V"])
            and _bound_holds(x["L_V_grad"], x["bound_L_V_grad"])
        ):
            raise ValueError(f"a measured constant exceeds its bound ({s})")
    c, chaotic, neutral = r["contractive"], r["chaotic-lstm"], r["neutral"]
    if c["L_f"] <= 1:
        raise ValueError(f"‖[A_t B_t]‖ of the contractive RNN is not > 1: {c['L_f']}")
    first, last = c["bound_L_V"][0], c["bound_L_V"][-1]
    if first is None or last is None:
        raise ValueError("the contractive RNN's bound on L_V overflowed")
    return (
        f"**Theorem 1 measured** (`{command}`, lengths\n"
        f"{', '.join(map(str, lengths))}, ρ = {radius:g}, {samples} samples, "
        f"seed {seed}): the contractive tanh RNN\n"
        f"(max ‖A_t‖ = {_sig(c['L_f_state'], 2)}) has a flat L_V ≈ "
        f"{_span(c['L_V'], 3)} and L'_V ≈ {_span(c['L_V_grad'], 2)} (bounded);\n"
        "the chaotic LSTM's grow exponentially "
        f"(L_V {_from_to(chaotic['L_V'], 1, 1)}, L'_V from "
        f"{_sig(chaotic['L_V_grad'][0], 2)} to\n"
        f"{_sig(chaotic['L_V_grad'][-1], 2)}). Both maxima are sharpened by "
        "ascent steps, on ‖∇V‖ and on ‖∇²V‖₂\n"
        "(the latter through third derivatives, reverse over forward over reverse).\n"
        "The bounds hold everywhere but are loose: Theorem 1 uses one L_f for\n"
        f"(x, θ) jointly, and ‖[A_t B_t]‖ = {_sig(c['L_f'], 2)} > 1 for the "
        "contractive RNN, so its\n"
        f"bound grows exponentially ({_sig(first, 1)} at N = {lengths[0]}, "
        f"{_sig(last, 1)} at N = {lengths[-1]}) while the\n"
        "measured constant is flat. The neutral linear system (orthogonal A, "
        f"‖A‖ = {_sig(neutral['L_f_state'], 1)})\n"
        f"measures as exponential in both (L_V {_from_to(neutral['L_V'], 1, 2)}): any "
        "ball of\nparameters around an orthogonal A contains A's with spectral "
        'radius above 1, so "neutral" is not a robust\nregime once θ varies.\n'
    )


RENDERERS: dict[str, Callable[[Sources], str]] = {
    "lyapunov-table": lyapunov_table,
    "fixed-points": fixed_points,
    "reproductions": reproductions,
    "entropy": entropy,
    "theorem1": theorem1,
    "landscape-speed": landscape_speed,
}


# Rendering and checking the README


def render_text(text: str, results: Path = RESULTS) -> tuple[str, list[str]]:
    """Render every block of a README's text.

    Args:
        text: The README's text.
        results: The folder of sources.

    Returns:
        The text with every block rendered, and the problems met: unknown
        renderers, missing sources, renderers that failed, a text without
        blocks or with an unclosed one. A block with a problem is left as it is.
    """
    sources = Sources(results)
    problems: list[str] = []

    def render(match: re.Match) -> str:
        name = match["name"]
        if name not in RENDERERS:
            problems.append(f"block {name!r}: no such renderer")
            return match[0]
        try:
            body = RENDERERS[name](sources)
        except (OSError, KeyError, ValueError) as e:
            problems.append(f"block {name!r}: {type(e).__name__}: {e}")
            return match[0]
        # Blank lines around the body keep the markers out of its paragraphs.
        return f"<!-- results: {name} -->\n\n{body}\n<!-- /results -->"

    new = BLOCK.sub(render, text)
    opened = len(re.findall(r"^<!-- results:", text, re.MULTILINE))
    if opened == 0:
        problems.append("no results blocks")
    if opened != len(BLOCK.findall(text)):
        problems.append("a results block is not closed by <!-- /results -->")
    return new, problems


def block_diffs(old: str, new: str) -> list[str]:
    """Unified diffs of the blocks that differ between two renderings."""
    diffs = []
    for before, after in zip(BLOCK.finditer(old), BLOCK.finditer(new), strict=True):
        if before[0] != after[0]:
            name = before["name"]
            diffs.append(
                "".join(
                    difflib.unified_diff(
                        before["body"].splitlines(keepends=True),
                        after["body"].splitlines(keepends=True),
                        f"README block {name}",
                        f"{name} from the sources",
                    )
                )
            )
    return diffs


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run an rnn-dyn --json command into a source")
    run.add_argument("name")
    run.add_argument("command", nargs=argparse.REMAINDER)
    for action, help in (
        ("render", "rewrite every block of the README from the sources"),
        ("check", "exit 1, printing a diff, if a block differs from its sources"),
    ):
        p = sub.add_parser(action, help=help)
        p.add_argument(
            "--readme", type=Path, help="one file (default: README.md and benchmarks/)"
        )
    for p in sub.choices.values():
        p.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    if args.action == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run: give the command after --")
        path = run_source(args.name, command, args.results)
        print(f"{path}: {json.loads(path.read_text())['provenance']['seconds']} s")
        return 0

    failed = False
    for path in [args.readme] if args.readme else DOCS:
        text = path.read_text()
        new, problems = render_text(text, args.results)
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        if args.action == "render":
            if new != text and not problems:
                path.write_text(new)
            failed |= bool(problems)
            continue
        diffs = block_diffs(text, new)
        for diff in diffs:
            print(diff, end="")
        failed |= bool(problems or diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
