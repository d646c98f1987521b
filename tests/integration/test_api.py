"""runner.api against the simulator: each call returns the command's figures and exit code, raises our errors."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner import api
from runner.errors import LockedError, NothingToDoError, RunnerError, UsageError
from runner.models import RowStatus

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration


def shares_by_state(sim: ThreadedSimulator) -> Counter[str]:
    return Counter(share["state"] for share in sim.get("/_sim/shares"))


def share_requests(sim: ThreadedSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("shareByUid", 0))


@pytest.fixture
def batch(write_csv: CsvWriter) -> Path:
    rows = good_rows(5, cover_mark="2")
    rows.append(["p1test", "00D999999", "", "30d", "2"])  # no recipient: invalid
    return write_csv("shares.csv", rows)


def test_validate_gives_the_figures_and_the_exit_code_of_the_command(batch: Path, tmp_path: Path) -> None:
    result = api.validate(input=batch, out=tmp_path / "out")
    assert (result.summary.total, result.summary.invalid) == (6, 1)
    assert result.exit_code == 1
    assert result.report_path == tmp_path / "out" / "validate" / "report.csv"
    statuses = [line.status for line in api.read_report(result.report_path)]
    assert statuses == [RowStatus.VALID] * 5 + [RowStatus.INVALID]


def test_run_shares_each_row_once_and_a_second_call_resumes_sending_nothing(
    batch: Path, tmp_path: Path, sim_thread: ThreadedSimulator
) -> None:
    env = {"SHAREBATCH_TOKEN": sim_thread.token}
    first = api.run(input=batch, out=tmp_path / "out", base_url=sim_thread.base_url, rate=200, env=env)
    assert (first.summary.success, first.summary.invalid, first.exit_code) == (5, 1, 1)
    assert first.report_path.exists()
    assert first.summary_path.exists()
    again = api.run(input=str(batch), out=str(tmp_path / "out"), base_url=sim_thread.base_url, rate=200, env=env)
    assert again.summary.success == 5
    assert share_requests(sim_thread) == 5
    assert shares_by_state(sim_thread) == {"valid": 5}


def test_a_job_file_and_options_over_it_work_as_on_the_command_line(
    batch: Path, tmp_path: Path, sim_thread: ThreadedSimulator
) -> None:
    job = tmp_path / "nightly.toml"
    job.write_text(f'input = "{batch.name}"\nbase_url = "{sim_thread.base_url}"\nrate = 200\nlimit = 1\n',
                   encoding="utf-8")
    result = api.run(job, limit=2, env={"SHAREBATCH_TOKEN": sim_thread.token})
    assert result.out_dir == tmp_path / "out" / "nightly"
    assert result.summary.success == 2  # the option won over the job file's limit
    assert result.exit_code == 1  # the invalid row; the held-back rows are the plan, not a failure


def test_plan_then_track_then_extend_then_revoke(batch: Path, tmp_path: Path, sim_thread: ThreadedSimulator) -> None:
    env = {"SHAREBATCH_TOKEN": sim_thread.token}
    where = {"base_url": sim_thread.base_url, "rate": 200.0}
    planned = api.plan(input=batch, out=tmp_path / "out", env=env, **where)
    assert planned.counts == {"create": 5, "invalid": 1}
    assert planned.exit_code == 1  # the invalid row needs a look
    assert [line.action for line in api.read_plan(planned.plan_path)] == ["create"] * 5 + ["invalid"]

    report = api.run(input=batch, out=tmp_path / "out", env=env, **where).report_path
    tracked = api.track(report, env=env, **where)
    assert tracked.counts == {"pending": 5}
    assert tracked.exit_code == 0
    assert {line.share_state for line in api.read_report(tracked.track_path)} == {"pending"}

    extended = api.extend(report, expiry="2030-01-31T12:00:00Z", rows="2-3", env=env, **where)
    assert (extended.summary.total, extended.exit_code) == (2, 0)
    new_expiry = int(datetime(2030, 1, 31, 12, tzinfo=UTC).timestamp() * 1000)
    assert sorted(share["expire_at_ms"] == new_expiry for share in sim_thread.get("/_sim/shares")) == [
        False, False, False, True, True]

    revoked = api.revoke(report, env=env, **where)
    assert [line.status for line in api.read_report(revoked.report_path)] == [RowStatus.REVOKED] * 5
    assert revoked.exit_code == 0
    assert shares_by_state(sim_thread) == {"revoked": 5}
    with pytest.raises(NothingToDoError, match="nothing to revoke"):
        api.revoke(revoked.report_path, env=env, **where)


def test_an_inbox_is_its_own_call(write_csv: CsvWriter, tmp_path: Path, sim_thread: ThreadedSimulator) -> None:
    (tmp_path / "inbox").mkdir()
    write_csv("inbox/monday.csv", good_rows(2))
    env = {"SHAREBATCH_TOKEN": sim_thread.token}
    glob = str(tmp_path / "inbox" / "*.csv")
    assert api.is_inbox(input=glob)
    with pytest.raises(UsageError, match=r"runner\.api\.inbox"):
        api.run(input=glob, out=tmp_path / "out", base_url=sim_thread.base_url, env=env)
    result = api.inbox(input=glob, out=tmp_path / "out", base_url=sim_thread.base_url, rate=200, env=env)
    assert [item.outcome.value for item in result.files] == ["done"]
    assert result.exit_code == 0
    assert share_requests(sim_thread) == 2


def test_problems_raise_the_projects_errors_with_the_commands_line(batch: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no access token: set SHAREBATCH_TOKEN"):
        api.run(input=batch, out=tmp_path / "out", base_url="http://127.0.0.1:9", env={})
    with pytest.raises(UsageError, match="no such file"):
        api.validate(input=tmp_path / "missing.csv", out=tmp_path / "out")
    with pytest.raises(UsageError, match="rate"):
        api.validate(input=batch, out=tmp_path / "out", rate=-1)
    with pytest.raises(UsageError, match="system or home folder"):
        api.validate(input=batch, out="/etc")
    with pytest.raises(UsageError, match="not a sharebatch report"):
        api.read_report(batch)


def test_a_run_holding_the_out_dir_makes_the_call_raise_locked(batch: Path, tmp_path: Path) -> None:
    from runner.engine.runlock import RunLock

    with RunLock(tmp_path / "out"), pytest.raises(LockedError, match="another run is active"):
        api.validate(input=batch, out=tmp_path / "out")


async def test_a_call_inside_a_running_event_loop_runs_the_batch_on_its_own_loop(
    batch: Path, tmp_path: Path, sim_thread: ThreadedSimulator
) -> None:
    """A notebook cell runs inside a loop: asyncio.run() would refuse, the call must not."""
    result = api.run(input=batch, out=tmp_path / "out", base_url=sim_thread.base_url, rate=200,
                     env={"SHAREBATCH_TOKEN": sim_thread.token})
    assert result.summary.success == 5


def test_every_error_a_call_raises_is_a_runner_error(tmp_path: Path) -> None:
    (tmp_path / "report.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(RunnerError):
        api.track(tmp_path / "report.csv", base_url="http://127.0.0.1:9", env={"SHAREBATCH_TOKEN": "t"})
