"""The layout a newcomer relies on: one package per stage in loop order, small modules,
import layers without cycles, and no private names borrowed across modules. Each test
names what is wrong and where. (ruff and mypy run in `make lint`, which CI runs first.)"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import tasks

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("cxloop", "flows", "tasks", "models", "demo")
MAX_LINES = 550  # "about 500"
BIN = Path(sys.executable).parent


def _product_modules() -> list[Path]:
    files = []
    for package in PRODUCT:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_stage_packages_are_in_loop_order_and_say_what_they_take_and_give():
    on_disk = {p.name for p in (ROOT / "tasks").iterdir() if (p / "__init__.py").is_file()}
    assert set(tasks.STAGES) == on_disk, f"tasks.STAGES {tasks.STAGES} vs packages on disk {sorted(on_disk)}"
    assert tasks.STAGES == ("collect", "validate", "text", "insight", "measures", "effects", "reports", "delivery")
    for stage in tasks.STAGES:
        init = ROOT / "tasks" / stage / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree) or ""
        assert len(doc.splitlines()) >= 3, f"{init}: the docstring must say what the stage takes and gives"
        code = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        # Besides its docstring, a stage may name a public entry point loaded on first use
        # (tasks.text.analyse): a module __getattr__, its __all__ and the typing import.
        code = [
            n
            for n in code
            if not (isinstance(n, ast.FunctionDef) and n.name == "__getattr__")
            and not (isinstance(n, ast.Assign) and [getattr(t, "id", None) for t in n.targets] == ["__all__"])
            and not (isinstance(n, ast.ImportFrom) and n.module in ("__future__", "typing"))
        ]
        assert not code, f"{init}: a stage's __init__ holds only its docstring (and lazy entry points)"
        assert (ROOT / "tasks" / stage / "step.py").is_file() or stage == "reports", f"tasks/{stage}: no step module"


def test_no_product_module_is_over_about_500_lines():
    too_long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _product_modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not too_long, "split along its seams:\n" + "\n".join(too_long)


def test_every_product_module_says_what_it_holds():
    missing = [
        str(p.relative_to(ROOT))
        for p in _product_modules()
        if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not missing, "modules without a docstring:\n" + "\n".join(missing)


def test_no_module_imports_another_modules_private_names():
    """``from x import _name`` across modules means the name is public in fact: name it so."""
    found = []
    for path in _product_modules() + sorted((ROOT / "tools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                if top in (*PRODUCT, "tools"):
                    found += [
                        f"{path.relative_to(ROOT)}:{node.lineno}: {a.name} from {node.module}"
                        for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")
                    ]
    assert not found, "\n".join(found)


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    exe = BIN / tool
    if not exe.exists():
        exe = Path(shutil.which(tool) or tool)
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_import_layers_hold_and_have_no_cycles():
    """The contracts in pyproject.toml ``[tool.importlinter]``: models below tasks below flows
    below the CLI; stages import only earlier stages; no cycles anywhere."""
    done = _run("lint-imports", "--no-cache")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
