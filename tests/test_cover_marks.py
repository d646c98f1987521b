"""The cover-mark rule read twice from docs/platform-api.md §4.1, §6.5: `runner.shares.model` (what plan,
--skip-existing, validate's warning and the report notes use) and the simulator's `state.py`. One table
of cases runs through both, so a change to either that the other does not share fails here."""

from __future__ import annotations

import pytest

from runner.models import RecipientKind, ShareRequest
from runner.shares.model import DeviceModel, PlanAction
from runner.simulator import SimulatorState
from runner.simulator.codes import PlatformCodeError

from .conftest import NOW, FakeClock

OWNER = "C100001"
DAY_MS = 86_400_000
E1, E2 = int(NOW * 1000) + 10 * DAY_MS, int(NOW * 1000) + 20 * DAY_MS
P = None  # permanent

#: each case: rows of (recipient, cover mark, expiry) on one device, in order
CASES: dict[str, list[tuple[str, int, int | None]]] = {
    "1 then 1, other recipient": [("U1", 1, E1), ("U2", 1, E1)],
    "2 then 2": [("U1", 2, E1), ("U2", 2, E2)],
    "2 then 1": [("U1", 2, E1), ("U2", 2, E1), ("U3", 1, E1)],
    "1 then 2": [("U1", 1, E1), ("U2", 2, E1)],
    "2 then 3 later": [("U1", 2, E1), ("U2", 3, E2)],
    "2 then 3 earlier": [("U1", 2, E2), ("U2", 3, E1)],
    "2 then 3 equal": [("U1", 2, E1), ("U2", 3, E1)],
    "2 then 3 permanent": [("U1", 2, E1), ("U2", 3, P)],
    "permanent then 3 permanent": [("U1", 2, P), ("U2", 3, P)],
    "permanent then 3 later": [("U1", 1, P), ("U2", 3, E2)],
    "3 on an empty device": [("U1", 3, E1)],
    "3 against several, one later": [("U1", 2, E1), ("U2", 2, E2), ("U3", 3, E2 - 1)],
    "3 against several, all earlier": [("U1", 2, E1), ("U2", 2, E1 + 1), ("U3", 3, E2)],
    "same recipient, 1, later": [("U1", 1, E1), ("U1", 1, E2)],
    "same recipient, 2, later": [("U1", 2, E1), ("U1", 2, E2)],
    "same recipient, 3, later": [("U1", 2, E1), ("U1", 3, E2)],
    "same recipient, 3, earlier": [("U1", 2, E2), ("U1", 3, E1)],
    "same recipient, equal expiry": [("U1", 2, E1), ("U2", 2, E1), ("U1", 1, E1)],
    "many rows": [("U1", 2, E1), ("U2", 2, E2), ("U3", 3, P), ("U4", 2, E1), ("U5", 1, E2), ("U6", 3, E1)],
}


def _simulator_open(state: SimulatorState) -> list[tuple[str, int | None]]:
    now_ms = state.now_ms()
    return sorted((s.recipient.uid, s.expire_at_ms) for s in state.shares if s.is_valid(now_ms))


@pytest.mark.parametrize("rows", CASES.values(), ids=CASES.keys())
def test_the_model_and_the_simulator_agree_row_by_row(rows: list[tuple[str, int, int | None]]) -> None:
    state = SimulatorState(owner_uid=OWNER, clock=FakeClock(), seed=1)
    model = DeviceModel()
    for row, (uid, mark, expiry) in enumerate(rows, start=2):
        planned = model.plan(row, ShareRequest("p1", "D1", RecipientKind.UID, uid, expiry, mark))
        if planned.action is PlanAction.IN_PLACE:  # not sent (--skip-existing): the simulator must already hold it
            assert (uid, expiry) in _simulator_open(state)
            continue
        params = {"pk": "p1", "dk": "D1", "shareUid": uid, "coverMark": str(mark)}
        if expiry is not None:
            params["sharingExpireAt"] = str(expiry)
        code = 200
        try:
            state.share_by_uid(OWNER, params)
        except PlatformCodeError as exc:
            code = exc.code
        assert code in (200, 5134)
        refused = code == 5134
        assert planned.refused is refused, (row, planned)
        assert sorted(model.open_shares(("p1", "D1")), key=str) == sorted(_simulator_open(state), key=str), row


def test_the_table_covers_every_cover_mark_and_expiry_kind() -> None:
    rows = [row for case in CASES.values() for row in case]
    assert {mark for _, mark, _ in rows} == {1, 2, 3}
    assert P in {expiry for _, _, expiry in rows}
