"""Find the canonical columns (pk, dk, recipient, ...) among a spreadsheet's headers.

People name columns every which way (`Device Key`, `deviceKey`, `device_key`), so headers are
compared with case, spaces, dashes and underscores ignored, against a list of aliases. A job file
can name a header explicitly; that always wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runner.errors import ColumnError

#: every column the loader understands, in the order messages list them
CANONICAL_COLUMNS = ("pk", "dk", "recipient", "expiry", "recipient_type", "cover_mark", "auth_key", "in_doubt_since")
#: a file without one of these cannot be used at all
REQUIRED_COLUMNS = ("pk", "dk", "recipient")

_ALIASES: dict[str, tuple[str, ...]] = {
    "pk": ("pk", "product key", "productKey", "product_key"),
    "dk": ("dk", "device key", "deviceKey", "device_key"),
    "recipient": ("recipient", "uid", "user", "email", "phone", "share_uid", "shareUid"),
    "expiry": ("expiry", "expires", "expire_at", "sharingExpireAt", "expires_at", "expire"),
    "recipient_type": ("recipient_type", "recipient type", "type"),
    "cover_mark": ("cover_mark", "coverMark", "cover mark"),
    "auth_key": ("auth_key", "authKey"),
    # written by sharebatch into a failed-rows file: an earlier attempt at the row may have been applied
    "in_doubt_since": ("in_doubt_since",),
}


def normalise_header(header: str) -> str:
    """The comparison form of a header: `Device-Key ` -> `devicekey`."""
    return "".join(ch for ch in header.strip().lower() if ch not in " \t-_")


_CANONICAL_BY_ALIAS: dict[str, str] = {
    normalise_header(alias): canonical for canonical, aliases in _ALIASES.items() for alias in aliases
}


def canonical_name(header: str) -> str | None:
    """The canonical column a header stands for by its name alone, or None for an extra column."""
    return _CANONICAL_BY_ALIAS.get(normalise_header(header))


def match_columns(headers: Sequence[str], explicit: Mapping[str, str] | None = None) -> dict[str, int]:
    """Map each canonical column found to its index in `headers`.

    `explicit` maps canonical names to header text (from the job file) and wins over aliases; a
    header it does not claim is matched by alias. Raises ColumnError for an unknown canonical name,
    an explicit header that is absent, two headers claiming one column, or a missing required one.

    >>> match_columns(["Product Key", "deviceKey", "email", "note"])
    {'pk': 0, 'dk': 1, 'recipient': 2}
    """
    found = _match_explicit(headers, explicit or {})
    claimed = set(found.values())
    by_alias: dict[str, int] = {}
    for index, header in enumerate(headers):
        canonical = canonical_name(header)
        if canonical is None or canonical in found or index in claimed:
            continue
        if canonical in by_alias:
            first = headers[by_alias[canonical]]
            raise ColumnError(
                f'columns "{first}" and "{header}" both look like the {canonical} column; '
                f"remove one, or name the right one in the job file's [columns] table"
            )
        by_alias[canonical] = index
    found.update(by_alias)
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    if missing:
        names = ", ".join(f'"{name}"' for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ColumnError(f"missing required column{plural} {names} (found headers: {', '.join(headers)})")
    return {name: found[name] for name in CANONICAL_COLUMNS if name in found}


def _match_explicit(headers: Sequence[str], explicit: Mapping[str, str]) -> dict[str, int]:
    """Resolve the job file's mapping: exact header text first, then the normalised form."""
    found: dict[str, int] = {}
    for canonical, wanted in explicit.items():
        if canonical not in CANONICAL_COLUMNS:
            raise ColumnError(
                f'unknown column name "{canonical}" in the column mapping (known: {", ".join(CANONICAL_COLUMNS)})'
            )
        index = _find_header(headers, wanted)
        if index is None:
            raise ColumnError(
                f'the column mapping says {canonical} = "{wanted}", but there is no such header '
                f"(found headers: {', '.join(headers)})"
            )
        if index in found.values():
            raise ColumnError(f'the column mapping names header "{wanted}" for two columns')
        found[canonical] = index
    return found


def _find_header(headers: Sequence[str], wanted: str) -> int | None:
    stripped = [header.strip() for header in headers]
    if wanted.strip() in stripped:
        return stripped.index(wanted.strip())
    normalised = [normalise_header(header) for header in headers]
    key = normalise_header(wanted)
    return normalised.index(key) if key and key in normalised else None
