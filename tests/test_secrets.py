"""Secret, redact and bearer_header: a credential never shows up where a person can read it."""

from __future__ import annotations

import pytest

from runner.redact import Secret, bearer_header, redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJDMTMxMzYyIiwidHlwZSI6IkFjY2Vzc1Rva2VuIn0.c2lnbmF0dXJlX3BhcnQtMTIz"


def test_secret_masks_str_and_repr() -> None:
    secret = Secret(f"Bearer {JWT}")
    assert str(secret) == "***"
    assert repr(secret) == "Secret(***)"
    assert JWT not in f"{secret} {secret!r} {[secret]}"


def test_secret_reveals_its_value_on_request() -> None:
    assert Secret("Bearer abc").reveal() == "Bearer abc"


def test_secrets_compare_by_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert len({Secret("a"), Secret("a")}) == 1


def test_redact_masks_a_bare_jwt() -> None:
    assert redact(f"sending token={JWT} now") == "sending token=*** now"


def test_redact_masks_a_jwt_with_its_bearer_prefix() -> None:
    redacted = redact(f"Authorization: Bearer {JWT}")
    assert redacted == "Authorization: ***"
    assert "eyJ" not in redacted


def test_redact_leaves_ordinary_text_alone() -> None:
    line = "row 14: shared p1/d1 with ops@example.org (code 5360)"
    assert redact(line) == line


@pytest.mark.parametrize(
    "given",
    [JWT, f"Bearer {JWT}", f"bearer {JWT}", f"  Bearer   {JWT}  ", f"BEARER {JWT}"],
    ids=["bare", "prefixed", "lowercase-prefix", "padded", "uppercase-prefix"],
)
def test_bearer_header_has_exactly_one_bearer_prefix(given: str) -> None:
    assert bearer_header(given) == f"Bearer {JWT}"


def test_every_secret_made_is_masked_by_value_whatever_its_shape() -> None:
    Secret("Bearer opaque-9f3Kq")
    Secret("pass word&=\"<x>")
    assert redact("a Bearer opaque-9f3Kq b") == "a *** b"
    assert redact("bare opaque-9f3Kq") == "bare ***"
    assert redact("query pwd=pass%20word%26%3D%22%3Cx%3E") == "query pwd=***"
    assert redact('json "pass word&=\\"<x>"') == 'json "***"'
    assert redact("html pass word&amp;=&quot;&lt;x&gt;") == "html ***"


def test_short_values_are_not_masked_everywhere() -> None:
    Secret("abc")
    assert redact("abc def") == "abc def"


def test_credentials_in_a_url_are_masked() -> None:
    assert redact("GET https://ops:s3cret@host.example/x?a=b@c") == "GET https://***@host.example/x?a=b@c"
    assert redact("mail ops@example.org") == "mail ops@example.org"
