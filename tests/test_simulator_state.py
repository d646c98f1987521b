"""The simulator's pure logic: share rules, tokens, devices file, rate window. No sockets."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from runner.simulator import FaultKind, SimulatorConfig, SimulatorState
from runner.simulator.codes import PlatformCodeError
from runner.simulator.directory import Device, User, load_directory, synthetic_uid
from runner.simulator.introspect import apply_config_change
from runner.simulator.state import ShareEnd
from runner.simulator.traffic import RequestRecord, Traffic, draw_fault, draw_latency_s, max_in_window

from .conftest import NOW, FakeClock

OWNER = "C100001"
DAY_MS = 86_400_000
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimulatorState:
    return SimulatorState(owner_uid=OWNER, clock=clock, seed=1)


def later_ms(days: float) -> int:
    return int(NOW * 1000 + days * DAY_MS)


def share_code_of(state: SimulatorState, **params: str) -> str:
    return state.share_by_uid(OWNER, {"pk": "p1", "dk": "D1", "shareUid": "C2", **params}).share_code


def code_of(state: SimulatorState, params: dict[str, str], uid: str = OWNER) -> int:
    with pytest.raises(PlatformCodeError) as info:
        state.share_by_uid(uid, params)
    return info.value.code


# --- shareByUid validation order ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 5066),  # everything missing: pk is checked first
        ({"pk": "p1"}, 5067),
        ({"pk": "p1", "dk": "D1", "coverMark": "0", "sharingExpireAt": "x"}, 5133),
        ({"pk": "p1", "dk": "D1", "coverMark": "1.5"}, 5133),
        ({"pk": "p1", "dk": "D1", "sharingExpireAt": "x"}, 5145),
        ({"pk": "p1", "dk": "D1", "sharingExpireAt": str(int(NOW * 1000))}, 5145),  # not in the future
        ({"pk": "p1", "dk": "UNV1", "sharingExpireAt": "x", "shareUid": "C2"}, 5145),
        ({"pk": "p1", "dk": "UNV1"}, 5891),
        ({"pk": "p1", "dk": "UNV1", "shareUid": "FAM1"}, 5360),  # device before recipient
        ({"pk": "p1", "dk": "FAIL1", "shareUid": "FAM1"}, 5864),  # family before add-fails
        ({"pk": "p1", "dk": "FAIL1", "shareUid": "GHOST1"}, 5134),  # add-fails before unknown user
        ({"pk": "p1", "dk": "D1", "shareUid": "GHOST1"}, 5033),
        ({"pk": "p1", "dk": "D1", "email": "Ghost@example.com"}, 5031),
        ({"pk": "p1", "dk": "D1", "phone": "000555"}, 5004),
        ({"pk": "p1", "dk": "OTHER1", "shareUid": "C2"}, 5135),
    ],
)
def test_share_validation_follows_the_platform_order(
    state: SimulatorState, params: dict[str, str], code: int
) -> None:
    assert code_of(state, params) == code
    assert state.shares == []


def test_share_uid_wins_over_email_and_phone(state: SimulatorState) -> None:
    share = state.share_by_uid(OWNER, {"pk": "p1", "dk": "D1", "shareUid": "C2", "email": "ghost@x.io"})
    assert share.recipient.uid == "C2"


def test_an_unknown_email_gets_a_stable_synthetic_uid(state: SimulatorState, clock: FakeClock) -> None:
    first = state.share_by_uid(OWNER, {"pk": "p1", "dk": "D1", "email": "Dora@Example.com", "coverMark": "2"})
    again = state.share_by_uid(OWNER, {"pk": "p1", "dk": "D2", "email": "dora@example.com"})
    assert first.recipient is again.recipient
    assert first.recipient.uid == synthetic_uid("email", "dora@example.com")
    assert first.recipient.uid.startswith("C")


# --- coverMark, per device ----------------------------------------------------------------------


def test_cover_mark_1_replaces_shares_to_other_recipients_of_the_same_device(state: SimulatorState) -> None:
    first = state.share_by_uid(OWNER, {"pk": "p1", "dk": "D1", "shareUid": "C2"})
    other_device = state.share_by_uid(OWNER, {"pk": "p1", "dk": "D2", "shareUid": "C2"})
    state.share_by_uid(OWNER, {"pk": "p1", "dk": "D1", "shareUid": "C3", "coverMark": "1"})
    assert first.end_reason is ShareEnd.REPLACED
    assert other_device.end_reason is None


def test_cover_mark_3_compares_with_every_valid_share(state: SimulatorState) -> None:
    share_code_of(state, coverMark="2", sharingExpireAt=str(later_ms(5)))
    share_code_of(state, coverMark="2", sharingExpireAt=str(later_ms(9)))
    assert code_of(state, {"pk": "p1", "dk": "D1", "shareUid": "C3", "coverMark": "3",
                           "sharingExpireAt": str(later_ms(7))}) == 5134
    assert [s.is_valid(state.now_ms()) for s in state.shares] == [True, True]
    share_code_of(state, coverMark="3")  # permanent beats any expiry
    assert [s.state_name(state.now_ms()) for s in state.shares] == ["replaced", "replaced", "valid"]


def test_cover_mark_3_ignores_expired_shares(state: SimulatorState, clock: FakeClock) -> None:
    share_code_of(state, sharingExpireAt=str(later_ms(1)))
    clock.now += 2 * 86400
    share_code_of(state, coverMark="3", sharingExpireAt=str(later_ms(3)))
    assert [s.state_name(state.now_ms()) for s in state.shares] == ["expired", "valid"]


# --- list and revoke ----------------------------------------------------------------------------


def test_revoke_ends_a_share_once(state: SimulatorState, clock: FakeClock) -> None:
    code = share_code_of(state)
    clock.now += 5
    revoked = state.revoke(OWNER, {"shareCode": code})
    assert (revoked.end_reason, revoked.ended_at) == (ShareEnd.REVOKED, NOW + 5)
    with pytest.raises(PlatformCodeError, match="5142"):
        state.revoke(OWNER, {"shareCode": code})


def test_revoke_of_an_expired_share_answers_5142(state: SimulatorState, clock: FakeClock) -> None:
    code = share_code_of(state, sharingExpireAt=str(later_ms(1)))
    clock.now += 86400
    with pytest.raises(PlatformCodeError, match="5142"):
        state.revoke(OWNER, {"shareCode": code})


def test_another_account_may_neither_list_nor_revoke(state: SimulatorState) -> None:
    code = share_code_of(state)
    with pytest.raises(PlatformCodeError, match="5041"):
        state.revoke("C777777", {"shareCode": code})
    with pytest.raises(PlatformCodeError, match="5141"):
        state.device_shares("C777777", {"pk": "p1", "dk": "D1"})
    assert [s.share_code for s in state.device_shares(OWNER, {"pk": "p1", "dk": "D1"})] == [code]


def set_time_code(state: SimulatorState, params: dict[str, str], uid: str = OWNER) -> int:
    with pytest.raises(PlatformCodeError) as info:
        state.set_share_time(uid, params)
    return info.value.code


def test_set_share_time_changes_the_expiry_of_a_valid_share(state: SimulatorState, clock: FakeClock) -> None:
    code = share_code_of(state, sharingExpireAt=str(later_ms(1)))
    clock.now += 60
    share = state.set_share_time(OWNER, {"shareCode": code, "sharingExpireAt": str(later_ms(90))})
    assert share.expire_at_ms == later_ms(90)
    assert share.updated_at == clock.now
    assert share.is_valid(later_ms(30))


def test_set_share_time_refuses_missing_unknown_foreign_ended_and_bad_expiries(state: SimulatorState) -> None:
    code = share_code_of(state)
    theirs = state.share_by_uid("C300000", {"pk": "p1", "dk": "THEIRS", "shareUid": "C2"}).share_code
    good = str(later_ms(5))
    assert set_time_code(state, {"sharingExpireAt": good}) == 5136
    assert set_time_code(state, {"shareCode": "NOPE", "sharingExpireAt": good}) == 5041
    assert set_time_code(state, {"shareCode": theirs, "sharingExpireAt": good}) == 5041
    assert set_time_code(state, {"shareCode": code}) == 5145  # no expiry: cannot make a share permanent
    assert set_time_code(state, {"shareCode": code, "sharingExpireAt": "soon"}) == 5145
    assert set_time_code(state, {"shareCode": code, "sharingExpireAt": str(int(NOW * 1000) - 1)}) == 5145
    state.revoke(OWNER, {"shareCode": code})
    assert set_time_code(state, {"shareCode": code, "sharingExpireAt": good}) == 5142


def test_accept_marks_an_invite_accepted_once_and_refuses_an_ended_share(
    state: SimulatorState, clock: FakeClock
) -> None:
    first = share_code_of(state)
    clock.now += 30
    accepted = state.accept(first)
    clock.now += 30
    assert state.accept(first).accepted_at == accepted.accepted_at == NOW + 30
    share_code_of(state, shareUid="C3")  # cover mark 1 replaces the first share
    with pytest.raises(ValueError, match="replaced"):
        state.accept(first)
    with pytest.raises(KeyError):
        state.accept("NOPE")


def test_the_share_list_shows_acceptance_and_lists_a_pending_invite_with_the_configured_status(
    state: SimulatorState, clock: FakeClock
) -> None:
    from runner.simulator.render import share_info

    pending = state.share_by_uid(OWNER, {"pk": "p1", "dk": "D1", "shareUid": "C2", "coverMark": "2"})
    accepted = state.share_by_uid(OWNER, {"pk": "p1", "dk": "D1", "shareUid": "C3", "coverMark": "2"})
    clock.now += 10
    state.accept(accepted.share_code)
    now_ms = state.now_ms()
    assert share_info(pending, now_ms, listed_status=7)["shareStatus"] == 7
    assert share_info(pending, now_ms, listed_status=7)["acceptTimeTs"] is None
    info = share_info(accepted, now_ms, listed_status=7)
    assert (info["shareStatus"], info["acceptTimeTs"]) == (1, int((NOW + 10) * 1000))
    state.revoke(OWNER, {"shareCode": accepted.share_code})
    assert share_info(accepted, state.now_ms(), listed_status=7)["shareStatus"] == 0


def test_reset_forgets_shares_but_keeps_declared_devices(clock: FakeClock) -> None:
    device = Device(pk="p1", dk="UNV-but-verified", name="x", owner_uid=OWNER)
    state = SimulatorState(owner_uid=OWNER, clock=clock, devices=[device])
    state.share_by_uid(OWNER, {"pk": "p1", "dk": "UNV-but-verified", "shareUid": "C2"})
    state.share_by_uid(OWNER, {"pk": "p1", "dk": "D9", "shareUid": "C2"})
    state.reset()
    assert state.shares == []
    assert list(state.devices) == [("p1", "UNV-but-verified")]


def test_same_seed_same_share_codes(clock: FakeClock) -> None:
    codes = [share_code_of(SimulatorState(clock=clock, seed=3, owner_uid=OWNER)) for _ in range(2)]
    assert codes[0] == codes[1]


# --- tokens -------------------------------------------------------------------------------------


def test_access_token_has_the_platform_claims(state: SimulatorState) -> None:
    pair = state.issue_tokens()
    assert pair.access_token.startswith("Bearer ")
    claims = state.tokens.decode_claims(pair.access_token)
    assert claims["uid"] == claims["sub"] == OWNER
    assert (claims["iss"], claims["aud"], claims["type"]) == ("enduser", "Audience", "AccessToken")
    assert claims["nbf"] == claims["iat"] - 120
    assert claims["exp"] - claims["iat"] == 7200
    assert state.tokens.decode_claims(pair.refresh_token)["type"] == "RefreshToken"
    assert pair.as_platform_data()["accessToken"]["expirationTime"] == claims["exp"]


def test_fractional_ttl_expires_to_the_sub_second(clock: FakeClock) -> None:
    state = SimulatorState(clock=clock, access_ttl_s=2.5)
    token = state.issue_tokens().access_token
    clock.now += 2.4
    assert state.tokens.verify_access(token) == "C100001"
    clock.now += 0.1
    with pytest.raises(PlatformCodeError, match="5032"):
        state.tokens.verify_access(token)


@pytest.mark.parametrize("which", ["refresh_as_access", "tampered", "double_bearer", "garbage"])
def test_wrong_tokens_are_refused_with_5032(state: SimulatorState, which: str) -> None:
    pair = state.issue_tokens()
    header, payload, signature = pair.access_token.removeprefix("Bearer ").split(".")
    value = {
        "refresh_as_access": pair.refresh_token,
        "tampered": f"Bearer {header}.{payload}x.{signature}",
        "double_bearer": "Bearer " + pair.access_token,
        "garbage": "Bearer %%%.@@@.!!!",
    }[which]
    with pytest.raises(PlatformCodeError, match="5032"):
        state.tokens.verify_access(value)


def test_missing_token_is_5106(state: SimulatorState) -> None:
    with pytest.raises(PlatformCodeError, match="5106"):
        state.tokens.verify_access(None)


def test_refresh_rotates_and_rejects_reuse_and_access_tokens(state: SimulatorState, clock: FakeClock) -> None:
    pair = state.issue_tokens()
    clock.now += 10
    new = state.tokens.refresh(pair.refresh_token)
    assert new.access_expires_at == NOW + 10 + 7200
    assert state.tokens.verify_access(new.access_token) == OWNER
    for dead in (pair.refresh_token, new.access_token):
        with pytest.raises(PlatformCodeError, match="5032"):
            state.tokens.refresh(dead)
    clock.now += 31 * 86400  # past the refresh token's 30 days
    with pytest.raises(PlatformCodeError, match="5032"):
        state.tokens.refresh(new.refresh_token)


def test_issuer_repr_shows_no_secret(state: SimulatorState) -> None:
    state.issue_tokens()
    assert repr(state.tokens) == "TokenIssuer(live=2)"


# --- devices file -------------------------------------------------------------------------------


def test_sample_devices_file_declares_each_device_state() -> None:
    users, devices = load_directory(SAMPLES / "devices.json", OWNER)
    assert [u.uid for u in users if u.family] == ["C200003"]
    assert {(d.verified, d.add_fails, d.owner_uid == OWNER) for d in devices} == {
        (True, False, True), (False, False, True), (True, True, True), (True, False, False)}


def test_declared_users_and_devices_drive_the_answers(clock: FakeClock) -> None:
    users = [User(uid="C5", email="Fam@Example.com", family=True), User(uid="FAMOUS", phone="123")]
    devices = [Device(pk="p", dk="locked", name="x", owner_uid=OWNER, verified=False),
               Device(pk="p", dk="UNV-declared-fine", name="y", owner_uid=OWNER)]
    state = SimulatorState(owner_uid=OWNER, clock=clock, users=users, devices=devices)
    assert code_of(state, {"pk": "p", "dk": "locked", "shareUid": "C9"}) == 5360
    assert code_of(state, {"pk": "p", "dk": "D", "email": "fam@example.com"}) == 5864
    share = state.share_by_uid(OWNER, {"pk": "p", "dk": "UNV-declared-fine", "phone": "123"})
    assert share.recipient.uid == "FAMOUS"  # declared users ignore the FAM prefix rule


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"devices": [{"pk": "p", "dk": "d", "verifed": false}]}', "unknown keys"),
        ('{"devices": [{"pk": "p"}]}', '"dk"'),
        ('{"users": [{"uid": "C1", "family": "yes"}]}', "must be a bool"),
        ('{"users": {}}', "must be a list"),
        ("[1, 2]", "expected an object"),
        ("{", "cannot read"),
    ],
)
def test_a_bad_devices_file_is_refused_with_its_name(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "devices.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        load_directory(path, OWNER)
    assert str(path) in str(info.value)


def test_a_devices_file_without_owner_uses_the_default(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": [{"pk": "p", "dk": "d"}]}), encoding="utf-8")
    [device] = load_directory(path, "C424242")[1]
    assert (device.owner_uid, device.name, device.verified) == ("C424242", "Device d", True)


# --- traffic: window, limiter, draws, config ----------------------------------------------------


@pytest.mark.parametrize(
    ("times", "expected"),
    [([], 0), ([5.0], 1), ([0.0, 0.999, 1.0], 2), ([0.0, 0.1, 0.5, 0.95, 1.2, 2.5], 4), ([1.0] * 7, 7)],
)
def test_max_in_window_counts_a_half_open_second(times: list[float], expected: int) -> None:
    assert max_in_window(times) == expected


def test_rate_limit_admits_at_most_the_limit_per_second() -> None:
    now = [0.0]
    traffic = Traffic(clock=lambda: now[0])

    def arrive_at(t: float) -> float | None:
        now[0] = t
        return traffic.admit(traffic.arrive("POST", "/x", {}), 2.5)

    assert [arrive_at(t) for t in (0.0, 0.2)] == [None, None]
    assert arrive_at(0.4) == pytest.approx(0.6)  # the 0.0 arrival leaves the window at 1.0
    assert arrive_at(1.0) is None
    assert traffic.stats()["max_in_any_second"] == 3
    assert traffic.stats()["max_admitted_in_any_second"] == 2


def test_draws_are_bounded() -> None:
    rng = random.Random(1)
    assert all(draw_latency_s(rng, 1.0, 5.0) >= 0 for _ in range(200))
    assert draw_fault(rng, 0.0, list(FaultKind)) is None
    assert {draw_fault(rng, 1.0, [FaultKind.DROP_AFTER_APPLY]) for _ in range(20)} == {FaultKind.DROP_AFTER_APPLY}


def test_request_record_names_its_endpoint() -> None:
    assert RequestRecord(0.0, "GET", "/v2/binding/enduserapi/deviceShareUserList", {}).endpoint == (
        "deviceShareUserList")


@pytest.mark.parametrize(
    "change",
    [{"fault_rate": 2}, {"fault_kinds": ["nope"]}, {"seed": 3}, {"rate_limit": "fast"}, {"fault_kinds": 5}, []],
)
def test_a_bad_runtime_config_change_changes_nothing(change: object) -> None:
    class Holder:
        config = SimulatorConfig(fault_rate=0.5)

    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        apply_config_change(Holder(), change)  # type: ignore[arg-type]
    assert Holder.config.fault_rate == 0.5


def test_config_rejects_impossible_values() -> None:
    with pytest.raises(ValueError, match="fault_rate"):
        SimulatorConfig(fault_rate=1.5)
    assert SimulatorConfig(fault_kinds=("server_error",)).fault_kinds == (  # type: ignore[arg-type]
        FaultKind.SERVER_ERROR,)
