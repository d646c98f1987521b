"""runner.api's DataFrame functions (the pandas extra) against the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas", reason="the pandas extra is not installed")

from runner import api  # noqa: E402
from runner.errors import UsageError  # noqa: E402
from runner.simulator import SimulatorConfig  # noqa: E402

from ..conftest import REPO, ThreadedSimulator, wait_for  # noqa: E402

pytestmark = pytest.mark.integration


def frame_of(count: int, *, index: list[str] | None = None) -> pd.DataFrame:
    """Rows the simulator accepts, under cover mark 2 (a second share of a row would show as a second share)."""
    return pd.DataFrame({
        "pk": ["p1test"] * count,
        "dk": [f"00D{i:06d}" for i in range(count)],
        "recipient": [f"U{i:07d}" for i in range(count)],
        "cover_mark": ["2"] * count,
    }, index=index)


def share_requests(sim: ThreadedSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("shareByUid", 0))


def test_a_frame_with_an_int64_dk_is_refused_naming_the_column_and_the_fix(tmp_path: Path) -> None:
    df = frame_of(3).assign(dk=[123, 456, 789])
    with pytest.raises(UsageError) as refused:
        api.run_frame(df, out=tmp_path / "out", base_url="http://127.0.0.1:9", env={"SHAREBATCH_TOKEN": "t"})
    message = str(refused.value)
    assert 'column "dk" is int64' in message
    assert "lost its leading zeros" in message
    assert "dtype=str" in message
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_float_recipient_under_a_mapped_header_and_a_number_inside_text_are_refused(tmp_path: Path) -> None:
    df = frame_of(2).rename(columns={"recipient": "Phone"}).assign(Phone=[8613800000000.0, 8613800000001.0])
    with pytest.raises(UsageError, match=r'column "Phone" \(the recipient column\) is float64'):
        api.validate_frame(df, out=tmp_path / "out", columns={"recipient": "Phone"})
    mixed = frame_of(2, index=["a", "b"]).astype({"dk": object})
    mixed.loc["b", "dk"] = 42
    with pytest.raises(UsageError, match=r"holds the number 42 at index 'b'"):
        api.validate_frame(mixed, out=tmp_path / "out")


def test_validate_frame_gives_each_row_its_status_indexed_like_the_input(tmp_path: Path) -> None:
    df = frame_of(3, index=["x", "y", "z"])
    df.loc["y", "recipient"] = None  # an empty cell: invalid, as in a file
    report = api.validate_frame(df, out=tmp_path / "out")
    assert list(report.index) == ["x", "y", "z"]
    assert report["status"].tolist() == ["valid", "invalid", "valid"]
    assert report.attrs["sharebatch"]["exit_code"] == 1
    joined = df.join(report[["status"]])
    assert joined.loc["y", "status"] == "invalid"


def test_report_frame_has_real_dtypes_and_the_inputs_cells_exactly_as_written(
    tmp_path: Path, sim_thread: ThreadedSimulator
) -> None:
    df = frame_of(3).assign(status=["=1+1", "007", ""])  # the input's own `status` column
    report = api.run_frame(df, out=tmp_path / "out", base_url=sim_thread.base_url, rate=200, expiry="2031-01-01",
                           env={"SHAREBATCH_TOKEN": sim_thread.token})
    assert report["status"].tolist() == ["=1+1", "007", ""]  # the formula guard removed, zeros kept
    assert report["dk"].tolist() == df["dk"].tolist()
    dtypes = {name: str(dtype) for name, dtype in report.dtypes.items()}
    assert dtypes["sharebatch_row"] == "int64"
    assert dtypes["sharebatch_status"] == "category"
    assert dtypes["sharebatch_code"] == "Int64"
    assert dtypes["sharebatch_latency_ms"] == "float64"
    assert dtypes["sharebatch_finished_at"] == "datetime64[ms, UTC]"
    assert dtypes["sharebatch_expiry_sent"] == "datetime64[ms, UTC]"
    assert report["sharebatch_status"].value_counts()["success"] == 3
    assert report["sharebatch_status"].value_counts()["failed"] == 0  # every status is a category
    assert report["sharebatch_expiry_sent"].iloc[0] == pd.Timestamp("2031-01-01T23:59:59Z")  # the day's end
    assert report.attrs["sharebatch"]["summary"]["success"] == 3
    assert api.read_report(tmp_path / "out" / "report.csv", frame=True).equals(report.reset_index(drop=True))


def test_plan_frame_then_a_report_summarised_by_status_and_code(tmp_path: Path, sim_thread: ThreadedSimulator) -> None:
    env = {"SHAREBATCH_TOKEN": sim_thread.token}
    df = frame_of(4)
    df.loc[3, "dk"] = "OTHER-9"  # the simulator's device of another account: the platform refuses it
    planned = api.plan_frame(df, out=tmp_path / "out", base_url=sim_thread.base_url, rate=200, env=env)
    assert planned["action"].tolist() == ["create", "create", "create", "no_permission"]
    assert str(planned["action"].dtype) == "category"
    report = api.run_frame(df, out=tmp_path / "out", base_url=sim_thread.base_url, rate=200, env=env)
    counts = report.groupby(["status", "code"], observed=True).size().to_dict()
    assert counts == {("success", 200): 3, ("failed", 5135): 1}  # sharing a device not yours: 5135


def test_run_frame_killed_mid_batch_then_run_again_applies_each_row_exactly_once(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], tmp_path: Path
) -> None:
    sim = sim_thread_factory(SimulatorConfig(seed=5, latency_ms=15, jitter_ms=5))
    rows = 80
    source = tmp_path / "prepared.csv"
    frame_of(rows).to_csv(source, index=False)
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import pandas as pd
        from runner import api
        df = pd.read_csv({str(source)!r}, dtype=str)
        api.run_frame(df, out={str(out)!r}, base_url={sim.base_url!r}, rate=300, concurrency=4)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "SHAREBATCH_TOKEN": sim.token},
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: share_requests(sim) >= 20 or process.poll() is not None)
    finally:
        process.kill()  # SIGKILL: no clean stop, rows may be left in flight
        process.wait(timeout=30)
    assert process.returncode == -9, "the run ended before it could be killed mid-batch"
    assert share_requests(sim) < rows

    report = api.run_frame(pd.read_csv(source, dtype=str), out=out, base_url=sim.base_url, rate=300,
                           timeout_s=1, settle_s=1.5, env={"SHAREBATCH_TOKEN": sim.token})
    assert report.attrs["sharebatch"]["exit_code"] == 0
    assert report["status"].tolist() == ["success"] * rows
    created = Counter((share["dk"], share["share_uid"]) for share in sim.get("/_sim/shares"))
    assert created == Counter((f"00D{i:06d}", f"U{i:07d}") for i in range(rows))
    assert report["share_code"].nunique() == rows


def test_without_pandas_reading_a_frame_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a))
    with pytest.raises(UsageError, match=r"pip install 'sharebatch\[pandas\]'"):
        api.read_report(tmp_path / "report.csv", frame=True)


def test_a_named_index_is_a_column_of_the_batch_and_input_is_not_an_option_of_a_frame(tmp_path: Path) -> None:
    df = frame_of(2).set_index("dk")  # the device key now lives in the index
    report = api.validate_frame(df, out=tmp_path / "out")
    assert report["status"].tolist() == ["valid", "valid"]
    assert list(report.index) == ["00D000000", "00D000001"]
    assert (tmp_path / "out" / "frame.csv").read_text(encoding="utf-8").splitlines()[0] == "dk,pk,recipient,cover_mark"
    with pytest.raises(UsageError, match="the frame is the input"):
        api.validate_frame(df, out=tmp_path / "out", input="other.csv")  # type: ignore[call-arg]


def test_what_is_not_a_frame_and_a_frames_odd_cells_are_told_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="the frame must be a pandas DataFrame, not a list"):
        api.validate_frame([["p1", "D1", "U1"]], out=tmp_path / "out")  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()
    numbers = frame_of(2).assign(dk=pd.Categorical([860001, 860002]))
    with pytest.raises(UsageError, match=r'column "dk" holds the number 860001 at index 0: '):
        api.validate_frame(numbers, out=tmp_path / "out")  # the value as a person reads it, not np.int64(860001)
    lost = frame_of(3).assign(dk=["00D1", float("nan"), None])  # NaN and None: an empty cell, so the row is invalid
    report = api.validate_frame(lost, out=tmp_path / "out")
    assert list(report["status"]) == ["valid", "invalid", "invalid"]
    assert set(report["message"].iloc[1:]) == {'column "dk": dk is empty'}
