"""Accounts in a job: [accounts.NAME] and --account, the account column, the payload, the engine's lanes."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.batches.jobspec import load_job_spec
from runner.engine.fanout import Engine, EngineSettings
from runner.engine.lanes import Lanes
from runner.errors import FatalApiError, UsageError
from runner.input.rows import InputOptions, open_input
from runner.models import RecipientKind, RowStatus, RunStats, ShareRequest

from .test_engine import Job, RecordingSink, ScriptedAction, items, no_sleep

#: ShareRequest("p1", "D1", uid "U1", permanent, 1) as fingerprinted before issue 24
PLAIN_FINGERPRINT = "6b4c113165654e8cab31575d5ac40c93"


def test_a_job_file_names_accounts_with_their_own_token_file_region_rate_and_concurrency(tmp_path: Path) -> None:
    job = tmp_path / "jobs" / "nightly.toml"
    job.parent.mkdir()
    job.write_text('input = "rows.csv"\nregion = "eu"\n[accounts.acme]\ntoken_file = "acme.json"\nrate = 2\n'
                   'concurrency = 2\n[accounts.beta-cn]\ntoken_file = "/abs/beta.json"\nregion = "cn"\n',
                   encoding="utf-8")
    spec = load_job_spec(job, {"account": ("gamma=gamma.json", "acme=other.json")})
    acme, beta, gamma = spec.accounts["acme"], spec.accounts["beta-cn"], spec.accounts["gamma"]
    assert (acme.token_file, acme.rate, acme.concurrency, acme.base_url) == (Path("other.json"), 2.0, 2, None)
    assert (beta.token_file, beta.base_url) == (Path("/abs/beta.json"), "https://iot-api.quectelcn.com")
    assert gamma.token_file == Path("gamma.json")  # an option's path stays relative to the current folder
    assert load_job_spec(job, {}).accounts["acme"].token_file == job.parent / "acme.json"


@pytest.mark.parametrize(("table", "expected"), [
    ("[accounts.acme]\nrate = 2\n", "needs token_file"),
    ('[accounts.acme]\ntoken_file = "a.json"\ncolor = 1\n', "unknown key `color`"),
    ('[accounts."a b"]\ntoken_file = "a.json"\n', "account name 'a b'"),
    ('[accounts.acme]\ntoken_file = "a.json"\nrate = 0\n', "`rate` must be greater than 0"),
])
def test_a_bad_account_table_is_one_line_naming_it(tmp_path: Path, table: str, expected: str) -> None:
    job = tmp_path / "job.toml"
    job.write_text('input = "rows.csv"\n' + table, encoding="utf-8")
    with pytest.raises(UsageError, match=expected) as caught:
        load_job_spec(job, {})
    assert "\n" not in str(caught.value)


def test_account_option_must_be_name_equals_file() -> None:
    with pytest.raises(UsageError, match="must be NAME=TOKEN_FILE"):
        load_job_spec(None, {"input": "rows.csv", "account": ("acme",)})


def _rows(tmp_path: Path, accounts: frozenset[str]) -> list[tuple[RowStatus, str | None, str]]:
    source = tmp_path / "rows.csv"
    source.write_text("pk,dk,recipient,Owner Account\np1,D1,U1,Acme\np1,D2,U2,\np1,D3,U3,nobody\n", encoding="utf-8")
    loaded = [row for chunk in open_input(InputOptions(source, accounts=accounts)).chunks() for row in chunk]
    return [(row.status, row.request.account if row.request else None,
             row.problem.message if row.problem else "") for row in loaded]


def test_the_account_column_names_a_declared_account_or_the_row_is_invalid(tmp_path: Path) -> None:
    rows = _rows(tmp_path, frozenset({"acme", "beta"}))
    assert rows[0][:2] == (RowStatus.VALID, "acme")  # case does not matter; the declared name is kept
    assert rows[1][:2] == (RowStatus.VALID, None)  # empty: the default credentials
    assert rows[2][0] is RowStatus.INVALID
    assert 'account "nobody" is not one of this job\'s accounts (acme, beta)' in rows[2][2]


def test_an_account_cell_without_declared_accounts_says_how_to_declare_it(tmp_path: Path) -> None:
    rows = _rows(tmp_path, frozenset())
    assert rows[0][0] is RowStatus.INVALID
    assert "declares no accounts; add [accounts.Acme]" in rows[0][2]


def test_a_request_without_an_account_is_written_and_fingerprinted_as_before_accounts_existed() -> None:
    plain = ShareRequest("p1", "D1", RecipientKind.UID, "U1", None, 1)
    assert plain.to_json() == '["p1", "D1", "uid", "U1", null, 1, null]'
    assert plain.fingerprint() == PLAIN_FINGERPRINT  # the digest before accounts existed: journals stay valid
    owned = ShareRequest("p1", "D1", RecipientKind.UID, "U1", None, 1, account="acme")
    assert ShareRequest.from_json(owned.to_json()) == owned
    assert ShareRequest.from_json(plain.to_json()) == plain
    assert owned.fingerprint() != plain.fingerprint()


def _lane_run(action: ScriptedAction, capacity: dict[str, int]) -> tuple[Engine[Job], RecordingSink]:
    sink = RecordingSink()
    lanes: Lanes[Job] = Lanes(lambda job: job.device[0], capacity, lambda lane: f'account "{lane}"')
    engine = Engine(action, sink, EngineSettings(concurrency=6, backoff_initial_s=0), RunStats(), sleep=no_sleep,
                    lanes=lanes)
    return engine, sink


async def test_a_fatal_answer_stops_only_its_accounts_lane() -> None:
    devices = [f"{lane}{index}" for index in range(6) for lane in "AB"]
    action = ScriptedAction(script={3: [FatalApiError("code 5325: access blocked for 24 hours", code=5325)]})
    engine, sink = _lane_run(action, {"A": 1, "B": 1})
    result = await engine.run(items(devices))
    outcomes = sink.by_row(range(2, 2 + len(devices)))
    b_rows = [row for row, device in enumerate(devices, start=2) if device[0] == "B"]
    a_rows = [row for row, device in enumerate(devices, start=2) if device[0] == "A"]
    assert result.stopped is None
    assert all(outcomes[row].status is RowStatus.SUCCESS for row in a_rows)
    assert outcomes[3].status is RowStatus.FAILED
    assert {outcomes[row].status for row in b_rows[1:]} == {RowStatus.NOT_ATTEMPTED}
    assert 'account "B" was stopped (stopped: code 5325' in outcomes[b_rows[-1]].message
    assert set(action.performed()) == {*a_rows, 3}  # nothing of B was sent after its block


async def test_a_lane_never_has_more_in_flight_than_its_capacity() -> None:
    devices = [f"A{index}" for index in range(8)]
    action = ScriptedAction(crowd_size=1)
    engine, sink = _lane_run(action, {"A": 2})
    await engine.run(items(devices))
    assert action.peak == 2
    assert {outcome.status for outcome in sink.outcomes} == {RowStatus.SUCCESS}
