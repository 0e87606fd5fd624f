"""Bad subscriber rows (add, import), bounded names and header lines, CSV export
that no spreadsheet runs as a formula, and an import of it that gives back the same."""

from __future__ import annotations

import email
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path

import pytest

from digest.cli import main
from digest.mail.compose import MAX_LINE_OCTETS, to_header
from digest.models import Subscriber
from digest.state.subscribers import MAX_NAME_LENGTH, escape_cell, read_csv, unescape_cell

# (id, email, name, the refusal after "digest: error: " / "line N: ")
ROWS = [
    (
        "comma",
        "a@example.com, b@example.com",
        "",
        "'a@example.com, b@example.com': contains a comma; give one plain address such as "
        "user@example.com",
    ),
    (
        "semicolon",
        "a@example.com;b@example.com",
        "",
        "'a@example.com;b@example.com': contains a semicolon; give one plain address such as "
        "user@example.com",
    ),
    (
        "angle",
        "Eve <e@example.com>",
        "",
        "'Eve <e@example.com>': contains a '<'; give one plain address such as user@example.com",
    ),
    ("no-at", "example.com", "", "'example.com': has no '@'"),
    ("space", "a b@example.com", "", "'a b@example.com': contains white space"),
    ("empty", "", "", "empty address"),
    (
        "name-cr",
        "a@example.com",
        "Eve\rBcc: x@example.com",
        "name 'Eve\\rBcc: x@example.com': contains a line break",
    ),
    (
        "name-lf",
        "a@example.com",
        "Eve\nBcc: x@example.com",
        "name 'Eve\\nBcc: x@example.com': contains a line break",
    ),
    (
        "name-nul",
        "a@example.com",
        "Ev\x00e",
        "name 'Ev\\x00e': contains a control character (U+0000)",
    ),
    ("name-tab", "a@example.com", "Ev\te", "name 'Ev\\te': contains a control character (U+0009)"),
    (
        "name-esc",
        "a@example.com",
        "\x1b[31mred",
        "name '\\x1b[31mred': contains a control character (U+001B)",
    ),
    (
        "name-del",
        "a@example.com",
        "Eve\x7f",
        "name 'Eve\\x7f': contains a control character (U+007F)",
    ),
    (
        "name-c1",
        "a@example.com",
        "Eve\x9b",
        "name 'Eve\\x9b': contains a control character (U+009B)",
    ),
    ("name-nel", "a@example.com", "Eve\x85x", "name 'Eve\\x85x': contains a line break (U+0085)"),
    (
        "name-ls",
        "a@example.com",
        "Eve\u2028x",
        "name 'Eve\\u2028x': contains a line break (U+2028)",
    ),
    (
        "name-rlo",
        "a@example.com",
        "Eve\u202exe.pdf",
        "name 'Eve\\u202exe.pdf': contains a bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE)",
    ),
    (
        "name-rli",
        "a@example.com",
        "Eve\u2067x",
        "name 'Eve\\u2067x': contains a bidirectional control (U+2067 RIGHT-TO-LEFT ISOLATE)",
    ),
    (
        "name-rlm",
        "a@example.com",
        "Eve\u200fx",
        "name 'Eve\\u200fx': contains a bidirectional control (U+200F RIGHT-TO-LEFT MARK)",
    ),
    (
        "name-long-ascii",
        "a@example.com",
        "a" * 201,
        f"name '{'a' * 40}…': 201 characters; at most 200",
    ),
    (
        "name-long-cjk",
        "a@example.com",
        "山" * 5000,
        f"name '{'山' * 40}…': 5000 characters; at most 200",
    ),
    (
        "bad-domain",
        "a@b",
        "",
        "'a@b': The part after the @-sign is not valid. It should have a period.",
    ),
]


def config(tmp_path: Path) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(("address", "name", "reason"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])  # fmt: skip
def test_add_refuses_a_bad_row_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, name: str, reason: str
) -> None:
    conf = config(tmp_path)
    code = main(["--config", str(conf), "subscribers", "add", address, "--name", name])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[0] == f"digest: error: {reason}"
    main(["--config", str(conf), "subscribers", "list", "--all"])
    assert capsys.readouterr().out == ""  # nobody was added


def test_import_refuses_every_bad_row_by_line_and_keeps_the_good(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io

    # The CLI reads the file untranslated: a bare CR inside a quoted cell stays in
    # its row (and is refused there), it does not start a new one.
    bad = [r for r in ROWS if r[0] != "empty"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["email", "name"])
    writer.writerow(["good@example.com", "Good"])
    for _, address, name, _ in bad:
        writer.writerow([address, name])
    writer.writerow(["last@example.com", "山田 太郎"])
    data = tmp_path / "in.csv"
    data.write_bytes(out.getvalue().encode("utf-8"))
    code = main(["--config", str(config(tmp_path)), "subscribers", "import", str(data)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == f"imported: 2 added, 0 already subscribed, {len(bad)} refused\n"
    # Lines are CSV records: the header is 1, the good row 2.
    expected = [f"  line {i}: {reason}" for i, (_, _, _, reason) in enumerate(bad, start=3)]
    assert captured.err.splitlines() == expected


def test_a_broken_csv_is_refused_from_the_broken_record_on() -> None:
    rows = read_csv('email,name\na@example.com,Ann\n"b@example.com,Bob\n')
    assert [(r.line, r.email) for r in rows if not r.error] == [(2, "a@example.com")]
    assert [r.line for r in rows if r.error] == [3]
    assert read_csv("x" * 200_000 + "@example.com\n")[0].error.startswith("not CSV from here on")


def test_header_lines_stay_within_998_octets_for_the_longest_names() -> None:
    for name in ("山" * MAX_NAME_LENGTH, "a" * MAX_NAME_LENGTH, '"' * MAX_NAME_LENGTH,
                 "Ünïcødé " * 25, "x" * 199 + "山", "한국어 " * 50):  # fmt: skip
        name = " ".join(name.split())
        for address in ("reader@example.com", "山田@example.jp"):
            line = to_header(Subscriber(1, address, name, "active", None))
            parts = line.split(b"\r\n")
            assert parts[-1] == b""
            assert all(len(p) <= MAX_LINE_OCTETS for p in parts), name
            if address.isascii() and not name.isascii():
                words = line.decode("ascii").replace("To:", "").split()
                encoded = [w for w in words if w.startswith("=?")]
                assert encoded and all(len(w) <= 75 for w in encoded)
            # RFC 2047 6.2: the folding between two encoded words is not part of the
            # name (email.header follows it; the newer header registry adds a space).
            if address.isascii():
                raw = email.message_from_bytes(line + b"\r\n")["To"]
                shown, addr = parseaddr(str(make_header(decode_header(raw))))
            else:  # raw UTF-8 for SMTPUTF8: a quoted string, no encoded words
                shown, addr = parseaddr(line.decode("utf-8")[4:].strip())
            assert (shown, addr) == (name, address)


@pytest.mark.parametrize(
    "cell",
    ["=HYPERLINK(\"http://evil\",\"x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'=x", "''+y",
     "'", "''", "'Tis", "plain", "", "山田"],
)  # fmt: skip
def test_formula_cells_are_escaped_and_imported_back_unchanged(cell: str) -> None:
    escaped = escape_cell(cell)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unescape_cell(escaped) == cell


def test_export_then_import_gives_back_the_same_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = config(tmp_path)
    names = ['=HYPERLINK("http://evil.example","click")', "+Plus", "-Minus", "@At", "'=Quoted",
             "'Tis", "山田 太郎"]  # fmt: skip
    for i, name in enumerate(names):
        assert main(["--config", str(conf), "subscribers", "add", f"r{i}@example.com",
                     f"--name={name}"]) == 0  # fmt: skip
    assert main(["--config", str(conf), "subscribers", "add", "=x@example.com"]) == 0
    exported = tmp_path / "out.csv"
    assert main(["--config", str(conf), "subscribers", "export", str(exported)]) == 0
    text = exported.read_text("utf-8")
    for line in text.splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.lstrip('"').startswith(("=", "+", "-", "@")), line
    rows = read_csv(text)
    assert [r.name for r in rows] == [*names, ""]
    assert rows[-1].email == "=x@example.com"
    other = tmp_path / "other"
    other.mkdir()
    conf2 = config(other)
    monkeypatch.chdir(other)  # (not below the first database: see check_moved_paths)
    capsys.readouterr()
    assert main(["--config", str(conf2), "subscribers", "import", str(exported)]) == 0
    assert capsys.readouterr().out == "imported: 8 added, 0 already subscribed, 0 refused\n"
    main(["--config", str(conf2), "subscribers", "list"])
    listed = capsys.readouterr().out.splitlines()
    assert sorted(listed) == sorted(
        [f"r{i}@example.com\t{n}" for i, n in enumerate(names)] + ["=x@example.com"]
    )
