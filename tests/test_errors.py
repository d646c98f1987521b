"""classify_code and describe_code against the tables of docs/platform-api.md §5.1 and §5.2.

The tables keep the endpoint each code is seen on. classify_code serves the share calls, so it is
checked on every row seen there; codes seen only on a login never reach it (every refused login is
one LoginError, see test_auth_api.py, which checks the LOGIN rows).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ExitCode, InputFileError, UsageError
from runner.platform.codes import CODE_MEANINGS, ErrorClass, classify_code, describe_code

ROW = ErrorClass.ROW
AUTH = ErrorClass.AUTH
TRANSIENT = ErrorClass.TRANSIENT
ONCE = ErrorClass.TRANSIENT_ONCE
FATAL = ErrorClass.FATAL

LOGIN = "login"
SHARE = "share"
BOTH = (LOGIN, SHARE)

# (code, contexts, class, the table's wording) — §5.1, in table order
SECTION_5_1 = [
    (5002, (LOGIN,), FATAL, "phone already registered"),
    (5004, (LOGIN,), FATAL, "phone not registered"),
    (5013, (LOGIN,), FATAL, "user-domain format invalid"),
    (5015, (LOGIN,), FATAL, "user domain does not exist"),
    (5019, (LOGIN,), FATAL, "phone format invalid"),
    (5021, (LOGIN,), FATAL, "phone missing"),
    (5022, (LOGIN,), FATAL, "password missing"),
    (5023, (LOGIN,), FATAL, "user domain missing"),
    (5026, (LOGIN,), FATAL, "email missing"),
    (5028, (LOGIN,), FATAL, "wrong password"),
    (5031, (LOGIN,), FATAL, "email not registered"),
    (5032, BOTH, AUTH, "token verification failed"),
    (5040, (LOGIN,), FATAL, "email format invalid"),
    (5041, (SHARE,), ROW, "no permission"),
    (5049, (SHARE,), ROW, "device already bound"),
    (5056, (LOGIN,), FATAL, "password format invalid"),
    (5066, (SHARE,), ROW, "pk missing"),
    (5067, (SHARE,), ROW, "dk missing"),
    (5068, (SHARE,), ROW, "device name missing"),
    (5104, (LOGIN,), FATAL, "user domain disabled"),
    (5106, BOTH, AUTH, "token missing"),
    (5132, (SHARE,), ROW, "accept deadline missing"),
    (5133, (SHARE,), ROW, "coverMark out of range"),
    (5134, (SHARE,), ROW, "adding the share record failed"),
    (5135, (SHARE,), ROW, "no permission to share this device"),
    (5136, (SHARE,), ROW, "shareCode missing"),
    (5137, (SHARE,), ROW, "invalid share code"),
    (5138, (SHARE,), ONCE, "device sharing failed"),
    (5141, (SHARE,), ROW, "no permission to query this device"),
    (5142, (SHARE,), ROW, "share no longer valid"),
    (5145, (SHARE,), ROW, "timestamp format invalid"),
    (5147, BOTH, FATAL, "account frozen for 20 min"),
    (5151, (SHARE,), ROW, "coverMark-3 expiry rule violated"),
    (5153, (SHARE,), ROW, "usage expiry not later than accept deadline"),
    (5325, BOTH, FATAL, "access blocked for 24 h"),
    (5333, (SHARE,), ROW, "device name too long"),
    (5360, (SHARE,), ROW, "device's binding not verified"),
    (5420, (LOGIN,), FATAL, "signature verification failed"),
    (5550, (LOGIN,), FATAL, "signature missing"),
    *[(code, (LOGIN,), FATAL, "wrong phone/password, attempts left") for code in range(5579, 5583)],
    *[(code, (LOGIN,), FATAL, "wrong email/password, attempts left") for code in range(5583, 5587)],
    (5864, (SHARE,), ROW, "a family member can't receive a share"),
    (5891, (SHARE,), ROW, "recipient uid/email/phone missing"),
    (6084, (LOGIN,), FATAL, "MCC not in this data center"),
    # "TRANSIENT once, then FATAL": the enum has no such class; see the engine for the "once"
    (6085, (LOGIN,), ONCE, "MCC data-center lookup failed"),
]

# §5.2, the global error list; no "seen on" column, so the class holds for every endpoint unless stated
SECTION_5_2 = [
    (5000, BOTH, TRANSIENT, "service exception"),
    (5394, BOTH, TRANSIENT, "internal interface request failed"),
    (5103, BOTH, ONCE, "data exception"),
    (5033, (SHARE,), ROW, "user does not exist"),
    (5031, (SHARE,), ROW, "email not registered, returned by shareByUid"),
    (5004, (SHARE,), ROW, "phone not registered, returned by shareByUid"),
    (5411, (SHARE,), ROW, "devices of this product may not be shared"),
    (5371, (SHARE,), ROW, "user hasn't bound this device"),
    (5377, (SHARE,), ROW, "binding not authenticated"),
    (5478, (SHARE,), ROW, "device invalid"),
    (5139, (SHARE,), ROW, "can't accept a code you shared yourself"),
    (5146, BOTH, FATAL, "wrong credentials with attempts left"),
    (5148, BOTH, FATAL, "IP frozen 20 min"),
    (5353, BOTH, FATAL, "password decryption failed"),
    (4242, BOTH, ROW, "anything else: undocumented"),
    (0, BOTH, ROW, "the docs' placeholder 0 is not success"),
]


def _share_cases(table: list[tuple[int, tuple[str, ...], ErrorClass, str]]) -> list[object]:
    return [
        pytest.param(code, expected, id=f"{code}-{meaning}")
        for code, contexts, expected, meaning in table
        if SHARE in contexts
    ]


@pytest.mark.parametrize(("code", "expected"), _share_cases(SECTION_5_1))
def test_classify_code_follows_the_endpoint_table(code: int, expected: ErrorClass) -> None:
    assert classify_code(code) is expected


@pytest.mark.parametrize(("code", "expected"), _share_cases(SECTION_5_2))
def test_classify_code_follows_the_global_error_list(code: int, expected: ErrorClass) -> None:
    assert classify_code(code) is expected


def test_a_share_answering_email_not_registered_is_a_row_problem() -> None:
    assert classify_code(5031) is ROW


def test_describe_code_adds_the_meaning_of_a_known_code() -> None:
    assert describe_code(5360) == "5360 (device binding not verified, cannot be shared)"


def test_describe_code_gives_just_the_number_of_an_unknown_code() -> None:
    assert describe_code(4242) == "4242"


def test_describe_code_of_no_code_is_empty() -> None:
    assert describe_code(None) == ""


@pytest.mark.parametrize("code", sorted(CODE_MEANINGS))
def test_describe_code_starts_with_the_number_for_every_listed_code(code: int) -> None:
    text = describe_code(code)
    assert text.startswith(f"{code} (")
    assert text.endswith(")")


def test_an_input_file_error_is_a_usage_error_that_names_its_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    error = InputFileError(path, "the file is empty")
    assert isinstance(error, UsageError)
    assert (error.path, error.problem, str(error)) == (path, "the file is empty", f"{path}: the file is empty")


def test_a_refused_login_has_its_own_exit_code() -> None:
    assert ExitCode.REFUSED not in (ExitCode.ABORTED, ExitCode.USAGE, ExitCode.ROWS_FAILED, ExitCode.LOCKED)


def test_every_code_with_a_meaning_has_a_line_of_advice_and_others_get_a_default() -> None:
    from runner.platform.codes import CODE_ADVICE, advise_code

    assert {str(code) for code in CODE_MEANINGS} <= set(CODE_ADVICE)
    assert "transport" in CODE_ADVICE
    assert all(len(line) < 240 and line.endswith(".") for line in CODE_ADVICE.values())
    assert "verified" in advise_code("5360")
    assert "ask support" in advise_code("5999")
