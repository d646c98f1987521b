"""The journal on a real SQLite file: states, resume, in-doubt rows, reopening."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from runner.engine.journal import JOURNAL_NAME, Journal
from runner.engine.records import JournalEntry
from runner.models import RecipientKind, RowOutcome, RowStatus, ShareRequest
from runner.redact import redact


def request(index: int) -> ShareRequest:
    return ShareRequest("p1", f"00D{index}", RecipientKind.UID, f"U{index}", 1_900_000_000_000, 2)


def entry(row: int, index: int | None = None) -> JournalEntry:
    req = request(row if index is None else index)
    return JournalEntry(row, req.fingerprint(), req.to_json())


def state_on_disk(out: Path, row: int) -> tuple[str, int | None]:
    """Read with a second connection: what a crash would leave behind (state, in doubt since)."""
    with sqlite3.connect(out / JOURNAL_NAME) as other:
        found = other.execute("SELECT state, doubt_ms FROM rows WHERE row = ?", (row,)).fetchone()
    return found[0], found[1]


def test_rows_to_send_come_back_in_row_order_as_the_same_requests(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    counts = journal.sync_rows([entry(2), entry(3), JournalEntry(4, None, None, RowOutcome(4, RowStatus.INVALID,
                                                                                           message="bad"))])
    work = list(journal.iter_work(ShareRequest.from_json, chunk_rows=1))
    journal.close()
    assert (counts.total, counts.to_send, counts.already_done) == (3, 2, 0)
    assert [(item.row, item.payload) for item in work] == [(2, request(2)), (3, request(3))]


async def test_in_flight_is_on_disk_before_the_request_leaves(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2)])
    await journal.attempt_started(2, 1234)
    assert state_on_disk(tmp_path, 2) == ("in_flight", 1234)
    journal.close()


async def test_outcomes_are_buffered_then_flushed_and_survive_reopening(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2), entry(3)])
    await journal.attempt_started(2, 1000)
    journal.row_finished(RowOutcome(2, RowStatus.SUCCESS, code=200, share_code="S2", attempts=1))
    journal.close()
    reopened = Journal.open(tmp_path, scrub=redact)
    assert reopened.counts() == {"success": 1, "pending": 1}
    counts = reopened.sync_rows([entry(2), entry(3)])
    assert [item.row for item in reopened.iter_work(ShareRequest.from_json)] == [3]
    reopened.close()
    assert (counts.to_send, counts.already_done) == (1, 1)


async def test_a_row_left_in_flight_is_handed_out_with_its_start_time_for_reconciliation(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2)])
    await journal.attempt_started(2, 5000)
    journal.close()  # the process "died" here
    resumed = Journal.open(tmp_path, scrub=redact)
    resumed.sync_rows([entry(2)])
    [item] = list(resumed.iter_work(ShareRequest.from_json))
    resumed.close()
    assert item.in_doubt_since_ms == 5000


async def test_a_retry_keeps_the_earliest_start_of_an_attempt_still_in_doubt(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2)])
    await journal.attempt_started(2, 1000)
    await journal.attempt_started(2, 2000)
    assert state_on_disk(tmp_path, 2) == ("in_flight", 1000)
    journal.row_finished(RowOutcome(2, RowStatus.FAILED, message="lost", in_doubt_since_ms=1000))
    journal.flush()
    assert state_on_disk(tmp_path, 2) == ("failed", 1000)
    [outcome] = list(journal.iter_outcomes())
    [work] = list(journal.iter_work(str))
    journal.close()
    assert (outcome.status, outcome.message, outcome.in_doubt_since_ms, outcome.attempts) == (
        RowStatus.FAILED, "lost", 1000, 2)
    assert work.in_doubt_since_ms == 1000


async def test_a_definite_outcome_clears_the_doubt_an_in_flight_commit_set(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2), entry(3)])
    await journal.attempt_started(2, 1000)
    await journal.attempt_started(3, 1000)
    assert state_on_disk(tmp_path, 2) == ("in_flight", 1000)
    journal.row_finished(RowOutcome(2, RowStatus.FAILED, code=5360, message="unverified"))
    journal.row_finished(RowOutcome(3, RowStatus.SUCCESS, code=200, share_code="S3"))
    journal.close()
    assert state_on_disk(tmp_path, 2) == ("failed", None)
    assert state_on_disk(tmp_path, 3) == ("success", None)


def test_doubt_from_a_fed_back_file_reaches_the_engine(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([JournalEntry(2, "fp-2", "payload-2", in_doubt_since_ms=777)])
    [work] = list(journal.iter_work(str))
    journal.close()
    assert (work.row, work.in_doubt_since_ms) == (2, 777)


def test_a_journal_written_before_doubt_ms_keeps_its_in_flight_rows_in_doubt(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / JOURNAL_NAME) as old:
        old.executescript(
            "CREATE TABLE rows (row INTEGER PRIMARY KEY, fingerprint TEXT, state TEXT NOT NULL, payload TEXT, "
            "started_ms INTEGER, code INTEGER, message TEXT NOT NULL DEFAULT '', share_code TEXT, "
            "attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER, latency_ms INTEGER, finished_at TEXT);"
            "INSERT INTO rows (row, fingerprint, state, payload, started_ms) VALUES (2, 'f', 'in_flight', 'p', 4242);"
        )
    journal = Journal.open(tmp_path, scrub=redact)
    [work] = list(journal.iter_work(str))
    journal.close()
    assert work.in_doubt_since_ms == 4242


def test_a_row_s_note_is_journaled_for_its_report_line_and_follows_the_latest_read(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    noted = JournalEntry(2, request(2).fingerprint(), request(2).to_json(), note="read from a number cell")
    journal.sync_rows([noted, entry(3)])
    journal.row_finished(RowOutcome(2, RowStatus.SUCCESS, code=200, share_code="S2", finished_at="t"))
    assert [(o.row, note) for o, _, note in journal.iter_journaled()] == [(2, "read from a number cell"), (3, "")]
    journal.sync_rows([entry(2), entry(3)])  # the same requests, the cell now text: no note
    assert [note for _, _, note in journal.iter_journaled()] == ["", ""]
    journal.close()


def test_a_request_that_succeeded_is_not_sent_again_when_its_row_moves(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2, index=7)])
    journal.row_finished(RowOutcome(2, RowStatus.SUCCESS, code=200, share_code="S7", finished_at="t"))
    # a row was inserted above it in the spreadsheet: the same request is now row 3
    counts = journal.sync_rows([entry(2, index=8), entry(3, index=7)])
    outcomes = {o.row: o for o in journal.iter_outcomes()}
    journal.close()
    assert counts.to_send == 1
    assert outcomes[3].status is RowStatus.SUCCESS
    assert outcomes[3].share_code == "S7"
    assert "earlier run" in outcomes[3].message


def test_a_changed_request_in_the_same_row_is_sent_again(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2, index=1)])
    journal.row_finished(RowOutcome(2, RowStatus.FAILED, code=5134, message="x"))
    counts = journal.sync_rows([entry(2, index=9)])
    [item] = list(journal.iter_work(ShareRequest.from_json))
    journal.close()
    assert counts.to_send == 1
    assert item.payload == request(9)


async def test_report_statuses_and_failed_codes_come_from_the_journal(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2), entry(3), entry(4)])
    journal.row_finished(RowOutcome(2, RowStatus.FAILED, code=5360, message="unverified"))
    await journal.attempt_started(3, 10)
    outcomes = [o.status for o in journal.iter_outcomes()]
    by_code = journal.failed_by_code()
    journal.close()
    assert outcomes == [RowStatus.FAILED, RowStatus.UNKNOWN, RowStatus.NOT_ATTEMPTED]
    assert by_code == {"5360": 1}


def test_relative_expiries_keep_the_first_start_as_their_anchor(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    first = journal.anchor_ms(1000)
    journal.close()
    again = Journal.open(tmp_path, scrub=redact)
    second = again.anchor_ms(99999)
    again.close()
    assert (first, second) == (1000, 1000)


async def test_rows_starting_in_the_same_loop_turn_share_one_commit(tmp_path: Path) -> None:
    import asyncio

    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(row) for row in range(2, 12)])
    commits = 0
    real_flush = journal._flush

    def counting_flush(extra: object) -> None:
        nonlocal commits
        commits += extra is not None
        real_flush(extra)  # type: ignore[arg-type]

    journal._flush = counting_flush  # type: ignore[method-assign]
    await asyncio.gather(*(journal.attempt_started(row, 100 + row) for row in range(2, 12)))
    states = [state_on_disk(tmp_path, row) for row in range(2, 12)]
    journal.close()
    assert commits == 1
    assert states == [("in_flight", 100 + row) for row in range(2, 12)]


def test_a_journal_of_an_older_version_saying_already_invalid_reads_as_already_ended(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2), entry(3)])
    journal.row_finished(RowOutcome(2, RowStatus.ALREADY_ENDED, code=5142, share_code="S2", finished_at="t"))
    journal.close()
    with sqlite3.connect(tmp_path / JOURNAL_NAME) as older:  # what an older version left on disk
        older.execute("UPDATE rows SET state = 'already_invalid' WHERE row = 2")
        older.execute("UPDATE applied SET state = 'already_invalid'")
    resumed = Journal.open(tmp_path, scrub=redact)
    counts = resumed.sync_rows([entry(2), entry(3)])
    outcomes = {o.row: o.status for o in resumed.iter_outcomes()}
    resumed.close()
    assert (counts.to_send, counts.already_done) == (1, 1)
    assert outcomes == {2: RowStatus.ALREADY_ENDED, 3: RowStatus.NOT_ATTEMPTED}


def test_the_old_name_of_already_ended_is_read_as_the_new_one() -> None:
    assert RowStatus("already_invalid") is RowStatus.ALREADY_ENDED
    assert RowStatus("already_ended") is RowStatus.ALREADY_ENDED
    assert RowStatus.ALREADY_ENDED.value == "already_ended"


def test_status_counts_an_older_journal_s_already_invalid_rows_as_already_ended(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from runner.cli import main

    journal = Journal.open(tmp_path, scrub=redact)
    journal.sync_rows([entry(2), entry(3)])
    journal.row_finished(RowOutcome(2, RowStatus.ALREADY_ENDED, code=5142, share_code="S2", finished_at="t"))
    journal.row_finished(RowOutcome(3, RowStatus.ALREADY_ENDED, code=5142, share_code="S3", finished_at="t"))
    journal.close()
    with sqlite3.connect(tmp_path / JOURNAL_NAME) as older:
        older.execute("UPDATE rows SET state = 'already_invalid' WHERE row = 2")
    result = CliRunner().invoke(main, ["status", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert re.search(r"^  already_ended +2$", result.output, re.MULTILINE), result.output
    assert "already_invalid" not in result.output


def test_every_stored_message_and_stop_reason_passes_through_the_scrub(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, scrub=lambda message: message.replace("tok-123", "***"))
    journal.sync_rows([entry(2)])
    journal.row_finished(RowOutcome(2, RowStatus.FAILED, code=5134, message="refused for tok-123"))
    journal.run_ended("2026-01-01T00:00:00Z", 3, "stopped: tok-123 expired")
    journal.close()
    with sqlite3.connect(tmp_path / JOURNAL_NAME) as raw:
        stored = [text for (text,) in raw.execute("SELECT message FROM rows UNION ALL SELECT value FROM meta")]
    assert "refused for ***" in stored
    assert "stopped: *** expired" in stored
    assert not any("tok-123" in text for text in stored)
