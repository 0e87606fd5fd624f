"""`digest edit`: the editor's hand on a week's issue, as a file, like `git rebase -i`.

Owns: the file an editor writes (`edit_file`: a header saying what to do, the
editor's note, then one line per story, `<command> <section> <story-id>
<title>`), reading it back strictly (`parse_edit`: an unknown command, section
or id, a story twice or more than three lead stories is a problem with its line
number), turning what was read into the decisions worth keeping
(`decisions_from`: only what differs from the issue digest builds on its own),
and the editor loop (`$VISUAL`, else `$EDITOR`, else `vi`; a file with
problems is opened again with them as comments at the top, as git does; saving
it unchanged gives up, emptying it cancels). `--show` prints the file, `--file
F` reads it from F (`-`: standard input) with no editor: problems are printed
as `F:LINE: …` and nothing is saved.

Never touches: SQL (`digest.state.store` keeps the decisions and refuses them
once the week's issue is frozen or sent), what a decision does to the issue
(`digest.editorial.selection.apply_decisions`), or rendering. Nothing waits for
an editor: `run`, `send` and the daemon use whatever was saved, or nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import digest.cli.clock as clock
from digest.config import Settings
from digest.editorial.selection import (
    apply_decisions,
    decision_for,
    latest_due_week,
    next_week,
    publish_time,
)
from digest.errors import DigestError
from digest.models import (
    DROP,
    GLOBAL_SECTION,
    PICK,
    TOP,
    TOP_STORIES,
    EditorialDecisions,
    Issue,
    Story,
    StoryDecision,
)
from digest.render.typography import one_line
from digest.state.store import IssueFrozen, Store

NOTE_MARK = "# === editor's note (Markdown) ==="
STORIES_MARK = "# === stories ==="
MARKS = (NOTE_MARK, STORIES_MARK)
PROBLEM = "# ! "  # the comment lines that report problems at the top of a reopened file
COMMANDS = {"pick": PICK, "p": PICK, "top": TOP, "t": TOP, "drop": DROP, "d": DROP}
MAX_NOTE = 3000  # characters: a note is a few paragraphs, and the email has a size budget


class EditError(DigestError):
    """The edit file could not be used: nothing was saved."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class EditState:
    """A week's issue as the editor sees it: what digest builds on its own
    (`default`), what was saved (`saved`), and the two together (`current`)."""

    week: str
    default: Issue
    saved: EditorialDecisions | None
    current: Issue
    sections: tuple[str, ...]  # the digest's section codes, in order
    due: datetime  # the publish time, in the digest's time zone

    def default_section(self) -> dict[str, str]:
        """story id → the section digest put it in."""
        return {s.key: sec.code for sec in self.default.sections for s in sec.stories}

    def stories(self) -> dict[str, Story]:
        """story id → story, for every story of the week (dropped ones too)."""
        return {s.key: s for sec in self.default.sections for s in sec.stories}


@dataclass(frozen=True, slots=True)
class StoryLine:
    action: str
    section: str
    story: str
    line: int


@dataclass(frozen=True, slots=True)
class Edited:
    """What an edit file says."""

    note: str
    lines: tuple[StoryLine, ...]  # in file order


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based; 0: the file as a whole
    message: str

    def at(self, shift: int = 0) -> str:
        return f"line {self.line + shift}: {self.message}" if self.line else self.message


# --- the file ------------------------------------------------------------------------


def edit_file(state: EditState) -> str:
    """The text an editor gets: header, note, one line per story (dropped ones last)."""
    issue = state.current
    codes = " ".join(state.sections)
    chosen = state.saved is not None and state.saved.tops_chosen
    leads = (
        "The lines marked top are your lead stories."
        if chosen
        else "The lines marked top are the ranking's choice (most outlets, then newest);\n"
        "# left as they are, they keep following the ranking as new reports arrive."
    )
    count = sum(len(s.stories) for s in issue.sections)
    lines = [
        f"# digest edit {state.week}: issue #{issue.number}, {count} stories, "
        f"due {state.due:%a %Y-%m-%d %H:%M %Z}",
        "#",
        "# First the editor's note, in Markdown (paragraphs, *italic*, **bold**,",
        "# [links](https://…), lists, > quotes): it opens the issue. Leave it empty for none.",
        "# Then one line per story:  <command> <section> <story-id> <title>",
        "#   pick (p)  keep the story",
        f"#   top  (t)  a lead story, shown first in the issue; at most {TOP_STORIES},",
        "#             in the order of their lines",
        "#   drop (d)  leave it out of this issue (deleting its line drops it too)",
        f"# Change a line's section to move the story: {codes}.",
        "# The order of a section's lines is the order of its stories; stories that",
        "# arrive later follow them, ranked as usual. The titles are only for you.",
        f"# {leads}",
        "# Lines starting with # are ignored. Save and quit to apply; empty the file",
        "# to cancel. Saved decisions apply to every build of this week until it is sent.",
        "",
        NOTE_MARK,
    ]
    if issue.note:
        lines.append(issue.note)
    lines += ["", STORIES_MARK]
    width = max((len(c) for c in state.sections), default=2)
    tops = {s.anchor for s in issue.top}

    def line(action: str, code: str, story: Story) -> str:
        return f"{action:<4} {code:<{width}} {story.key} {one_line(story.title)}"

    shown: set[str] = set()
    for section in issue.sections:
        lines += ["", f"# {one_line(section.name)} ({len(section.stories)})"]
        for story in section.stories:
            lines.append(line(TOP if story.anchor in tops else PICK, section.code, story))
            shown.add(story.key)
    dropped = [s for s in state.stories().values() if s.key not in shown]
    if dropped:
        lines += ["", f"# Dropped ({len(dropped)})"]
        where = state.default_section()
        saved = {d.story: d for d in state.saved.stories} if state.saved else {}
        for story in dropped:
            decision = decision_for(story, saved)
            moved = decision is not None and decision.section in state.sections
            code = decision.section if decision is not None and moved else where[story.key]
            lines.append(line(DROP, code, story))
    return "\n".join(lines) + "\n"


def parse_edit(
    text: str, known: Mapping[str, Story], sections: Sequence[str]
) -> tuple[Edited | None, tuple[Problem, ...]]:
    """Read an edit file: (what it says, problems). (None, ()) when it was emptied
    (cancel). Any problem means nothing of it may be used."""
    problems: list[Problem] = []
    rows = text.lstrip("\ufeff").splitlines()
    if not any(r.strip() and not r.lstrip().startswith("#") for r in rows) and not any(
        r.strip() in MARKS for r in rows
    ):
        return None, ()
    marks = {m: next((i for i, r in enumerate(rows) if r.strip() == m), -1) for m in MARKS}
    for mark, at in marks.items():
        if at < 0:
            problems.append(Problem(0, f"the line {mark!r} is missing: put it back"))
    if problems:
        return None, tuple(problems)
    note_at, stories_at = marks[NOTE_MARK], marks[STORIES_MARK]
    if stories_at < note_at:
        return None, (Problem(stories_at + 1, "the stories must come after the note"),)
    for n, row in enumerate(rows[:note_at], 1):
        if row.strip() and not row.lstrip().startswith("#"):
            problems.append(Problem(n, "text before the note's line: write the note below it"))
    note = "\n".join(
        r.rstrip() for r in rows[note_at + 1 : stories_at] if not r.lstrip().startswith("#")
    ).strip("\n")
    if len(note) > MAX_NOTE:
        problems.append(
            Problem(note_at + 1, f"the note has {len(note)} characters; at most {MAX_NOTE}")
        )
    found: dict[str, int] = {}
    lines: list[StoryLine] = []
    for n, row in enumerate(rows[stories_at + 1 :], stories_at + 2):
        words = row.split(maxsplit=3)
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 3:
            problems.append(Problem(n, "expected <command> <section> <story-id> <title>"))
            continue
        command, code, story = words[0].lower(), words[1].upper(), words[2].lower()
        bad = False
        if command not in COMMANDS:
            problems.append(Problem(n, f"{words[0]!r} is not a command: pick, top or drop"))
            bad = True
        if code not in sections:
            problems.append(
                Problem(n, f"{words[1]!r} is not a section of this digest: {' '.join(sections)}")
            )
            bad = True
        if story not in known:
            problems.append(Problem(n, f"{words[2]!r} is no story of this issue"))
            bad = True
        elif story in found:
            problems.append(Problem(n, f"story {story} is on line {found[story]} already"))
            bad = True
        if bad:
            continue
        found[story] = n
        lines.append(StoryLine(COMMANDS[command], code, story, n))
    if known and not lines and not problems:
        problems.append(
            Problem(stories_at + 1, "no story lines: to leave every story out, mark them "
                    "drop; to cancel, empty the file")
        )  # fmt: skip
    tops = [s.line for s in lines if s.action == TOP]
    if len(tops) > TOP_STORIES:
        where = ", ".join(str(n) for n in tops)
        problems.append(
            Problem(tops[TOP_STORIES], f"{len(tops)} lead stories (lines {where}); at most "
                    f"{TOP_STORIES}: make the others pick")
        )  # fmt: skip
    problems.sort(key=lambda p: p.line)
    return (None if problems else Edited(note, tuple(lines))), tuple(problems)


def decisions_from(edited: Edited, state: EditState) -> EditorialDecisions:
    """The decisions an edit file makes, keeping only what differs from the issue
    digest builds on its own: a story left in its section, in the ranking's place,
    has no decision; lead stories the ranking would choose anyway are left to it
    (so they follow it as reports arrive); a section's order is kept only when
    the editor changed it. A story whose line was deleted is dropped."""
    where = state.default_section()
    by_story = {s.story: s for s in edited.lines}
    provisional: list[StoryDecision] = []
    for key in state.stories():
        row = by_story.get(key)
        if row is None:
            provisional.append(StoryDecision(key, DROP))  # its line was deleted
        else:
            moved_to = "" if row.section == where[key] else row.section
            provisional.append(StoryDecision(key, row.action, moved_to))
    # Where the stories land without an order of the editor's, and the ranking's leads.
    ranked = apply_decisions(
        state.default, EditorialDecisions(state.week, stories=tuple(provisional)), state.sections
    )
    positions: dict[str, int] = {}
    for section in ranked.sections:
        ranked_order = [s.key for s in section.stories]
        wanted = [s.story for s in edited.lines if s.section == section.code and s.action != DROP]
        if wanted != ranked_order:
            positions.update((key, i) for i, key in enumerate(wanted))
    tops = [s.story for s in edited.lines if s.action == TOP]
    tops_chosen = tops != [s.key for s in ranked.top]
    kept = []
    for d in provisional:
        action = d.action
        if action == TOP and not tops_chosen:
            action = PICK  # the ranking's lead: left to the ranking
        position = positions.get(d.story)
        lead = tops.index(d.story) if action == TOP else None
        if action == PICK and not d.section and position is None:
            continue  # as digest would have it: nothing to keep
        kept.append(StoryDecision(d.story, action, d.section, position, lead))
    kept.sort(key=lambda d: d.story)  # as the store gives them back
    return EditorialDecisions(
        state.week, note=edited.note, stories=tuple(kept), tops_chosen=tops_chosen
    )


def describe(decisions: EditorialDecisions) -> str:
    """One line saying what was saved."""
    if decisions.empty:
        return "no decisions: the issue is the one digest builds on its own"
    parts = []
    if decisions.note.strip():
        parts.append(f"a note of {len(decisions.note)} characters")
    if decisions.tops_chosen:
        n = sum(1 for d in decisions.stories if d.action == TOP)
        parts.append(f"{n} lead stor{'y' if n == 1 else 'ies'} of yours" if n else "no lead story")
    dropped = sum(1 for d in decisions.stories if d.action == DROP)
    moved = sum(1 for d in decisions.stories if d.section and d.action != DROP)
    if dropped:
        parts.append(f"{dropped} dropped")
    if moved:
        parts.append(f"{moved} moved")
    if any(d.position is not None for d in decisions.stories):
        parts.append("your order")
    return ", ".join(parts)


# --- the command -----------------------------------------------------------------------


def edit_state(settings: Settings, store: Store, week: str, now: datetime) -> EditState:
    from digest.run.pipeline import issue_model

    default = issue_model(
        settings, store, week, now, number=store.next_issue_number(week), edited=False
    )
    saved = store.editorial_decisions(week)
    sections = (*settings.digest.countries, GLOBAL_SECTION)
    return EditState(
        week=week,
        default=default,
        saved=saved,
        current=apply_decisions(default, saved, sections),
        sections=sections,
        due=publish_time(week, settings).astimezone(settings.digest.tz),
    )


def _refuse_frozen(store: Store, week: str) -> None:
    sent_at, frozen_at = store.issue_sent_at(week), store.issue_frozen_at(week)
    when = sent_at or frozen_at
    if when is not None:
        raise IssueFrozen(week, when, sent=sent_at is not None)


def edit(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    """`digest edit [--week W] [--show | --file F]`."""
    now = clock.utc_now()
    # As `preview`: the issue an editor works on is the one being collected, due next.
    week = args.week or next_week(latest_due_week(now, settings))
    state = edit_state(settings, store, week, now)
    if args.show:
        sys.stdout.write(edit_file(state))
        return 0
    _refuse_frozen(store, week)
    if args.file is not None:
        edited = _from_file(args.file, state)
        if edited is None:
            print(f"{week}: {args.file}: no lines: nothing changed", file=sys.stderr)
            return 0
    else:
        edited = _from_editor(state)
        if edited is None:
            print(f"{week}: the file was emptied: nothing changed", file=sys.stderr)
            return 0
    decisions = decisions_from(edited, state)
    if decisions == (state.saved or EditorialDecisions(week)):
        print(f"{week}: no changes")
        return 0
    store.save_editorial_decisions(decisions, clock.utc_now())
    print(f"{week}: saved: {describe(decisions)}; `digest preview` shows the issue")
    return 0


def _from_file(name: str, state: EditState) -> Edited | None:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EditError(f"{name}: cannot read it: {e}") from e
    edited, problems = parse_edit(text, state.stories(), state.sections)
    if problems:
        for problem in problems:
            print(f"{name}:{problem.line}: {problem.message}", file=sys.stderr)
        raise EditError(
            f"{name}: {len(problems)} problem(s): nothing saved",
            hint=f"`digest edit --week {state.week} --show` prints a file to start from",
        )
    return edited


def editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else vi; split like a shell would ("code --wait").

    vi only on a terminal: without one (cron, a pipe) it would wait for keys
    nobody types, and nothing may wait for an editor."""
    for name in ("VISUAL", "EDITOR"):
        value = os.environ.get(name, "").strip()
        if value:
            return shlex.split(value)
    if not sys.stdin.isatty():
        raise EditError(
            "no editor: $VISUAL and $EDITOR are not set, and there is no terminal for vi",
            hint="set $EDITOR, or write the decisions to a file and use `digest edit --file F`",
        )
    return ["vi"]


def _run_editor(path: Path) -> None:
    command = editor_command()
    try:
        done = subprocess.run([*command, str(path)], check=False)
    except OSError as e:
        raise EditError(
            f"cannot start the editor {shlex.join(command)}: {e.strerror or e}",
            hint="set $EDITOR (or $VISUAL) to an editor, or use `digest edit --file F`",
        ) from e
    if done.returncode != 0:
        raise EditError(
            f"the editor {shlex.join(command)} exited with status {done.returncode}: nothing saved"
        )


def _with_problems(text: str, problems: Sequence[Problem]) -> tuple[str, int]:
    """`text` with `problems` as comments at the top; and how many lines they take."""
    if not problems:
        return text, 0
    head = [f"{PROBLEM}digest could not use this file: fix it, or empty it to cancel."]
    shift = len(problems) + 2
    head += [f"{PROBLEM}{p.at(shift)}" for p in problems]
    head.append("#")
    return "\n".join(head) + "\n" + text, shift


def _without_problems(text: str) -> str:
    """`text` without the problems `_with_problems` put at its top."""
    rows = text.splitlines(keepends=True)
    i = 0
    while i < len(rows) and rows[i].startswith(PROBLEM):
        i += 1
    if i and i < len(rows) and rows[i].rstrip() == "#":
        i += 1
    return "".join(rows[i:])


def _from_editor(state: EditState) -> Edited | None:
    text = edit_file(state)
    problems: tuple[Problem, ...] = ()
    with tempfile.TemporaryDirectory(prefix="digest-edit-") as folder:
        path = Path(folder) / f"{state.week}.txt"
        while True:
            shown, _ = _with_problems(text, problems)
            path.write_text(shown, encoding="utf-8")
            _run_editor(path)
            saved = path.read_text(encoding="utf-8", errors="replace")
            if problems and saved == shown:
                for problem in problems:
                    print(f"{state.week}: {problem.at()}", file=sys.stderr)
                raise EditError(
                    f"{state.week}: the file was saved with its {len(problems)} problem(s) "
                    "unchanged: nothing saved"
                )
            text = _without_problems(saved) if problems else saved
            edited, problems = parse_edit(text, state.stories(), state.sections)
            if not problems:
                return edited
