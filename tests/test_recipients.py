"""Recipient kind detection, normalisation and the checks that make a row invalid."""

from __future__ import annotations

import pytest

from runner.errors import RecipientError
from runner.input.recipients import (
    Recipient,
    detect_kind,
    kind_from_header,
    looks_mangled_number,
    normalise_phone,
    parse_kind,
    parse_recipient,
)
from runner.models import RecipientKind

UID, EMAIL, PHONE = RecipientKind.UID, RecipientKind.EMAIL, RecipientKind.PHONE


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        ("bob@example.com", EMAIL),
        ("+8613800138000", PHONE),
        ("13800138000", PHONE),
        ("138 0013 8000", PHONE),
        ("(021) 555-0100", PHONE),
        ("021.555.0100", PHONE),
        ("U1234567890", UID),
        ("12345", UID),  # too short to be a phone
        ("FAM1234567", UID),
        ("user-42", UID),
    ],
)
def test_the_kind_is_guessed_from_the_value(cell: str, kind: RecipientKind) -> None:
    assert detect_kind(cell) is kind
    assert parse_recipient(cell).kind is kind


@pytest.mark.parametrize(
    ("cell", "sent"),
    [
        ("+86 138-0013-8000", "+8613800138000"),
        ("(021) 555.0100", "0215550100"),
        ("13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),  # full-width digits from an input method
    ],
)
def test_phone_separators_are_removed_and_a_leading_plus_kept(cell: str, sent: str) -> None:
    assert parse_recipient(cell) == Recipient(PHONE, sent)
    assert normalise_phone(cell) == sent


def test_an_email_is_sent_as_written_but_compared_case_insensitively() -> None:
    first, second = parse_recipient(" Ops@Example.com "), parse_recipient("ops@example.COM")
    assert first.value == "Ops@Example.com"
    assert first.key == second.key


def test_phones_written_differently_share_one_key() -> None:
    assert parse_recipient("+86 138 0013 8000").key == parse_recipient("+86-138-0013-8000").key


def test_the_same_text_as_a_different_kind_is_a_different_recipient() -> None:
    as_uid = parse_recipient("13800138000", UID)
    as_phone = parse_recipient("13800138000")
    assert as_uid.kind is UID
    assert as_uid.key != as_phone.key


@pytest.mark.parametrize("cell", ["1.38001E+10", "1.38E+10", "1E+10", "8.6138E+12", "1.38001e+10"])
def test_a_number_in_scientific_notation_is_reported_as_mangled(cell: str) -> None:
    with pytest.raises(RecipientError) as caught:
        parse_recipient(cell)
    assert "scientific notation" in str(caught.value)
    assert "format the column as text" in str(caught.value)


@pytest.mark.parametrize("cell", ["12e45", "U1E+10", "abcE+10"])
def test_ids_that_merely_contain_an_e_are_not_mangled_numbers(cell: str) -> None:
    assert not looks_mangled_number(cell)


@pytest.mark.parametrize("cell", ["", "   "])
def test_an_empty_recipient_is_invalid(cell: str) -> None:
    with pytest.raises(RecipientError, match="recipient is empty"):
        parse_recipient(cell)


@pytest.mark.parametrize("cell", ["ops@@example.com", "@example.com", "ops@", "ops team@example.com", "a@b@c"])
def test_an_email_must_have_one_at_with_text_on_both_sides_and_no_spaces(cell: str) -> None:
    with pytest.raises(RecipientError, match="is not a valid email address"):
        parse_recipient(cell)


@pytest.mark.parametrize(("text", "kind"), [("uid", UID), ("Email", EMAIL), (" PHONE ", PHONE)])
def test_a_recipient_type_is_read_in_any_case(text: str, kind: RecipientKind) -> None:
    assert parse_kind(text) is kind


def test_an_unknown_recipient_type_is_invalid() -> None:
    with pytest.raises(RecipientError) as caught:
        parse_kind("fax")
    assert str(caught.value) == 'recipient_type "fax" is not one of uid, email, phone'


def test_an_email_type_without_an_at_is_inconsistent() -> None:
    with pytest.raises(RecipientError) as caught:
        parse_recipient("U123", EMAIL, "recipient_type is email")
    assert str(caught.value) == 'recipient "U123" is not an email address (recipient_type is email)'


def test_a_phone_type_with_letters_is_inconsistent() -> None:
    with pytest.raises(RecipientError, match=r'"U123" is not a phone number \(recipient_type is phone\)'):
        parse_recipient("U123", PHONE, "recipient_type is phone")


def test_a_uid_type_keeps_a_numeric_value_as_a_user_id() -> None:
    assert parse_recipient(" 13800138000 ", UID) == Recipient(UID, "13800138000")


def test_a_phone_with_too_few_digits_is_invalid() -> None:
    with pytest.raises(RecipientError, match="too few digits"):
        parse_recipient("(1) 2-3 ")


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("email", EMAIL),
        ("phone", PHONE),
        ("uid", UID),
        ("shareuid", UID),
        ("recipient", None),
        ("user", None),  # the value decides
        ("customeremail", EMAIL),
        ("emailaddress", EMAIL),
        ("phonenumber", PHONE),
        ("mobile", PHONE),
        ("userid", UID),
    ],
)
def test_a_recipient_column_named_for_one_kind_implies_it(header: str, kind: RecipientKind | None) -> None:
    assert kind_from_header(header) is kind
