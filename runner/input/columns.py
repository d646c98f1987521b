"""Find the canonical columns (pk, dk, recipient, ...) among a spreadsheet's headers.

People name columns every which way (`Device Key`, `deviceKey`, `IMEI`, `Phone Number`, `设备PK`,
`手机号`), so headers are compared as typed: full-width forms made plain (NFKC), invisible
characters (zero-width, no-break space, BOM) removed, case, spaces, dashes and underscores ignored,
against a list of common English and Chinese names. Generic words (`Type`, `Date`, `Name`) are
never taken for a column by themselves: a wrong guess there sends rows the person never meant. An
explicit mapping (`--map dk=IMEI`, the job file's `[columns]`) always wins; ignored headers
(`--ignore-column`) are never matched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence

from runner.errors import ColumnError, MissingColumnError

#: every column the loader understands, in the order messages list them
CANONICAL_COLUMNS = ("pk", "dk", "recipient", "expiry", "recipient_type", "cover_mark", "auth_key", "in_doubt_since",
                     "account")
#: a file without one of these cannot be used at all
REQUIRED_COLUMNS = ("pk", "dk", "recipient")

_ALIASES: dict[str, tuple[str, ...]] = {
    "pk": ("pk", "product key", "productKey", "product_key", "product id", "productId",
           "设备PK", "产品PK", "产品密钥", "产品Key", "产品标识"),
    "dk": ("dk", "device key", "deviceKey", "device_key", "device id", "deviceId", "imei", "device imei",
           "serial", "serial number", "serial no", "sn", "device serial", "device sn",
           "设备DK", "设备密钥", "设备Key", "设备标识", "设备序列号", "序列号", "设备IMEI"),
    "recipient": ("recipient", "user", "share_uid", "shareUid", "user id", "userid",
                  "uid", "recipient uid", "recipient id",
                  "email", "e-mail", "email address", "e-mail address", "mail",
                  "phone", "phone number", "phone no", "mobile", "mobile number", "mobile phone", "cell phone",
                  "telephone", "telephone number",
                  *(f"{who} {what}" for who in ("customer", "user", "recipient", "contact", "client")
                    for what in ("email", "e-mail", "email address", "phone", "phone number", "mobile")),
                  "接收人", "接收者", "被分享人", "分享对象", "手机号", "手机号码", "手机", "联系电话", "电话",
                  "邮箱", "电子邮箱", "邮箱地址", "电子邮件", "用户ID", "接收人手机号", "接收人邮箱"),
    "expiry": ("expiry", "expires", "expire_at", "sharingExpireAt", "expires_at", "expire", "expires on",
               "expiry date", "expiration", "expiration date", "expiry time", "expires at", "valid until",
               "valid till", "valid to", "end date", "share end", "share expiry", "access until",
               "到期时间", "到期日", "到期日期", "有效期至", "有效期", "截止日期", "截止时间", "过期时间", "失效时间"),
    "recipient_type": ("recipient_type", "recipient type", "recipient kind", "接收人类型"),
    "cover_mark": ("cover_mark", "coverMark", "cover mark"),
    "auth_key": ("auth_key", "authKey"),
    # written by sharebatch into a failed-rows file: an earlier attempt at the row may have been applied
    "in_doubt_since": ("in_doubt_since",),
    # the owner account that shares the row's device: a name from the job's [accounts] (or --account). Not a
    # bare "owner": sheets use it for a person's name, and every row would turn invalid as an unknown account
    "account": ("account", "owner account", "account owner", "account name", "owner_account", "sharebatch account"),
}

# Words that make a header look like a date, in English and the languages ops sheets come in.
# A header with one of these that is not mapped stops the file: it may be the expiry.
_DATE_WORDS = re.compile(
    r"(?<!candi)(?<!vali)(?<!man)date|datum|fecha|expir|\bvalid(?!at)|until|\btill\b|deadline|ablauf|g(?:ue|ü)ltig"
    r"|\bbis\b|\bend(?:s|e|ing)?\b|timestamp|\bdue\b|échéance|echeance|scadenza|vence|到期|有效|日期|期限",
    re.IGNORECASE,
)


# Characters a header may carry without anyone seeing them: format characters (zero-width space and
# joiners, BOM, bidi marks) and the spaces that do not break; all removed before comparing.
_UNSEEN = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00a0\u2007\u202f]")
# What may still look like nothing after that (fillers and blanks some fonts draw empty).
_STILL_UNSEEN = re.compile(r"[\u034f\u115f\u1160\u3164\uffa0\u2800\u061c\u17b4\u17b5]")


def normalise_header(header: str) -> str:
    """The comparison form of a header: `Device-Key ` -> `devicekey`, `ＰＫ\u200b` -> `pk`."""
    if not header.isascii():
        header = unicodedata.normalize("NFKC", _UNSEEN.sub("", header))
    return "".join(ch for ch in header.strip().lower() if ch not in " \t-_.")


def unseen_characters(headers: Sequence[str]) -> str:
    """A sentence naming the invisible characters that still keep headers from matching, or ""."""
    found = []
    for header in headers:
        hit = _STILL_UNSEEN.search(header)
        if hit is not None:
            char = hit.group()
            found.append(f'header "{header.strip()}" contains an invisible character (U+{ord(char):04X} '
                         f"{unicodedata.name(char, 'unnamed')}) at position {hit.start() + 1}")
    return ("; " + "; ".join(found) + ": retype the header") if found else ""


_CANONICAL_BY_ALIAS: dict[str, str] = {
    normalise_header(alias): canonical for canonical, aliases in _ALIASES.items() for alias in aliases
}


def canonical_name(header: str) -> str | None:
    """The canonical column a header stands for by its name alone, or None for an extra column."""
    return _CANONICAL_BY_ALIAS.get(normalise_header(header))


def map_option(canonical: str, header: str) -> str:
    """The command-line option that maps `header` to `canonical`, quoted for a shell."""
    return f"--map {canonical}={_shell_quote(header)}"


def ignore_option(header: str) -> str:
    return f"--ignore-column {_shell_quote(header)}"


def _shell_quote(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_.@-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def match_columns(
    headers: Sequence[str], explicit: Mapping[str, str] | None = None, ignored: Collection[str] = ()
) -> dict[str, int]:
    """Map each canonical column found to its index in `headers`.

    `explicit` maps canonical names to header text (--map, [columns]) and wins over aliases; a
    header it does not claim is matched by alias, unless it is in `ignored`. Raises ColumnError for
    an unknown canonical name, an explicit or ignored header that is absent, two headers claiming
    one column, or a missing required one.

    >>> match_columns(["Product Key", "IMEI", "email", "note"])
    {'pk': 0, 'dk': 1, 'recipient': 2}
    """
    skipped = _ignored_indexes(headers, ignored)
    found = _match_explicit(headers, explicit or {}, skipped)
    claimed = set(found.values()) | skipped
    by_alias: dict[str, int] = {}
    for index, header in enumerate(headers):
        canonical = canonical_name(header)
        if canonical is None or canonical in found or index in claimed:
            continue
        if canonical in by_alias:
            first = headers[by_alias[canonical]]
            raise ColumnError(
                f'columns "{first}" and "{header}" both look like the {canonical} column; '
                f"name the right one with {map_option(canonical, first)}, or keep the other out with "
                f"{ignore_option(header)}"
            )
        by_alias[canonical] = index
    found.update(by_alias)
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    if missing:
        raise MissingColumnError(missing_message(headers, missing), missing)
    return {name: found[name] for name in CANONICAL_COLUMNS if name in found}


def missing_message(headers: Sequence[str], missing: list[str], header_row: int | None = None) -> str:
    """`missing required column "dk" (found headers: ...); name the header that holds it with --map dk=HEADER`."""
    names = ", ".join(f'"{name}"' for name in missing)
    plural = "s" if len(missing) > 1 else ""
    maps = " ".join(map_option(name, "HEADER") for name in missing)
    where = "found headers" if header_row is None else f"header row {header_row}"
    return (f"missing required column{plural} {names} ({where}: {', '.join(headers)}){unseen_characters(headers)}; "
            f"name the header that holds {'each' if plural else 'it'} with {maps}")


def unmapped_date_headers(headers: Sequence[str], columns: Mapping[str, int], ignored: Collection[str]) -> list[str]:
    """Headers that look like a date or an expiry but feed no column, when no expiry column is mapped.

    Their values would be carried through unused and every share sent permanent, so the loader
    stops instead and names the option that maps or ignores them.
    """
    if "expiry" in columns:
        return []
    skipped = _ignored_indexes(headers, ignored)
    used = set(columns.values()) | skipped
    return [header for index, header in enumerate(headers)
            if index not in used and _DATE_WORDS.search(header.strip()) and not _is_own_result(header)]


def _is_own_result(header: str) -> bool:
    """`expiry_sent` (or `sharebatch_expiry_sent`) of a sharebatch report read back: what was sent, not an input."""
    return normalise_header(header).removeprefix("sharebatch") in ("expirysent",)


def date_header_message(headers: list[str]) -> str:
    first = headers[0]
    named = ", ".join(f'"{header}"' for header in headers)
    looks = "looks" if len(headers) == 1 else "look"
    return (f"column{'s' if len(headers) > 1 else ''} {named} {looks} like an expiry date but no column is "
            f"mapped to expiry, so every share would be permanent; if it holds the expiry, pass "
            f"{map_option('expiry', first)} (job file: [columns] expiry = \"{first}\"); if not, pass "
            f"{ignore_option(first)}")


def header_score(cells: Sequence[str]) -> int:
    """How many different canonical columns a row's cells name: finds the header below a title."""
    return len({name for name in map(canonical_name, cells) if name is not None})


def _ignored_indexes(headers: Sequence[str], ignored: Collection[str]) -> set[int]:
    indexes: set[int] = set()
    for wanted in ignored:
        index = _find_header(headers, wanted)
        if index is None:
            raise ColumnError(f'--ignore-column "{wanted}": there is no such header (found headers: '
                              f"{', '.join(headers)})")
        indexes.add(index)
    return indexes


def _match_explicit(headers: Sequence[str], explicit: Mapping[str, str], skipped: set[int]) -> dict[str, int]:
    """Resolve the explicit mapping: exact header text first, then the normalised form."""
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
        if index in skipped:
            raise ColumnError(f'header "{wanted}" is both mapped to {canonical} and ignored; drop one of the two')
        found[canonical] = index
    return found


def _find_header(headers: Sequence[str], wanted: str) -> int | None:
    stripped = [header.strip() for header in headers]
    if wanted.strip() in stripped:
        return stripped.index(wanted.strip())
    normalised = [normalise_header(header) for header in headers]
    key = normalise_header(wanted)
    return normalised.index(key) if key and key in normalised else None
