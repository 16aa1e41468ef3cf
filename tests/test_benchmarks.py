"""Smoke test: every benchmarks/bench_*.py runs with --quick and prints JSON lines."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))
EXPECTED_METHODS = {
    "bench_sensitivities.py": {
        "reverse",
        "forward_s1",
        "jacfwd",
        "jvp",
        "simulate",
        "torch",
    },
    "bench_landscape.py": {
        "jax",
        "jax_vmap",
        "torch_loop",
        "torch_batched",
        "torch_batched_major",
        "bound",
        "bound_major",
        "layouts",
        "memory_1000x1000",
    },
    "bench_lipschitz.py": {
        "reverse",
        "traj_matfree",
        "traj_dense",
        "steps_matfree",
        "steps_dense",
    },
    "bench_train.py": {"jax_train_step", "jax_step", "torch"},
    "bench_lm.py": {"jax_epoch", "torch"},
}
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def test_benchmarks_exist():
    assert SCRIPTS, "no benchmarks/bench_*.py found"


# The Lipschitz benchmark's quick run compiles for 40 s: the slow tier.
@pytest.mark.parametrize(
    "script",
    [
        pytest.param(s, marks=pytest.mark.slow) if s.name == "bench_lipschitz.py" else s
        for s in SCRIPTS
    ],
    ids=lambda p: p.name,
)
def test_quick_run(script):
    proc = subprocess.run(
        [sys.executable, str(script), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, "benchmark printed nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    cases = [r for r in records if r.get("kind") == "case"]
    for rec in cases:
        assert {"method", "device_kind", "backend", "dtype", "status"} <= rec.keys()
        if rec["status"] == "ok":
            assert rec["run_s"] > 0 and rec["repeats"] >= 1
            assert "peak_bytes" in rec
    methods = {r["method"] for r in cases}
    assert EXPECTED_METHODS.get(script.name, set()) <= methods

    torch_cases = [r for r in cases if r["method"] == "torch"]
    for rec in torch_cases:
        if HAVE_TORCH:
            assert rec["status"] == "ok"
            check = rec["grad_check"]
            assert check["passed"], check
            assert check["rel_err"] <= check["rtol"]
        else:
            assert rec["status"] == "skipped"
