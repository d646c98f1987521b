"""The simulator's password logins as pure logic: check order, codes, lockout. No sockets."""

from __future__ import annotations

import pytest

from runner.platform.auth.crypto import email_login_signature, encrypt_password, phone_login_signature
from runner.simulator import SimulatorConfig, SimulatorState
from runner.simulator.codes import PlatformCodeError, message_for
from runner.simulator.login import FREEZE_S, LoginAccount, LoginChannel, PasswordLogins
from runner.simulator.server import owner_login_account

from .conftest import NOW, FakeClock

OWNER = "C100001"
DOMAIN = "E.DM.TEST.1"
SECRET = "TestSecret0123456789abcdefghijklmnopqrstuvwx"
PASSWORD = "Sharebatch1"
EMAIL = "owner@example.com"
PHONE = "13800000000"
RANDOM = "abcdefABCDEF0123"

EMAIL_WRONG_CODES = [5586, 5585, 5584, 5583]
PHONE_WRONG_CODES = [5582, 5581, 5580, 5579]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimulatorState:
    account = LoginAccount(uid=OWNER, password=PASSWORD, email=EMAIL, phone=PHONE, international_code="86")
    return SimulatorState(
        owner_uid=OWNER, clock=clock, seed=1, user_domains={DOMAIN: SECRET}, login_accounts=[account]
    )


def email_params(password: str = PASSWORD, *, email: str = EMAIL, **overrides: str) -> dict[str, str]:
    """A correctly encrypted and signed emailPwdLogin request; `overrides` replace fields after signing."""
    pwd = encrypt_password(password, RANDOM)
    signature = email_login_signature(email, pwd, RANDOM, SECRET)
    params = {"email": email, "pwd": pwd, "random": RANDOM, "userDomain": DOMAIN, "signature": signature}
    return {**params, **overrides}


def phone_params(
    password: str = PASSWORD, *, phone: str = PHONE, code: str = "86", **overrides: str
) -> dict[str, str]:
    """A correctly encrypted and signed phonePwdLogin request; `overrides` replace fields after signing."""
    pwd = encrypt_password(password, RANDOM)
    signature = phone_login_signature(code, phone, pwd, RANDOM, SECRET)
    params = {"phone": phone, "internationalCode": code, "pwd": pwd, "random": RANDOM, "userDomain": DOMAIN,
              "signature": signature}
    return {**params, **overrides}


def login_code(state: SimulatorState, channel: LoginChannel, params: dict[str, str]) -> int:
    with pytest.raises(PlatformCodeError) as info:
        state.password_login(channel, params)
    return info.value.code


def without(params: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in names}


# --- success ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "params"),
    [(LoginChannel.EMAIL, email_params()), (LoginChannel.PHONE, phone_params())],
)
def test_a_correct_login_issues_a_token_pair_for_the_account(
    state: SimulatorState, clock: FakeClock, channel: LoginChannel, params: dict[str, str]
) -> None:
    pair = state.password_login(channel, params)
    assert state.tokens.verify_access(pair.access_token) == OWNER
    assert pair.access_expires_at == NOW + 7200
    assert state.tokens.refresh(pair.refresh_token).access_token != pair.access_token
    data = pair.as_platform_data()
    assert data["accessToken"]["token"].startswith("Bearer ")
    assert data["accessToken"]["expirationTime"] == int(NOW + 7200)


def test_the_email_is_looked_up_without_regard_to_case(state: SimulatorState) -> None:
    pair = state.password_login(LoginChannel.EMAIL, email_params(email="Owner@Example.COM"))
    assert state.tokens.verify_access(pair.access_token) == OWNER


def test_a_phone_login_without_international_code_is_signed_over_an_empty_code(state: SimulatorState) -> None:
    # The raw value is signed; the lookup then assumes "86".
    signed_empty = without(phone_params(code=""), "internationalCode")
    assert state.tokens.verify_access(state.password_login(LoginChannel.PHONE, signed_empty).access_token) == OWNER
    signed_86 = without(phone_params(code="86"), "internationalCode")
    assert login_code(state, LoginChannel.PHONE, signed_86) == 5420


# --- check order --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 5023),  # everything missing: userDomain first
        (without(email_params(), "userDomain", "email", "pwd", "signature"), 5023),
        (email_params(userDomain="  "), 5023),  # blank counts as missing
        (without(email_params(), "email", "pwd", "signature"), 5026),
        (without(email_params(), "pwd", "signature"), 5022),
        (without(email_params(), "signature"), 5550),
        (email_params(userDomain="E.DM.NOPE", signature="bad", pwd="garbage"), 5015),
        (email_params(signature="0" * 64, pwd="garbage"), 5420),
        (email_params(signature=email_login_signature(EMAIL, "garbage", RANDOM, SECRET), pwd="garbage"), 5353),
        (email_params(email="nobody@example.com", pwd="garbage",
                      signature=email_login_signature("nobody@example.com", "garbage", RANDOM, SECRET)), 5353),
        (email_params(email="nobody@example.com", password="wrong"), 5031),
        (email_params(password="wrong"), 5586),
    ],
)
def test_email_login_checks_in_the_documented_order(
    state: SimulatorState, params: dict[str, str], code: int
) -> None:
    assert login_code(state, LoginChannel.EMAIL, params) == code


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 5023),
        (without(phone_params(), "phone", "pwd", "signature"), 5021),
        (phone_params(phone=""), 5021),
        (without(phone_params(), "pwd", "signature"), 5022),
        (without(phone_params(), "signature"), 5550),
        (phone_params(userDomain="C.DM.10271.5"), 5015),
        (phone_params(signature=phone_login_signature("86", PHONE, "garbage", RANDOM, SECRET), pwd="garbage"), 5353),
        (phone_params(phone="13900000000", password="wrong"), 5004),
        (phone_params(code="1"), 5004),  # right number, other country: not this account
        (phone_params(password="wrong"), 5582),
    ],
)
def test_phone_login_checks_in_the_documented_order(
    state: SimulatorState, params: dict[str, str], code: int
) -> None:
    assert login_code(state, LoginChannel.PHONE, params) == code


def test_a_signature_over_the_plaintext_password_is_refused(state: SimulatorState) -> None:
    params = email_params(signature=email_login_signature(EMAIL, PASSWORD, RANDOM, SECRET))
    assert login_code(state, LoginChannel.EMAIL, params) == 5420


def test_the_signature_covers_the_raw_values(state: SimulatorState) -> None:
    # A padded email still finds the account, but only if the padding was signed too.
    signed_padded = email_params(email=f" {EMAIL}")
    assert state.tokens.verify_access(state.password_login(LoginChannel.EMAIL, signed_padded).access_token) == OWNER
    assert login_code(state, LoginChannel.EMAIL, {**email_params(), "email": f" {EMAIL}"}) == 5420


def test_a_password_encrypted_with_another_random_does_not_decrypt(state: SimulatorState) -> None:
    pwd = encrypt_password(PASSWORD, "j1acpdj2bmtqZXVb")
    params = email_params(pwd=pwd, signature=email_login_signature(EMAIL, pwd, RANDOM, SECRET))
    assert login_code(state, LoginChannel.EMAIL, params) == 5353


def test_a_state_without_accounts_knows_no_user_domain(clock: FakeClock) -> None:
    assert login_code(SimulatorState(clock=clock), LoginChannel.EMAIL, email_params()) == 5015


# --- lockout ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "wrong", "right", "countdown"),
    [
        (LoginChannel.EMAIL, email_params("wrong"), email_params(), EMAIL_WRONG_CODES),
        (LoginChannel.PHONE, phone_params("wrong"), phone_params(), PHONE_WRONG_CODES),
    ],
)
def test_five_wrong_passwords_count_down_then_freeze_for_twenty_minutes(
    state: SimulatorState,
    clock: FakeClock,
    channel: LoginChannel,
    wrong: dict[str, str],
    right: dict[str, str],
    countdown: list[int],
) -> None:
    assert [login_code(state, channel, wrong) for _ in range(4)] == countdown
    assert login_code(state, channel, wrong) == 5147
    assert state.logins.frozen_until(OWNER) == NOW + FREEZE_S
    assert login_code(state, channel, right) == 5147  # even the right password while frozen
    assert login_code(state, channel, wrong) == 5147
    assert state.logins.frozen_until(OWNER) == NOW + FREEZE_S  # not extended by attempts while frozen
    clock.now = NOW + FREEZE_S - 1
    assert login_code(state, channel, right) == 5147
    clock.now = NOW + FREEZE_S
    assert state.logins.frozen_until(OWNER) is None
    assert state.tokens.verify_access(state.password_login(channel, right).access_token) == OWNER
    assert login_code(state, channel, wrong) == countdown[0]  # a fresh count after the freeze


def test_a_freeze_ends_with_a_fresh_count_even_without_a_correct_login(
    state: SimulatorState, clock: FakeClock
) -> None:
    for _ in range(5):
        login_code(state, LoginChannel.EMAIL, email_params("wrong"))
    clock.now = NOW + FREEZE_S + 60
    assert login_code(state, LoginChannel.EMAIL, email_params("wrong")) == 5586


def test_a_correct_login_resets_the_count(state: SimulatorState) -> None:
    wrong = email_params("wrong")
    assert [login_code(state, LoginChannel.EMAIL, wrong) for _ in range(3)] == [5586, 5585, 5584]
    state.password_login(LoginChannel.EMAIL, email_params())
    assert [login_code(state, LoginChannel.EMAIL, wrong) for _ in range(4)] == EMAIL_WRONG_CODES


def test_the_count_belongs_to_the_account_whichever_login_is_used(state: SimulatorState) -> None:
    assert login_code(state, LoginChannel.EMAIL, email_params("wrong")) == 5586
    assert login_code(state, LoginChannel.EMAIL, email_params("wrong")) == 5585
    assert login_code(state, LoginChannel.PHONE, phone_params("wrong")) == 5580  # 2 attempts left
    assert login_code(state, LoginChannel.PHONE, phone_params("wrong")) == 5579
    assert login_code(state, LoginChannel.EMAIL, email_params("wrong")) == 5147
    assert login_code(state, LoginChannel.PHONE, phone_params()) == 5147


def test_refused_requests_before_the_password_check_do_not_count(state: SimulatorState) -> None:
    for params in (email_params(signature="0" * 64), email_params(pwd="garbage"), without(email_params(), "pwd")):
        login_code(state, LoginChannel.EMAIL, params)
    assert login_code(state, LoginChannel.EMAIL, email_params("wrong")) == 5586


def test_reset_forgets_lockouts(state: SimulatorState) -> None:
    for _ in range(5):
        login_code(state, LoginChannel.EMAIL, email_params("wrong"))
    state.reset()
    assert state.logins.frozen_until(OWNER) is None
    assert state.tokens.verify_access(state.password_login(LoginChannel.EMAIL, email_params()).access_token) == OWNER


# --- config and secrets -------------------------------------------------------------------------


def test_config_defaults_make_the_owner_a_login_account() -> None:
    config = SimulatorConfig()
    assert (config.user_domain, config.owner_email, config.owner_phone, config.owner_international_code) == (
        "E.DM.SIM.1", "owner@example.com", "13800000000", "86"
    )
    assert len(config.user_domain_secret) == 44
    account = owner_login_account(config)
    assert (account.uid, account.email, account.phone, account.password) == (
        "C100001", "owner@example.com", "13800000000", "Sharebatch1"
    )


def test_secrets_stay_out_of_reprs() -> None:
    config = SimulatorConfig()
    account = owner_login_account(config)
    logins = PasswordLogins(clock=FakeClock(), user_domains={DOMAIN: SECRET}, accounts=[account])
    for text in (repr(config), repr(account), repr(logins)):
        assert config.owner_password not in text
        assert config.user_domain_secret not in text
        assert SECRET not in text
    assert "E.DM.SIM.1" in repr(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"user_domain": " "}, "user_domain"),
        ({"user_domain_secret": ""}, "user_domain_secret"),
        ({"owner_password": ""}, "owner_password"),
    ],
)
def test_config_refuses_empty_login_settings(change: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatorConfig(**change)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [5015, 5021, 5022, 5023, 5026, 5353, 5420, 5550, 5579, 5586, 5147, 5031, 5004])
def test_every_login_code_has_a_message(code: int) -> None:
    assert message_for(code) != "error"
