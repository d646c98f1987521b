"""A ShareRequest's identity comes from one declaration (its fields and their `Wire` metadata).

The journal form, the fingerprint, the query parameters and the settings that name the batch all
derive from it: a field added there changes every form, and journals written before still read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import field, make_dataclass

import pytest

from runner.batches.jobspec import JobSpec, load_job_spec
from runner.batches.sharerows import share_batch_settings
from runner.models import RecipientKind, ShareRequest, Wire
from runner.platform.client import RECIPIENT_PARAMS, share_params

REQUEST = ShareRequest("p1", "D1", RecipientKind.EMAIL, "ops@example.com", 1_924_992_000_000, 2, "AK")


def test_the_forms_are_byte_identical_to_the_hand_written_ones() -> None:
    """What journals and batches named before this change hold: the same json, digest and query string."""
    assert REQUEST.to_json() == json.dumps(["p1", "D1", "email", "ops@example.com", 1_924_992_000_000, 2, "AK"])
    parts = ["p1", "D1", "email", "ops@example.com", "1924992000000", "2", "AK"]
    assert REQUEST.fingerprint() == hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    assert list(share_params(REQUEST).items()) == [("pk", "p1"), ("dk", "D1"), ("email", "ops@example.com"),
                                                   ("sharingExpireAt", "1924992000000"), ("coverMark", "2"),
                                                   ("authKey", "AK")]
    permanent = ShareRequest("p1", "D1", RecipientKind.UID, "C2", None)
    assert share_params(permanent) == {"pk": "p1", "dk": "D1", "shareUid": "C2", "coverMark": "1"}
    assert permanent.fingerprint() == hashlib.sha256("\x1f".join(["p1", "D1", "uid", "C2", "", "1", ""]).encode()
                                                     ).hexdigest()[:32]


@pytest.mark.parametrize("request_", [REQUEST, ShareRequest("p", "d", RecipientKind.PHONE, "+86138", None)])
def test_the_journal_form_reads_back(request_: ShareRequest) -> None:
    assert ShareRequest.from_json(request_.to_json()) == request_


def _wider(added_later: bool) -> type[ShareRequest]:
    wire = Wire("shareRole", setting="share_role", added_later=added_later)
    made = make_dataclass("WiderRequest", [("share_role", str, field(default="viewer", metadata={"wire": wire}))],
                          bases=(ShareRequest,), frozen=True)
    return made  # type: ignore[no-any-return]


def _as_wider(cls: type[ShareRequest], role: str) -> ShareRequest:
    return cls(REQUEST.pk, REQUEST.dk, REQUEST.recipient_kind, REQUEST.recipient,  # type: ignore[call-arg]
               REQUEST.expire_at_ms, REQUEST.cover_mark, REQUEST.auth_key, share_role=role)


@pytest.mark.parametrize("added_later", [False, True])
def test_a_new_field_changes_every_derived_form(added_later: bool) -> None:
    wider = _wider(added_later)
    one, other = _as_wider(wider, "admin"), _as_wider(wider, "guest")
    assert one.to_json() != other.to_json() != REQUEST.to_json()
    assert len({one.fingerprint(), other.fingerprint(), REQUEST.fingerprint()}) == 3
    assert one.query_params(RECIPIENT_PARAMS)["shareRole"] == "admin"
    assert wider.from_json(one.to_json()) == one
    spec_type = make_dataclass("WiderSpec", [("share_role", str, field(default="viewer"))], bases=(JobSpec,),
                               frozen=True)
    spec = spec_type(**{**vars(load_job_spec(None, {"input": "in.csv", "out": "out"})), "share_role": "admin"})
    settings = share_batch_settings(spec, wider)
    assert settings["share_role"] == "admin"
    assert "share_role" not in share_batch_settings(spec)


def test_a_field_added_later_leaves_old_journals_and_fingerprints_alone() -> None:
    """At its default a later field adds nothing: a batch journaled before resumes as the same requests."""
    wider = _wider(added_later=True)
    at_default = _as_wider(wider, "viewer")
    assert at_default.to_json() == REQUEST.to_json()
    assert at_default.fingerprint() == REQUEST.fingerprint()
    assert wider.from_json(REQUEST.to_json()) == at_default  # an old journal's entry, read by the new code


def test_a_field_without_wire_metadata_is_refused() -> None:
    bare = make_dataclass("BareRequest", [("extra", str, field(default=""))], bases=(ShareRequest,), frozen=True)
    with pytest.raises(TypeError, match="declares no Wire metadata"):
        bare("p", "d", RecipientKind.UID, "C1", None).fingerprint()
