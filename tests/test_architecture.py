"""Layering rules from the house style, checked by import-linter (see pyproject.toml),
and the layout around the package: what is installed, what the Procfile runs."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_a_new_module_is_checked_without_being_listed(tmp_path: Path) -> None:
    """Modules nobody listed in a contract: a headless one importing Textual, one
    importing the console, one importing the tests; a console one importing the model."""
    shutil.copytree(
        ROOT / "whisperops", tmp_path / "whisperops", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    room = tmp_path / "whisperops" / "new_room"
    room.mkdir()
    (room / "__init__.py").write_text("")
    (room / "screen.py").write_text("from textual.app import App\n")
    (room / "peek.py").write_text("from whisperops.console import rows\n")
    (room / "sample.py").write_text("from tests.audio import write_tone_wav\n")
    (tmp_path / "whisperops" / "console" / "decode.py").write_text("import faster_whisper\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 4 broken." in result.stdout, result.stdout
    for offender in ("new_room.screen", "new_room.peek", "new_room.sample", "console.decode"):
        assert f"whisperops.{offender}" in result.stdout, result.stdout


def test_only_the_package_is_installed() -> None:
    """workers/, scripts/, tests/ and bench/ are not installed as top-level modules."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py-modules" not in setuptools
    packages = find_packages(ROOT, **setuptools["packages"]["find"])
    assert "whisperops" in packages and "whisperops.console" in packages
    assert {name.split(".")[0] for name in packages} == {"whisperops"}


def procfile_modules() -> dict[str, str]:
    """Procfile process name -> the workers/ module its line runs."""
    modules = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, command = line.split(":", 1)
        found = re.search(r"\bpython -m workers\.(\w+)", command)
        assert found, f"Procfile line {name!r} does not run a workers/ entry point: {command}"
        modules[name] = found.group(1)
    return modules


def test_workers_holds_exactly_the_procfile_entry_points() -> None:
    on_disk = {path.stem for path in (ROOT / "workers").glob("*.py")} - {"__init__"}
    assert sorted(procfile_modules().values()) == sorted(on_disk)


@pytest.mark.parametrize("module", sorted(set(procfile_modules().values())))
def test_each_entry_point_is_thin_and_runs(module: str) -> None:
    """An entry point hands its arguments to a `whisperops` command and holds no logic."""
    tree = ast.parse((ROOT / "workers" / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"workers"}
    assert not [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]

    shown = subprocess.run(
        [sys.executable, "-m", f"workers.{module}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Usage: whisperops "), shown.stdout


def test_no_module_imports_itself_back() -> None:
    """No import cycles, lazy imports included: each room can be read (and changed) on
    its own, starting from what it imports."""
    import grimp

    graph = grimp.build_graph("whisperops")
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []


def test_no_module_is_too_long_to_read_in_one_sitting() -> None:
    package = Path(__file__).resolve().parents[1] / "whisperops"
    lengths = {
        str(path.relative_to(package)): len(path.read_text().splitlines())
        for path in package.rglob("*.py")
    }
    assert {name: lines for name, lines in lengths.items() if lines > 350} == {}
