"""The account column: which of the job's owner accounts sends a row (issue 24).

A name must be one the job declares (`[accounts.NAME]` or `--account NAME=TOKEN_FILE`), compared
without regard to case or surrounding spaces (zero-width ones too); an empty cell means the
default credentials.
"""

from __future__ import annotations

from collections.abc import Collection

from runner.input.recipients import invisible_message, strip_invisible


def account_of(cell: str, known: Collection[str]) -> tuple[str | None, str | None]:
    """(the account's declared name or None for the default credentials, a problem or None)."""
    wanted = strip_invisible(cell)  # a zero-width space pasted at an end, as the id columns drop it
    if not wanted:
        return None, None
    hidden = invisible_message("account", wanted)
    if hidden is not None:  # "acme<U+200B>x" would read as an unknown "acmex" that looks like acme
        return None, hidden
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
