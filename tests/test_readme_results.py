"""The README's generated blocks match their JSON sources (tools/results.py).

These tests read files only: the sources in docs/results/ are made by
`python tools/results.py run`, never here.
"""

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("results", ROOT / "tools/results.py")
assert _spec is not None and _spec.loader is not None
results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results)

BLOCKS = ("lyapunov-table", "fixed-points", "entropy", "reproductions", "theorem1")
BENCHMARK_BLOCKS = ("landscape-speed",)


def _block_span(text, name):
    for match in results.BLOCK.finditer(text):
        if match["name"] == name:
            return match.span("body")
    raise AssertionError(f"no block {name!r}")


def test_readme_results_match_their_sources(capsys):
    for path, blocks in (
        (results.README, BLOCKS),
        (results.BENCHMARKS, BENCHMARK_BLOCKS),
    ):
        text = path.read_text()
        assert [m["name"] for m in results.BLOCK.finditer(text)] == list(blocks)
    assert results.main(["check"]) == 0, capsys.readouterr()


@pytest.mark.parametrize(
    "path, name",
    [(results.README, b) for b in BLOCKS]
    + [(results.BENCHMARKS, b) for b in BENCHMARK_BLOCKS],
    ids=lambda v: getattr(v, "name", v),
)
def test_readme_results_check_detects_a_changed_digit(path, name, tmp_path, capsys):
    text = path.read_text()
    start, end = _block_span(text, name)
    digit = re.compile(r"\d").search(text, start, end)
    assert digit is not None
    i = digit.start()
    tampered = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]
    readme = tmp_path / "README.md"
    readme.write_text(tampered)

    assert results.main(["check", "--readme", str(readme)]) == 1
    out = capsys.readouterr().out
    line = text.count("\n", 0, i)
    assert f"--- README block {name}" in out
    assert f"\n-{tampered.splitlines()[line]}\n" in out
    assert f"\n+{text.splitlines()[line]}\n" in out
    assert readme.read_text() == tampered  # check never writes

    assert results.main(["render", "--readme", str(readme)]) == 0
    assert readme.read_text() == text


def test_readme_results_check_rejects_an_unknown_block(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results: no-such-table -->\n1.0\n<!-- /results -->\n")
    assert results.main(["check", "--readme", str(readme)]) == 1
    assert "'no-such-table': no such renderer" in capsys.readouterr().err


def test_readme_results_check_rejects_a_missing_source(tmp_path, capsys):
    sources = tmp_path / "results"
    shutil.copytree(results.RESULTS, sources)
    (sources / "lyapunov-henon.json").unlink()
    args = ["check", "--results", str(sources)]
    assert results.main(args) == 1
    err = capsys.readouterr().err
    assert "'lyapunov-table': FileNotFoundError: missing source" in err
    assert "lyapunov-henon.json" in err


def test_readme_results_check_rejects_an_unclosed_block(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results: fixed-points -->\ntext\n")
    assert results.main(["check", "--readme", str(readme)]) == 1
    assert "not closed" in capsys.readouterr().err
