"""The account column: which of the job's owner accounts sends a row (issue 24).

A name must be one the job declares (`[accounts.NAME]` or `--account NAME=TOKEN_FILE`), compared
without regard to case or surrounding spaces; an empty cell means the default credentials.
"""

from __future__ import annotations

from collections.abc import Collection


def account_of(cell: str, known: Collection[str]) -> tuple[str | None, str | None]:
    """(the account's declared name or None for the default credentials, a problem or None)."""
    wanted = cell.strip()
    if not wanted:
        return None, None
    by_key = {name.casefold(): name for name in known}
    found = by_key.get(wanted.casefold())
    if found is not None:
        return found, None
    if not known:
        return None, (f'account "{wanted}": this job declares no accounts; add [accounts.{wanted}] with its '
                      f"token_file to the job file (or --account {wanted}=TOKEN_FILE), or empty the cell to use "
                      "the default token")
    return None, (f'account "{wanted}" is not one of this job\'s accounts ({", ".join(sorted(known))}); fix the '
                  f"cell, or add [accounts.{wanted}] to the job file (or --account {wanted}=TOKEN_FILE)")
