"""Every RowStatus is placed: done or not, needs doing or not, its Summary field, its exit-code effect.

A status added to RowStatus without its row in STATUS_RULES fails at import (runner.models), and
without its Summary field at import of runner.outputs.report; these tests pin what the derived sets are.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import pytest

from runner.batches.results import BatchResult
from runner.engine.journal import DONE_STATES
from runner.errors import ExitCode
from runner.models import STATUS_RULES, RowStatus
from runner.outputs.report import NEEDS_DOING, Summary


@pytest.mark.parametrize("status", list(RowStatus), ids=str)
def test_every_status_is_placed(status: RowStatus) -> None:
    rule = STATUS_RULES[status]
    assert (status.value in DONE_STATES) is rule.done
    assert (status in NEEDS_DOING) is rule.needs_doing
    assert status.value in {f.name for f in fields(Summary)}
    assert not (rule.done and rule.needs_doing), "a row cannot be both done and still to do"


@pytest.mark.parametrize("status", list(RowStatus), ids=str)
def test_each_status_has_its_exit_code(status: RowStatus, tmp_path: Path) -> None:
    summary = Summary()
    summary.count(status)
    result = BatchResult(summary=summary, out_dir=tmp_path, report_path=tmp_path / "report.csv", failed_path=None,
                         summary_path=tmp_path / "summary.json")
    expected = ExitCode.ROWS_FAILED if STATUS_RULES[status].fails_the_run else ExitCode.OK
    assert result.exit_code is expected


def test_the_sets_are_what_the_journal_and_failed_file_always_used() -> None:
    assert set(DONE_STATES) == {"success", "revoked", "already_ended", "extended"}
    assert {RowStatus.FAILED, RowStatus.INVALID, RowStatus.UNKNOWN, RowStatus.NOT_ATTEMPTED} == NEEDS_DOING


def test_a_status_without_a_row_fails_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import runner.models

    source = runner.models.__file__
    assert source is not None
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace('    EXTENDED = "extended"', '    EXTENDED = "extended"\n    PARKED = "parked"', 1)
    copy = types.ModuleType("runner_models_copy")
    monkeypatch.setitem(sys.modules, copy.__name__, copy)  # dataclasses look their module up
    with pytest.raises(TypeError, match="STATUS_RULES must place every RowStatus"):
        exec(compile(text, source, "exec"), copy.__dict__)  # our own source, one status added
