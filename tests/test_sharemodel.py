"""The plan's action logic: rows and device share lists in, one action per row out (no I/O)."""

from __future__ import annotations

from runner.batches.lookups import Lookups
from runner.batches.replacements import RepeatedDevices, ReplacementNotes
from runner.commands.plan import plan_rows
from runner.models import DeviceShare, LoadedRow, RecipientKind, RowOutcome, RowProblem, RowStatus, ShareRequest
from runner.shares.model import DeviceModel, PlanAction

DEVICE = ("p1", "D1")
MARCH = 1_900_000_000_000
JUNE = MARCH + 90 * 86_400_000


def request(recipient: str, expiry: int | None = MARCH, cover_mark: int = 1, dk: str = "D1",
            kind: RecipientKind = RecipientKind.UID) -> ShareRequest:
    return ShareRequest("p1", dk, kind, recipient, expiry, cover_mark)


def platform_share(code: str, uid: str, expiry: int | None = MARCH, *, email: str = "", ended: bool = False,
                   accepted: bool = False) -> DeviceShare:
    return DeviceShare(code, uid, email, "", valid=not ended, created_ms=1000, expire_at_ms=expiry,
                       accepted_ms=2000 if accepted else None, ended_ms=3000 if ended else None)


def actions(rows: list[LoadedRow], lookups: Lookups) -> list[tuple[int, str, str]]:
    return [(row.row, planned.action.value, planned.detail) for row, planned in plan_rows(rows, lookups)]


def loaded(row: int, req: ShareRequest) -> LoadedRow:
    return LoadedRow(row, [req.pk, req.dk, req.recipient], request=req)


def test_each_action_against_the_platform_and_the_batch() -> None:
    lookups = Lookups(shares={
        DEVICE: [platform_share("SC-SAME", "U1"), platform_share("SC-OLD", "U9", ended=True)],
        ("p1", "D2"): [platform_share("SC-D2", "U2", MARCH)],
        ("p1", "D3"): [platform_share("SC-D3", "U3", MARCH)],
        ("p1", "D4"): [],
    })
    lookups.failed[("p1", "OTHER1")] = RowOutcome(row=1, status=RowStatus.FAILED, code=5141,
                                                  message="code 5141 no permission to query this device")
    rows = [
        loaded(2, request("U1")),  # same recipient, same expiry: in place
        loaded(3, request("U2", JUNE, dk="D2")),  # same recipient, other expiry
        loaded(4, request("U4", dk="D3")),  # cover mark 1 cuts U3 off
        loaded(5, request("U5", dk="D4", cover_mark=2)),  # nothing there
        loaded(6, request("U6", dk="OTHER1")),
        LoadedRow(7, ["p1", "D1", ""], problem=RowProblem("required cell is empty", "recipient")),
        LoadedRow(8, ["p1", "D1", "U1"], duplicate_of=2),
    ]
    got = actions(rows, lookups)
    assert [(row, action) for row, action, _ in got] == [
        (2, "in_place"), (3, "change_expiry"), (4, "replaces"), (5, "create"), (6, "no_permission"),
        (7, "invalid"), (8, "duplicate"),
    ]
    assert got[0][2] == "share SC-SAME"
    assert "2030-03-17" in got[1][2]
    assert "(share SC-D2)" in got[1][2]
    assert got[2][2] == "ends the shares of U3 (share SC-D3)"
    assert "5141" in got[4][2]
    assert got[5][2] == 'column "recipient": required cell is empty'
    assert got[6][2] == "duplicate of row 2"


def test_an_ended_share_is_not_in_place_and_is_not_cut_off() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-GONE", "U1", ended=True)]})
    assert actions([loaded(2, request("U1"))], lookups) == [(2, "create", "")]


def test_earlier_rows_of_the_batch_are_cut_off_by_a_later_cover_mark_1_row() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-A", "alice", email="alice@example.org")]})
    got = actions([loaded(2, request("U2", cover_mark=2)), loaded(3, request("U3"))], lookups)
    assert got[0][:2] == (2, "create")
    assert got[1] == (3, "replaces", "ends the shares of alice@example.org (share SC-A), U2 (row 2)")


def test_a_row_after_a_replacement_is_no_longer_in_place() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-A", "U1")]})
    got = actions([loaded(2, request("U2")), loaded(3, request("U1"))], lookups)
    assert [action for _, action, _ in got] == ["replaces", "replaces"]
    assert got[1][2] == "ends the shares of U2 (row 2)"


def test_replaces_wins_over_change_expiry_and_says_both() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-ME", "U1", MARCH), platform_share("SC-YOU", "U2")]})
    [(_, action, detail)] = actions([loaded(2, request("U1", JUNE))], lookups)
    assert action == "replaces"
    assert detail.startswith("ends the shares of U2 (share SC-YOU); and changes this recipient's expiry: ")


def test_in_place_under_cover_mark_1_warns_what_sending_it_again_would_end() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-ME", "U1"), platform_share("SC-YOU", "U2")]})
    [(_, action, detail)] = actions([loaded(2, request("U1"))], lookups)
    assert action == "in_place"
    assert detail == ("share SC-ME; sending it again (run without --skip-existing) would end the shares of "
                      "U2 (share SC-YOU)")


def test_cover_mark_2_adds_beside_and_a_second_expiry_is_change_expiry() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-ME", "U1", MARCH), platform_share("SC-YOU", "U2")]})
    got = actions([loaded(2, request("U3", cover_mark=2)), loaded(3, request("U1", JUNE, cover_mark=2))], lookups)
    assert [action for _, action, _ in got] == ["create", "change_expiry"]
    assert "cover mark 2 adds a second share" in got[1][2]


def test_cover_mark_3_replaces_only_with_a_later_expiry() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-YOU", "U2", MARCH)], ("p1", "D2"): [
        platform_share("SC-PERM", "U2", None)]})
    got = actions([loaded(2, request("U1", JUNE, cover_mark=3)), loaded(3, request("U1", JUNE, 3, dk="D2"))],
                  lookups)
    assert got[0] == (2, "replaces", "ends the shares of U2 (share SC-YOU)")
    assert got[1][1] == "create"
    assert "cover mark 3" in got[1][2]
    assert "refuse" in got[1][2]


def test_recipients_match_by_email_case_insensitively() -> None:
    lookups = Lookups(shares={DEVICE: [platform_share("SC-A", "C77", email="Alice@Example.org")]})
    row = loaded(2, request("alice@example.org", kind=RecipientKind.EMAIL))
    assert actions([row], lookups) == [(2, "in_place", "share SC-A")]


def test_a_device_whose_list_could_not_be_read_is_lookup_failed() -> None:
    lookups = Lookups(failed={DEVICE: RowOutcome(row=1, status=RowStatus.FAILED, message="gave up after 5 attempts")})
    [(_, action, detail)] = actions([loaded(2, request("U1"))], lookups)
    assert action == PlanAction.LOOKUP_FAILED.value
    assert detail.endswith("gave up after 5 attempts")


def test_run_report_notes_name_the_rows_whose_share_a_row_ended() -> None:
    requests = [request("U1", cover_mark=2), request("U2", cover_mark=2), request("U3"), request("U4", dk="D9")]
    repeated = RepeatedDevices()
    for req in requests:
        repeated.add(req.device)
    notes = ReplacementNotes(repeated)
    outcomes = [RowOutcome(row, RowStatus.SUCCESS, share_code=f"SC{row}") for row in (2, 3, 4, 5)]
    failed = RowOutcome(6, RowStatus.FAILED, message="code 5134")
    messages = [notes.noted(req, outcome).message for req, outcome in zip(requests, outcomes, strict=True)]
    assert messages == ["", "", "replaces the shares of rows 2, 3", ""]
    assert notes.noted(request("U5"), failed).message == "code 5134"  # a failed row ended nothing
    assert ("p1", "D9") not in repeated


def test_the_model_keeps_a_platform_share_that_cover_mark_2_rows_leave_alone() -> None:
    model = DeviceModel({DEVICE: [platform_share("SC-A", "U1", accepted=True)]})
    assert model.plan(2, request("U2", cover_mark=2)).action is PlanAction.CREATE
    assert model.plan(3, request("U1")).action is PlanAction.IN_PLACE
