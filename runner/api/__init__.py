"""sharebatch as a library: the commands as calls, their results typed, DataFrames with the `pandas` extra.

```python
from runner import api

checked = api.validate(input="shares.csv", out="out/shares")       # send nothing
planned = api.plan(input="shares.csv", out="out/shares", region="eu")   # what would change
result = api.run(input="shares.csv", out="out/shares", region="eu", expiry="90d")
result.exit_code, result.summary.success, result.report_path
lines = api.read_report(result.report_path)                          # typed ReportLine values
api.track(result.report_path, region="eu"); api.revoke(result.report_path, rows="3,7-12", region="eu")
```

Every call takes the command's options as keyword arguments with the job file's names
(`max_attempts=3` is `--max-attempts 3`), an optional job file first, and returns what the
command prints from: figures, output paths and `exit_code`, the code the command would exit
with. Problems raise `runner.errors.RunnerError` subclasses whose message is the command's one
line; a bad row is a row's status, never an exception. Tokens: `env` (default os.environ) as
the command reads it, or `token_file=`. docs/api.md walks through a whole batch.

With `pip install 'sharebatch[pandas]'`: `report_frame`, `validate_frame`, `run_frame`,
`plan_frame` (runner.api.frames); `read_report(path, frame=True)` is `report_frame(path)`.
pandas is imported only when one of them is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from runner.api.calls import extend, inbox, is_inbox, plan, revoke, run, track, validate
from runner.api.frames import plan_frame, report_frame, run_frame, validate_frame
from runner.api.options import PathArg, PlanOptions, ReadingOptions, RunOptions, SendingOptions
from runner.api.reports import PlanLine, ReportLine, read_plan
from runner.api.reports import read_report as _read_lines

if TYPE_CHECKING:
    import pandas as pd


@overload
def read_report(path: PathArg, *, frame: Literal[False] = False) -> list[ReportLine]: ...
@overload
def read_report(path: PathArg, *, frame: Literal[True]) -> pd.DataFrame: ...


def read_report(path: PathArg, *, frame: bool = False) -> list[ReportLine] | pd.DataFrame:
    """A report.csv (of run, validate, revoke or extend) or track.csv read back with types.

    By default a list of ReportLine (no pandas needed); `frame=True` gives `report_frame(path)`,
    a DataFrame with real dtypes, which also reads plan.csv (`read_plan` reads it without pandas).
    """
    if frame:
        return report_frame(path)
    return _read_lines(path)


__all__ = [
    "PathArg", "PlanLine", "PlanOptions", "ReadingOptions", "ReportLine", "RunOptions", "SendingOptions", "extend",
    "inbox", "is_inbox", "plan", "plan_frame", "read_plan", "read_report", "report_frame", "revoke", "run",
    "run_frame", "track", "validate", "validate_frame",
]
