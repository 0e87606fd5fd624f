"""Subscriber addresses: validation, CSV import and export.

Owns: deciding whether an address may be a subscriber (one plain address, no
header tricks) and the CSV formats. Doesn't own: storage (`digest.state.store`) or
sending.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from digest.errors import AddressError
from digest.models import Subscriber

CSV_FIELDS = ("email", "name", "status", "created")


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
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as e:
        raise AddressError(f"{text!r}: {e}") from e
    return str(checked.normalized)


def clean_name(raw: str) -> str:
    if any(ch in raw for ch in "\r\n"):
        raise AddressError(f"name {raw!r}: contains a line break")
    return " ".join(raw.split())


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
    rows = list(csv.reader(io.StringIO(text)))
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
        raw = row[email_col] if email_col < len(row) else ""
        name = row[name_col] if 0 <= name_col < len(row) else ""
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
        writer.writerow((s.email, s.name, s.status, created))
    return out.getvalue()
