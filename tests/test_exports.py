"""The top-level names: one export list, the naming rule, the type-checker mirror."""

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rnn_dyn

INIT = Path(rnn_dyn.__file__)


def _type_checking_imports():
    """(name, module, attribute) of each import under `if TYPE_CHECKING:`."""
    tree = ast.parse(INIT.read_text())
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    found = set()
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1, ast.unparse(node)
        for alias in node.names:
            assert alias.asname == alias.name, f"re-export {alias.name} as itself"
            if node.module is None:  # from . import x as x: a module
                found.add((alias.name, f".{alias.name}", None))
            else:
                found.add((alias.name, f".{node.module}", alias.name))
    return found


def test_type_checking_block_mirrors_exports():
    exports = {(name, mod, attr) for name, (mod, attr) in rnn_dyn._EXPORTS.items()}
    block = _type_checking_imports()
    assert exports - block == set(), "in _EXPORTS but not under TYPE_CHECKING"
    assert block - exports == set(), "under TYPE_CHECKING but not in _EXPORTS"


@pytest.mark.parametrize("name", sorted(rnn_dyn._EXPORTS))
def test_every_export_resolves_to_its_source(name):
    module_name, attr = rnn_dyn._EXPORTS[name]
    module = importlib.import_module(module_name, "rnn_dyn")
    expected = module if attr is None else getattr(module, attr)
    assert getattr(rnn_dyn, name) is expected
    assert name in dir(rnn_dyn)


def test_every_listed_name_is_defined_in_its_private_module():
    for module_name, names in rnn_dyn._NAMES.items():
        assert module_name.startswith("._"), f"{module_name} is not private"
        module = importlib.import_module(module_name, "rnn_dyn")
        for name in names:
            assert getattr(module, name).__module__ == module.__name__, name


def test_a_public_name_left_out_of_the_list_is_an_internal_helper():
    """A public-looking name of a home module that is not exported must be used
    by another module of the package: a helper, not a forgotten export."""
    root = INIT.parent
    sources = {p: p.read_text() for p in root.rglob("*.py")}
    for module_name, names in rnn_dyn._NAMES.items():
        path = root / f"{module_name[1:]}.py"
        tree = ast.parse(sources[path])
        defined = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
            and not node.name.startswith("_")
        }
        for name in sorted(defined - set(names)):
            stem = module_name[1:]
            use = re.compile(
                rf"\b{stem} import (\([^)]*|[^\n]*)\b{name}\b|\b{stem[1:]}\.{name}\b"
            )
            users = [p for p, text in sources.items() if p != path and use.search(text)]
            assert users, f"{module_name}.{name} is neither exported nor used"


def test_every_public_module_is_exported():
    """``rd.x`` for every public module or package of rnn_dyn (the CLI aside)."""
    root = INIT.parent
    public = {
        p.stem if p.is_file() else p.name
        for p in root.iterdir()
        if not p.name.startswith("_")
        and (p.suffix == ".py" or (p / "__init__.py").exists())
    }
    assert public - {"cli"} == set(rnn_dyn._MODULES)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        rnn_dyn.nonexistent  # noqa: B018


def test_import_does_not_load_jax():
    code = "import sys, rnn_dyn, rnn_dyn.cli; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
