"""Imports point down, checked by package prefix: a new module is covered the day it is added.

Every module under runner/ is parsed with `ast`; imports inside functions count (the commands
import lazily), imports under `if TYPE_CHECKING:` do not (they never run). The layers and what
each may import are written once, in LAYERS below, and explained in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent.parent / "runner"

#: the layers, lowest first; a module may import its own layer and any lower one (ONLY narrows some packages).
#: A top-level module or package missing here fails `test_every_module_has_a_layer`.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("runner", "runner.models", "runner.errors", "runner.events", "runner.clock", "runner.redact"),
    ("runner.shares",),
    ("runner.engine", "runner.input", "runner.platform", "runner.outputs", "runner.simulator"),
    ("runner.batches",),
    # the commands and the library share a layer: a command's `*_command` calls runner.api, which calls
    # the command's core (`test_the_library_sits_between_...` below pins which functions may)
    ("runner.commands", "runner.api"),
    ("runner.cli", "runner.clioptions"),
    ("runner.__main__",),
)
BASE = LAYERS[0]
#: who may import a command: the click front end and the programmatic API
COMMAND_IMPORTERS = ("runner.cli", "runner.api")
#: narrower rules for some packages: (package, what it may import of runner besides itself)
ONLY: dict[str, tuple[str, ...]] = {
    "runner.shares": ("runner.models",),
    "runner.engine": ("runner.models", "runner.errors", "runner.events", "runner.clock"),
    # the simulator is a second, independent reading of the docs: only the documented crypto is shared
    "runner.simulator": (*BASE[1:], "runner.platform.auth.crypto"),
}
ENGINE_MAY_NOT_IMPORT_LIBRARIES = ("aiohttp",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(RUNNER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(path: Path) -> set[str]:
    """Every module `path` imports at run time; `from a import b` counts as both a and a.b."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package `path` belongs to
                package = _module_name(path).split(".")
                if path.name != "__init__.py":
                    package.pop()
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _names(prefixes: tuple[str, ...], imported: set[str]) -> list[str]:
    return sorted(name for name in imported if _under(name, prefixes))


MODULES = sorted(RUNNER.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(RUNNER.parent).as_posix()


def _top(name: str) -> str:
    """runner.batches.run -> runner.batches; runner.models.x (a name imported from it) -> runner.models."""
    return ".".join(name.split(".")[:2])


def _layer(name: str) -> int:
    top = _top(name)
    for rank, members in enumerate(LAYERS):
        if top in members:
            return rank
    if top.startswith("runner.__") or top == "runner":  # runner.__version__ and the like: the package's own
        return 0
    raise LookupError(f"{top} is in no layer: add it to LAYERS in tests/test_architecture.py and "
                      "docs/architecture.md")


def _runner_imports(path: Path) -> list[str]:
    """The runner modules `path` imports outside its own top-level package."""
    own = _top(_module_name(path))
    return [name for name in _names(("runner",), _imported(path)) if _top(name) != own]


def test_the_modules_are_found() -> None:
    names = {_rel(path) for path in MODULES}
    assert {"runner/engine/fanout.py", "runner/platform/client.py", "runner/outputs/report.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_every_module_has_a_layer(path: Path) -> None:
    _layer(_module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_imports_point_down(path: Path) -> None:
    rank = _layer(_module_name(path))
    upward = [name for name in _runner_imports(path) if _layer(name) > rank]
    assert upward == [], f"{_rel(path)} imports a layer above its own"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_nothing_but_the_front_ends_imports_a_command(path: Path) -> None:
    name = _module_name(path)
    if _under(name, ("runner.commands", *COMMAND_IMPORTERS)):
        return
    assert _names(("runner.commands",), _imported(path)) == [], f"{_rel(path)} imports a command"


@pytest.mark.parametrize("path", [p for p in MODULES if _top(_module_name(p)) in ONLY], ids=_rel)
def test_the_narrow_packages_import_only_what_they_may(path: Path) -> None:
    allowed = ONLY[_top(_module_name(path))]
    extra = [name for name in _runner_imports(path)
             if not _under(name, allowed) and not (name == "runner" or name.startswith("runner.__"))]
    assert extra == [], f"{_rel(path)} may import only {', '.join(allowed)}"


#: the brief's limit: a module a person can read in one sitting
MAX_MODULE_LINES = 450


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_every_module_is_at_most_450_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_rel(path)} has {lines} lines: split it along a seam"


@pytest.mark.parametrize("path", [p for p in MODULES if _rel(p).startswith("runner/engine/")], ids=_rel)
def test_the_engine_imports_no_http(path: Path) -> None:
    assert _names(ENGINE_MAY_NOT_IMPORT_LIBRARIES, _imported(path)) == []


@pytest.mark.parametrize(("module", "allowed"), [("models", {"runner.errors"}), ("errors", {"runner.models"}),
                                                 ("clock", set()), ("events", set()), ("redact", set())])
def test_the_base_modules_import_no_other_runner_module(module: str, allowed: set[str]) -> None:
    imported = _imported(RUNNER / f"{module}.py")
    assert set(_names(("runner",), imported)) <= allowed


def test_a_new_top_level_package_must_be_given_a_layer() -> None:
    with pytest.raises(LookupError, match="in no layer"):
        _layer("runner.newthing.mod")


def test_a_lazy_import_counts_and_a_type_checking_one_does_not(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from runner.batches.run import BatchResult\n"
        "def later() -> None:\n    from runner.cli import main\n",
        encoding="utf-8",
    )
    imported = _imported(sample)
    assert "runner.cli" in imported
    assert "runner.batches.run" not in imported


def _exception_classes(path: Path) -> list[str]:
    """Public classes in `path` whose bases look like exceptions (`...Error`, `...Exception`).

    A private one (`_Name`) is control flow inside its module and never reaches a caller.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases]
            if any(name.endswith(("Error", "Exception")) for name in bases) and not node.name.startswith("_"):
                found.append(node.name)
    return found


@pytest.mark.parametrize("path", [p for p in MODULES if not _rel(p).startswith(("runner/simulator/",
                                                                                   "runner/errors.py"))], ids=_rel)
def test_every_exception_class_lives_in_errors_py(path: Path) -> None:
    assert _exception_classes(path) == []


def test_every_exception_of_errors_py_is_a_runner_error_with_a_docstring() -> None:
    import inspect

    from runner import errors

    classes = [value for value in vars(errors).values()
               if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == errors.__name__]
    assert {cls.__name__ for cls in classes} >= {"LoginError", "RefreshError", "LockedError", "InputFileError"}
    for cls in classes:
        assert issubclass(cls, errors.RunnerError), cls
        assert cls.__doc__, cls
        assert "\n" not in cls.__doc__.strip(), cls


PLATFORM_NOTES = RUNNER.parent / "docs" / "platform-api.md"


def test_every_citation_of_the_platform_notes_names_a_section_they_have() -> None:
    import re

    headings = {match.group(1) for match in re.finditer(r"^#{2,3} (\d+(?:\.\d+)?)\.? ",
                                                         PLATFORM_NOTES.read_text(encoding="utf-8"), re.MULTILINE)}
    cited: dict[str, set[str]] = {}
    for path in [*MODULES, *sorted((RUNNER.parent / "tests").rglob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        for citation in re.finditer(r"platform-api\.md((?:,? ?§\d+(?:\.\d+)?)+)", text):
            assert text[citation.start() - 5: citation.start()] == "docs/", f"{path}: cite docs/platform-api.md"
            for section in re.findall(r"§(\d+(?:\.\d+)?)", citation.group(1)):
                cited.setdefault(section, set()).add(path.name)
    assert len(cited) >= 10
    assert {section: files for section, files in cited.items() if section not in headings} == {}


def _catches_aiohttp(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ExceptHandler) and node.type is not None and any(
            isinstance(name, ast.Name) and name.id == "aiohttp" for name in ast.walk(node.type)
        ):
            return True
    return False


def test_only_the_http_boundary_catches_aiohttp_errors() -> None:
    catching = {_rel(path) for path in MODULES if not _rel(path).startswith("runner/simulator/")
                and _catches_aiohttp(path)}
    assert catching == {"runner/platform/http.py"}


def test_only_the_frame_functions_import_pandas() -> None:
    """pandas is an optional extra: the command line and the rest of the library must run without it."""
    importing = {_rel(path) for path in MODULES if _names(("pandas",), _imported(path))}
    assert importing == {"runner/api/frames.py"}


def _api_imports_by_function(path: Path) -> dict[str, set[str]]:
    """The runner.api modules `path` imports, by the name of the function importing them ("" for the module)."""
    found: dict[str, set[str]] = {}

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            if name == "runner.api" or name.startswith("runner.api."):
                found.setdefault(function, set()).add(name)
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), "")
    return found


def test_the_library_sits_between_the_commands_console_side_and_their_cores() -> None:
    """cli -> a command's `*_command` (options in, lines out) -> runner.api -> the command's core (plan_batch...).

    Only the `*_command` functions reach up to runner.api (console.py also borrows its fault messages);
    nothing below the commands does, and runner.api never calls back into the console side.
    """
    callers: dict[str, set[str]] = {}
    for path in MODULES:
        if not _rel(path).startswith("runner/api/"):
            for function, names in _api_imports_by_function(path).items():
                borrowed = all(name.startswith("runner.api.faults") for name in names)
                callers.setdefault(_rel(path), set()).update(set() if borrowed else {function})
    assert {path for path in callers if not path.startswith("runner/commands/")} == set()
    assert {function for functions in callers.values() for function in functions
            if not function.endswith("_command")} == set()
    assert len([path for path, functions in callers.items() if functions]) >= 6  # validate, run, plan, track, ...
    for path in MODULES:
        if _rel(path).startswith("runner/api/"):
            imported = _imported(path)
            assert _names(("runner.commands.console", "runner.cli"), imported) == [], path
            assert [name for name in imported if name.endswith("_command")] == [], path
