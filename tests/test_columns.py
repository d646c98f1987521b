"""Header matching: aliases, loose comparison, the job file's explicit mapping, and conflicts."""

from __future__ import annotations

import pytest

from runner.errors import ColumnError
from runner.input.columns import canonical_name, date_header_message, match_columns, unmapped_date_headers


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("pk", "pk"),
        ("product key", "pk"),
        ("productKey", "pk"),
        ("product_key", "pk"),
        ("dk", "dk"),
        ("device key", "dk"),
        ("deviceKey", "dk"),
        ("device_key", "dk"),
        ("recipient", "recipient"),
        ("uid", "recipient"),
        ("user", "recipient"),
        ("email", "recipient"),
        ("phone", "recipient"),
        ("share_uid", "recipient"),
        ("shareUid", "recipient"),
        ("expiry", "expiry"),
        ("expires", "expiry"),
        ("expire_at", "expiry"),
        ("sharingExpireAt", "expiry"),
        ("expires_at", "expiry"),
        ("expire", "expiry"),
        ("recipient type", "recipient_type"),
        ("Recipient Kind", "recipient_type"),
        ("type", None),  # a device type as often as a recipient type: never taken by itself
        ("Date", None),
        ("Name", None),
        ("IMEI", "dk"),
        ("Device ID", "dk"),
        ("Serial Number", "dk"),
        ("Serial No.", "dk"),
        ("Mobile", "recipient"),
        ("Phone Number", "recipient"),
        ("E-mail", "recipient"),
        ("Email Address", "recipient"),
        ("customer_email", "recipient"),
        ("Customer Phone Number", "recipient"),
        ("Valid until", "expiry"),
        ("Expiry Date", "expiry"),
        ("End Date", "expiry"),
        ("Expiration", "expiry"),
        ("coverMark", "cover_mark"),
        ("cover mark", "cover_mark"),
        ("authKey", "auth_key"),
        ("note", None),
        ("", None),
    ],
)
def test_each_alias_names_its_canonical_column(header: str, canonical: str | None) -> None:
    assert canonical_name(header) == canonical


@pytest.mark.parametrize("header", ["Product Key", "PRODUCT-KEY", " product__key ", "Product_Key", "PRODUCTKEY"])
def test_headers_match_ignoring_case_spaces_dashes_and_underscores(header: str) -> None:
    assert canonical_name(header) == "pk"


def test_required_and_optional_columns_are_found_and_extras_left_out() -> None:
    headers = ["note", "Product Key", "deviceKey", "Email", "Expires At", "Recipient Type", "Cover Mark", "authKey"]
    assert match_columns(headers) == {
        "pk": 1,
        "dk": 2,
        "recipient": 3,
        "expiry": 4,
        "recipient_type": 5,
        "cover_mark": 6,
        "auth_key": 7,
    }


def test_the_explicit_mapping_wins_over_aliases() -> None:
    headers = ["pk", "dk", "email", "Empfänger"]
    assert match_columns(headers, {"recipient": "Empfänger"}) == {"pk": 0, "dk": 1, "recipient": 3}


def test_the_explicit_mapping_compares_header_text_loosely_too() -> None:
    assert match_columns(["PK", "Device Key", "x"], {"dk": "device_key", "recipient": "x"})["dk"] == 1


def test_a_mapping_to_a_header_that_does_not_exist_is_an_error() -> None:
    with pytest.raises(ColumnError) as caught:
        match_columns(["pk", "dk", "uid"], {"recipient": "Empfänger"})
    assert 'recipient = "Empfänger", but there is no such header' in str(caught.value)
    assert "(found headers: pk, dk, uid)" in str(caught.value)


def test_a_mapping_for_an_unknown_column_name_is_an_error() -> None:
    with pytest.raises(ColumnError, match='unknown column name "colour"'):
        match_columns(["pk", "dk", "uid"], {"colour": "pk"})


def test_a_mapping_that_names_one_header_twice_is_an_error() -> None:
    with pytest.raises(ColumnError, match='names header "x" for two columns'):
        match_columns(["pk", "dk", "x"], {"recipient": "x", "auth_key": "x"})


def test_two_headers_for_one_column_are_an_error() -> None:
    with pytest.raises(ColumnError) as caught:
        match_columns(["pk", "dk", "device_key", "uid"])
    assert 'columns "dk" and "device_key" both look like the dk column' in str(caught.value)


def test_a_missing_required_column_lists_the_headers_found() -> None:
    with pytest.raises(ColumnError) as caught:
        match_columns(["pk", "uid", "note"])
    assert str(caught.value) == (
        'missing required column "dk" (found headers: pk, uid, note); '
        "name the header that holds it with --map dk=HEADER"
    )


def test_several_missing_columns_are_named_together() -> None:
    with pytest.raises(ColumnError, match='missing required columns "pk", "dk"'):
        match_columns(["uid"])


def test_ignored_headers_are_never_matched_and_must_exist() -> None:
    assert match_columns(["pk", "dk", "uid", "Email"], ignored=["Email"]) == {"pk": 0, "dk": 1, "recipient": 2}
    with pytest.raises(ColumnError, match='--ignore-column "Fax": there is no such header'):
        match_columns(["pk", "dk", "uid"], ignored=["Fax"])


def test_a_header_both_mapped_and_ignored_is_an_error() -> None:
    with pytest.raises(ColumnError, match="both mapped to recipient and ignored"):
        match_columns(["pk", "dk", "Kunde"], {"recipient": "Kunde"}, ignored=["Kunde"])


@pytest.mark.parametrize("header", ["Ablaufdatum", "Date", "Gültig bis", "Expiry-Date ", "startDate", "Freigabe Ende"])
def test_a_date_like_header_feeding_no_column_is_reported(header: str) -> None:
    headers = ["pk", "dk", "uid", header]
    assert unmapped_date_headers(headers, match_columns(headers), ()) == ([header] if "Expiry" not in header else [])


@pytest.mark.parametrize("header", ["note", "Type", "Name", "Vendor", "Legend", "Candidate", "Validated by"])
def test_ordinary_headers_are_not_taken_for_dates(header: str) -> None:
    headers = ["pk", "dk", "uid", header]
    assert unmapped_date_headers(headers, match_columns(headers), ()) == []


def test_date_headers_do_not_matter_once_an_expiry_is_mapped_or_they_are_ignored() -> None:
    headers = ["pk", "dk", "uid", "Valid until", "Created date"]
    assert unmapped_date_headers(headers, match_columns(headers), ()) == []
    headers = ["pk", "dk", "uid", "Datum"]
    assert unmapped_date_headers(headers, match_columns(headers, ignored=["Datum"]), ["Datum"]) == []


def test_the_date_message_names_the_header_and_both_options() -> None:
    assert date_header_message(["Valid thru"]) == (
        'column "Valid thru" looks like an expiry date but no column is mapped to expiry, so every share would be '
        'permanent; if it holds the expiry, pass --map expiry="Valid thru" (job file: [columns] expiry = '
        '"Valid thru"); if not, pass --ignore-column "Valid thru"'
    )
