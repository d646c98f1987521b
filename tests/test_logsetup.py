"""The log filter: the last line of defence against secrets and recipients' contacts in logs."""

from __future__ import annotations

import logging

import pytest

from runner.outputs.logsetup import RedactingFilter
from runner.redact import mask_contacts

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOiJDMTIzIn0.c2lnbmF0dXJlX2J5dGVz"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sent to alice.smith@example.com", "sent to a***@example.com"),
        ("phone +8613800138000 failed", "phone ***000 failed"),
        ("phone 138-0013-8000 failed", "phone ***000 failed"),
        ("code 5134 after 3 attempts", "code 5134 after 3 attempts"),
        ("at 2026-11-25T20:41:22Z", "at 2026-11-25T20:41:22Z"),
    ],
)
def test_mask_contacts_hides_emails_and_phones_but_not_codes_or_times(line: str, expected: str) -> None:
    assert mask_contacts(line) == expected


def test_the_filter_masks_tokens_and_contacts_in_formatted_messages() -> None:
    record = logging.LogRecord("runner", logging.INFO, __file__, 1, "header %s for %s", (f"Bearer {JWT}",
                               "bob@example.org"), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "header *** for b***@example.org"
