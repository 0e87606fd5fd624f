"""Subscriber addresses: validation, CSV import and export.

Owns: deciding whether an address may be a subscriber (one plain address, no
header tricks) and a display name (one line of visible text, at most
`MAX_NAME_LENGTH` characters), and the CSV formats. Doesn't own: storage
(`digest.state.store`) or sending.

CSV export escapes cells a spreadsheet would run as a formula (OWASP's CSV
injection rule: a cell starting with = + - @ TAB or CR gets a leading
apostrophe). So that `import` of an exported file gives back the same names and
addresses, a cell that starts with an apostrophe followed by one of those, or by
more apostrophes, loses its first apostrophe on import; export adds one to such
cells too, so the mapping is exact both ways. A hand-written `'=x` imports as
`=x`, which is what a spreadsheet shows for it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from digest.configvalues import unsafe_character
from digest.errors import AddressError
from digest.models import Subscriber

CSV_FIELDS = ("email", "name", "status", "created")
# A display name longer than this is not a name; 200 characters keep every
# folded To: line far below RFC 5322's 998 octets, in any script.
MAX_NAME_LENGTH = 200
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def normalize_address(raw: str) -> str:
    """Return the normalised address, or raise `AddressError` saying why not.

    Refuses anything that could smuggle a second recipient or a header into a
    message: line breaks, commas, semicolons, angle brackets, display names.
    """
    if any(ch in raw for ch in "\r\n"):
        raise AddressError(f"{raw!r}: contains a line break; one plain address per subscriber")
    text = raw.strip()
    if not text:
        raise AddressError("empty address")
    for ch, what in ((",", "a comma"), (";", "a semicolon"), ("<", "a '<'"), (">", "a '>'")):
        if ch in text:
            raise AddressError(
                f"{text!r}: contains {what}; give one plain address such as user@example.com"
            )
    if "@" not in text:
        raise AddressError(f"{text!r}: has no '@'")
    if any(ch.isspace() for ch in text):
        raise AddressError(f"{text!r}: contains white space")
    # Imported here: its tables cost about 15 ms, which `subscribers list` need not pay.
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as e:
        raise AddressError(f"{text!r}: {e}") from e
    return str(checked.normalized)


def clean_name(raw: str) -> str:
    """The display name with runs of spaces collapsed, or raise `AddressError`:
    a line break, a control or bidi character, or more than `MAX_NAME_LENGTH`
    characters."""
    shown = _shorten(raw)
    if any(ch in raw for ch in "\r\n"):
        raise AddressError(f"name {shown}: contains a line break")
    # Checked before collapsing white space, which would silently eat a TAB,
    # U+0085 or U+2028 (str.split counts them as spaces).
    problem = unsafe_character(raw)
    if problem:
        raise AddressError(f"name {shown}: {problem}")
    name = " ".join(raw.split())
    if len(name) > MAX_NAME_LENGTH:
        raise AddressError(
            f"name {shown}: {len(name)} characters; at most {MAX_NAME_LENGTH}",
            hint="give a shorter display name, or none",
        )
    return name


def _shorten(raw: str) -> str:
    # The name in a refusal line: repr (control characters visible), and not 5,000 of them.
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")


def escape_cell(value: str) -> str:
    """A CSV cell no spreadsheet runs as a formula (see the module docstring)."""
    if value.lstrip("'").startswith(_FORMULA_START) or (
        value.startswith("'") and not value.lstrip("'")
    ):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """The inverse of `escape_cell`."""
    rest = value.lstrip("'")
    if value.startswith("'") and (rest.startswith(_FORMULA_START) or not rest):
        return value[1:]
    return value


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    email: str = ""
    name: str = ""
    error: str = ""


def read_csv(text: str) -> list[ImportRow]:
    """Rows of `email[,name]`; a header row naming `email` is recognised.

    Every row comes back, valid or not, so that the caller can report the line
    and reason of each refused one.
    """
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as e:
        # Everything before the broken row still counts; the rest is not CSV.
        broken = [ImportRow(len(rows) + 1, error=f"not CSV from here on: {e}")]
        return _rows(rows) + broken
    return _rows(rows)


def _rows(rows: list[list[str]]) -> list[ImportRow]:
    email_col, name_col, first = 0, 1, 0
    if rows and any(cell.strip().lower() == "email" for cell in rows[0]):
        header = [cell.strip().lower() for cell in rows[0]]
        email_col = header.index("email")
        name_col = header.index("name") if "name" in header else -1
        first = 1
    result = []
    for number, row in enumerate(rows[first:], start=first + 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        raw = unescape_cell(row[email_col]) if email_col < len(row) else ""
        name = unescape_cell(row[name_col]) if 0 <= name_col < len(row) else ""
        try:
            result.append(ImportRow(number, normalize_address(raw), clean_name(name)))
        except AddressError as e:
            result.append(ImportRow(number, error=e.message))
    return result


def write_csv(subscribers: Iterable[Subscriber]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for s in subscribers:
        created = s.created.isoformat() if s.created else ""
        writer.writerow([escape_cell(cell) for cell in (s.email, s.name, s.status, created)])
    return out.getvalue()
