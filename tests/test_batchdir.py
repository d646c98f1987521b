"""The out dir's batch record: batch names, history, the input snapshot and revoke markers, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.batches.batchdir import (
    REVOKE_FINISHED_KEY,
    REVOKED_KEY,
    archive_batch,
    batch_id,
    open_batch_journal,
    take_snapshot,
)
from runner.engine.journal import Journal
from runner.engine.records import JournalEntry
from runner.errors import InputFileError, UsageError
from runner.models import RowOutcome, RowStatus
from runner.redact import redact


def journal_with_rows(out: Path, batch: str, states: dict[int, RowStatus]) -> None:
    journal = open_batch_journal(out, batch, fresh=False).journal
    journal.sync_rows([JournalEntry(row, f"fp-{row}", f"payload-{row}") for row in states], meta={"batch_id": batch})
    for row, status in states.items():
        journal.row_finished(RowOutcome(row, status, share_code=f"S{row}"))
    journal.close()


def test_the_batch_name_follows_the_bytes_and_the_settings_that_shape_requests() -> None:
    assert batch_id("abc", {"cover_mark": 1}) == batch_id("abc", {"cover_mark": 1})
    assert batch_id("abc", {"cover_mark": 1}) != batch_id("abd", {"cover_mark": 1})
    assert batch_id("abc", {"cover_mark": 1}) != batch_id("abc", {"cover_mark": 2})


def test_another_batch_moves_the_earlier_one_to_history_with_its_outputs(tmp_path: Path) -> None:
    journal_with_rows(tmp_path, "batch-one", {2: RowStatus.SUCCESS})
    (tmp_path / "report.csv").write_text("old report", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not ours", encoding="utf-8")
    opened = open_batch_journal(tmp_path, "batch-two", fresh=False)
    assert opened.journal.is_empty()
    assert opened.journal.get_meta("batch_id") is None  # named with its rows, in one transaction (sync_rows)
    opened.journal.close()
    [kept] = list((tmp_path / "history").iterdir())
    assert kept.name.endswith("-batch-one")
    assert (kept / "report.csv").read_text(encoding="utf-8") == "old report"
    assert (tmp_path / "notes.txt").exists()  # only what a run writes is moved
    assert opened.replaced is not None
    assert "1 rows, 1 shared" in opened.replaced


def test_the_same_batch_resumes_its_journal(tmp_path: Path) -> None:
    journal_with_rows(tmp_path, "batch-one", {2: RowStatus.SUCCESS})
    opened = open_batch_journal(tmp_path, "batch-one", fresh=False)
    assert opened.journal.counts() == {"success": 1}
    opened.journal.close()
    assert not (tmp_path / "history").exists()


def test_archiving_an_empty_out_dir_moves_nothing(tmp_path: Path) -> None:
    assert archive_batch(tmp_path, "x") is None
    assert list(tmp_path.iterdir()) == []


def test_a_revoked_batch_is_refused_until_its_rows_are_reshared(tmp_path: Path) -> None:
    journal_with_rows(tmp_path, "b", {2: RowStatus.SUCCESS, 3: RowStatus.SUCCESS})
    journal = Journal.open(tmp_path, scrub=redact)
    journal.set_meta(REVOKED_KEY, "2026-12-01T10:00:00Z")
    assert journal.mark_revoked(["S2"], "revoked") == 1
    journal.set_meta(REVOKE_FINISHED_KEY, "2026-12-01T10:01:00Z")
    journal.close()
    with pytest.raises(UsageError, match="revoked 1 of this batch's shares"):
        open_batch_journal(tmp_path, "b", fresh=False)
    opened = open_batch_journal(tmp_path, "b", fresh=False, reshare_revoked=True)
    assert opened.journal.counts() == {"pending": 1, "success": 1}
    assert opened.journal.get_meta(REVOKED_KEY) is None
    opened.journal.close()


def test_an_unfinished_revoke_is_refused_even_before_it_said_what_it_revoked(tmp_path: Path) -> None:
    journal_with_rows(tmp_path, "b", {2: RowStatus.SUCCESS})
    journal = Journal.open(tmp_path, scrub=redact)
    journal.set_meta(REVOKED_KEY, "2026-12-01T10:00:00Z")
    journal.close()
    with pytest.raises(UsageError, match="did not finish"):
        open_batch_journal(tmp_path, "b", fresh=False, reshare_revoked=True)


def test_a_finished_revoke_that_took_no_share_of_this_batch_lets_it_resume(tmp_path: Path) -> None:
    journal_with_rows(tmp_path, "b", {2: RowStatus.SUCCESS})
    journal = Journal.open(tmp_path, scrub=redact)
    journal.set_meta(REVOKED_KEY, "2026-12-01T10:00:00Z")
    journal.set_meta(REVOKE_FINISHED_KEY, "2026-12-01T10:01:00Z")
    journal.close()
    opened = open_batch_journal(tmp_path, "b", fresh=False)
    assert opened.journal.counts() == {"success": 1}
    opened.journal.close()


def test_the_snapshot_is_the_bytes_that_were_read(tmp_path: Path) -> None:
    source = tmp_path / "in.CSV"
    source.write_bytes(b"pk,dk,recipient\np,d,u\n")
    out = tmp_path / "out"
    snapshot = take_snapshot(source, out)
    source.write_bytes(b"something else")
    kept = snapshot.keep()
    assert kept == out / "input-as-loaded.csv"
    assert kept.read_bytes() == b"pk,dk,recipient\np,d,u\n"
    assert not snapshot.temporary.exists()


def test_a_snapshot_of_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"gone\.csv: cannot be read"):
        take_snapshot(tmp_path / "gone.csv", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
