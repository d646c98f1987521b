"""pandas DataFrames in and out: the `pandas` extra (`pip install 'sharebatch[pandas]'`).

pandas is imported inside these functions only, so `import runner.api` and the command line
never load it (it costs more than a one-row run; README, Performance).

A frame goes in through a file: `run_frame` writes it as CSV to OUT/frame.csv first and runs
that file, so batch identity, the journal, resume and exactly-once are the file's: the same frame
run again after a crash resumes its batch and sends no row twice. Its id and recipient columns
must hold text: a number column has already lost what a person typed (leading zeros, a phone's
`+`) or invented digits (a float's `.0`), and is refused before anything is written.

The report comes back as a frame with real dtypes (`report_frame`), indexed like the frame that
went in, so `df.join(report[["status", "code"]])` lines each row up with its outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from runner.api.options import FramePlanOptions, FrameRunOptions, PathArg, RowOptions
from runner.api.reports import PERMANENT, FileLayout, file_layout
from runner.errors import UsageError
from runner.models import RENAMED_STATUS_VALUES, RowStatus

if TYPE_CHECKING:
    import pandas as pd

#: the file a frame is written to in OUT before it is run (its copy, input-as-loaded.csv, is what runs)
FRAME_FILE = "frame.csv"
#: the columns whose text is sent as typed; a number there has lost or invented digits
TEXT_COLUMNS = ("pk", "dk", "recipient", "auth_key")
_INTEGERS = ("row", "code", "attempts", "http_status")
_TIMES = ("finished_at", "expiry_sent", "accepted_at")


def report_frame(path: PathArg) -> pd.DataFrame:
    """report.csv (of run, validate, revoke or extend), track.csv or plan.csv as a DataFrame with real dtypes.

    `row` int64; `status`, `action`, `share_state` and `recipient_kind` categorical (every value
    sharebatch writes is a category, so value_counts lists the zeros too); `code`, `attempts` and
    `http_status` nullable Int64; `latency_ms` float64; `finished_at`, `expiry_sent` and
    `accepted_at` datetime64 UTC (NaT when empty; `expiry_sent` is NaT for a permanent share too,
    whose `recipient_kind` is set); `message`, `share_code`, `detail` and the input's own columns
    strings exactly as written. A column sharebatch renamed (`sharebatch_status` beside an input's
    own `status`) keeps its name and gets its dtype.
    """
    _require_pandas()
    source = Path(path)
    layout = file_layout(source)
    frame = _read_strings(source, layout)
    for offset, (name, plain) in enumerate(zip(layout.results, layout.plain, strict=True)):
        at = layout.width + offset
        frame.isetitem(at, _typed(frame.iloc[:, at], plain, f'{source}, column "{name}"').array)
    return frame


def validate_frame(df: pd.DataFrame, /, *, out: PathArg, **options: Unpack[RowOptions]) -> pd.DataFrame:
    """`validate` of a DataFrame: each row's status (valid, invalid, duplicate) as a frame indexed like `df`.

    `out` is required (there is no input file to name a default); the report is OUT/validate/report.csv.
    """
    from runner.api.calls import validate

    result = validate(input=_write_frame(df, out, options), out=out, **_named(options))
    return _outcome(df, result.report_path, {"exit_code": int(result.exit_code), "report": str(result.report_path)})


def run_frame(
    df: pd.DataFrame, /, *, out: PathArg, fresh: bool = False, progress: bool = False,
    env: Mapping[str, str] | None = None, **options: Unpack[FrameRunOptions],
) -> pd.DataFrame:
    """`run` of a DataFrame: shares sent, the report back as a frame indexed like `df`.

    The frame is written to OUT/frame.csv and run as that file: calling `run_frame` again with
    the same frame and `out` resumes the batch (rows done are not sent again). Options as `run`
    (`base_url`, `rate`, `expiry`, `columns`...). `report.attrs["sharebatch"]` holds the exit code
    the command would give, the summary figures and the output paths.
    """
    from runner.api.calls import run

    result = run(input=_write_frame(df, out, options), out=out, fresh=fresh, progress=progress, env=env,
                 **_named(options))
    figures: dict[str, Any] = {"exit_code": int(result.exit_code), "summary": result.summary.to_dict(),
                               "report": str(result.report_path), "summary_file": str(result.summary_path),
                               "failed_rows": str(result.failed_path) if result.failed_path else None}
    return _outcome(df, result.report_path, figures)


def plan_frame(
    df: pd.DataFrame, /, *, out: PathArg, env: Mapping[str, str] | None = None, **options: Unpack[FramePlanOptions],
) -> pd.DataFrame:
    """`plan` of a DataFrame: each row's action and detail (nothing is changed), indexed like `df`.

    plan.csv goes to OUT/plan/plan.csv; `attrs["sharebatch"]` holds the exit code and rows per action.
    """
    from runner.api.calls import plan

    result = plan(input=_write_frame(df, out, options), out=out, env=env, **_named(options))
    figures = {"exit_code": int(result.exit_code), "counts": dict(result.counts), "plan": str(result.plan_path)}
    return _outcome(df, result.plan_path, figures)


def check_text_columns(df: pd.DataFrame, columns: Mapping[str, str] | None = None,
                       ignored: tuple[str, ...] = ()) -> None:
    """Refuse (UsageError) a frame whose pk, dk, recipient or auth_key column holds numbers, naming the fix."""
    import pandas as pd

    from runner.errors import ColumnError
    from runner.input.columns import match_columns

    headers = [str(name) for name in df.columns]
    try:
        found = match_columns(headers, columns, ignored)
    except ColumnError:
        return  # the loader names what is missing, as for a file
    for canonical in TEXT_COLUMNS:
        if canonical not in found:
            continue
        at = found[canonical]
        series = df.iloc[:, at]
        named = "" if headers[at] == canonical else f" (the {canonical} column)"
        where = f'the frame\'s column "{headers[at]}"{named}'
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            raise UsageError(f"{where} is {series.dtype}: {_NUMBERS_LOSE}; nothing was sent")
        numbers = series.map(lambda value: not isinstance(value, str) and not pd.isna(value))
        if bool(numbers.any()):
            position = int(numbers.to_numpy().argmax())
            label, value = numbers.index[position], series.iloc[position]
            raise UsageError(f"{where} holds the number {value!r} at index {label!r}: {_NUMBERS_LOSE}; "
                             "nothing was sent")


_NUMBERS_LOSE = ("an id or a phone held as a number has lost its leading zeros (00123 became 123) or its leading +, "
                 "and a float invents digits (123.0, 8.6e+14); read the data as text, e.g. "
                 "pd.read_csv(path, dtype=str) or pd.read_excel(path, dtype=str) (astype(str) cannot bring lost "
                 "zeros back)")


def _require_pandas() -> None:
    """pandas is an extra: without it, say how to get it instead of a ModuleNotFoundError."""
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        raise UsageError("the DataFrame functions need pandas: pip install 'sharebatch[pandas]' "
                         "(or read the report without it: runner.api.read_report(path))")


def _write_frame(df: pd.DataFrame, out: PathArg, options: Mapping[str, object]) -> Path:
    """The frame as OUT/frame.csv, written under the out dir's lock (a run of it may be going)."""
    from runner.engine.runlock import RunLock
    from runner.outputs.atomic import atomic_writer
    from runner.outputs.outdir import check_out_dir

    if "input" in options:
        raise UsageError("input: the frame is the input; give the DataFrame, or call runner.api.run(input=...)")
    if any(name is not None for name in df.index.names):
        df = df.reset_index()  # a named index (set_index("dk")) is a column the batch needs
    columns = options.get("columns")
    ignored = options.get("ignore_columns") or ()
    check_text_columns(df, columns if isinstance(columns, Mapping) else None,
                       tuple(str(name) for name in ignored) if isinstance(ignored, list | tuple) else ())
    folder = Path(out)
    check_out_dir(folder)
    path = folder / FRAME_FILE
    with RunLock(folder), atomic_writer(path) as handle:
        df.to_csv(handle, index=False, na_rep="", lineterminator="\n")
    return path


def _named(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options, with the batch named `frame` unless they name it (the input file's name would be `frame`)."""
    return {"name": "frame", **options}


def _outcome(df: pd.DataFrame, path: Path, figures: dict[str, Any]) -> pd.DataFrame:
    """The output at `path` as a frame whose index is the input frame's (report row 2 is df's first row)."""
    report = report_frame(path)
    rows = report.iloc[:, file_layout(path).width]  # `row` is the first result column in every layout
    report.index = df.index.take(rows.to_numpy() - 2)
    report.attrs["sharebatch"] = figures
    return report


def _read_strings(path: Path, layout: FileLayout) -> pd.DataFrame:
    """Every cell as the string written (no NaN, no number guessing), the formula guard removed, exact headers."""
    import pandas as pd

    from runner.input.formula import unguard_cell

    frame = pd.read_csv(path, header=None, skiprows=1, dtype=str, keep_default_na=False,
                                      na_filter=False, encoding="utf-8-sig", names=range(len(layout.header)))
    frame.columns = layout.header
    for at in range(frame.shape[1]):
        column = frame.iloc[:, at]
        if bool(column.str.startswith("'").any()):
            frame.isetitem(at, column.map(unguard_cell).array)
    return frame


def _typed(column: pd.Series[str], plain: str, where: str) -> pd.Series[Any]:
    """One result column converted to its dtype; UsageError naming the column when a value does not fit."""
    import pandas as pd

    from runner.commands.track import STATES
    from runner.shares.model import PlanAction

    categories = {"status": [status.value for status in RowStatus], "action": [a.value for a in PlanAction],
                  "share_state": list(STATES), "recipient_kind": ["email", "phone", "uid"]}
    try:
        if plain in _INTEGERS:
            numbers = pd.to_numeric(column.mask(column == ""), errors="raise")
            return numbers.astype("int64" if plain == "row" else "Int64")
        if plain == "latency_ms":
            return pd.to_numeric(column.mask(column == ""), errors="raise").astype("float64")
        if plain in _TIMES:
            moments = pd.to_datetime(column.mask(column.isin(["", PERMANENT])), utc=True, format="ISO8601")
            return moments.astype("datetime64[ms, UTC]")  # sharebatch writes milliseconds
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{where}: {exc}") from None
    if plain in categories:
        values = column.replace(RENAMED_STATUS_VALUES) if plain == "status" else column
        known = categories[plain]
        strange = values[~values.isin(["", *known])]
        if len(strange):
            raise UsageError(f"{where}: {strange.iloc[0]!r} is not a value sharebatch writes there")
        return pd.Series(pd.Categorical(values.mask(values == ""), categories=known), index=column.index)
    return column

