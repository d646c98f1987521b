"""What an operator does about rows that ended `unknown`, in the same words on the terminal and in report.html.

An `unknown` row is the one outcome a person could act on wrongly: sending it again by hand may
create a second share. So wherever the count is shown, the meaning and the safe next step go with it.
"""

from __future__ import annotations

from pathlib import Path


def unknown_meaning(unknown: int) -> str:
    """What the `unknown` count means (a request may have been applied; nobody could tell)."""
    rows = "1 row" if unknown == 1 else f"{unknown:,} rows"
    return (f"{rows} ended unknown: the request may have been applied on the platform, and the platform could not "
            "be asked whether it was (its share list could not be read, or the run stopped first).")


def unknown_next_step(out_dir: Path | None, *, status_line: bool = True) -> str:
    """The safe next step: the resume looks each one up before anything is re-sent; never by hand."""
    step = ("Do not share them again by hand. Run the same command again: the resume looks each one up in the "
            "device's share list before anything is re-sent.")
    if not status_line:  # `sharebatch status` itself
        return step
    where = f"--out {out_dir}" if out_dir is not None else "--out with this folder"
    return f"{step} `sharebatch status {where}` shows where the batch stands meanwhile."


def unknown_guidance(unknown: int, out_dir: Path | None) -> str | None:
    """Meaning and next step in one line, or None when no row is unknown."""
    return f"{unknown_meaning(unknown)} {unknown_next_step(out_dir)}" if unknown else None
