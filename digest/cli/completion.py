"""Shell completion: `digest completion bash|zsh|fish`, and answering a TAB press.

Owns: the script each shell sources (`script`), where to put it (`WHERE`), and
handing a completion request to argcomplete before anything else runs
(`complete_if_asked`). Doesn't own: the grammar being completed (`parser`).

Why argcomplete: it is the one well-kept library that covers bash, zsh and fish
from an argparse parser (shtab writes static bash, zsh and tcsh scripts, no
fish). Its scripts are small hooks that run `digest` itself on each TAB, with
`_ARGCOMPLETE` set in the environment: the answer comes from the parser that
is installed, so a script written to a file never goes stale after an upgrade,
and option values complete too (`--log-format` → text, json; file arguments).
The cost is one start of digest per TAB (0.12 s median on the development
machine): the parser imports no pipeline stage, `main` imports the verbs only
after this answer, and argcomplete itself only when a shell asks.
"""

from __future__ import annotations

import argparse
import os

SHELLS = ("bash", "zsh", "fish")
PROG = "digest"

# Where each shell reads a completion script from: the command, then other ways.
WHERE = {
    "bash": (
        "digest completion bash > ~/.local/share/bash-completion/completions/digest",
        'or: eval "$(digest completion bash)" in ~/.bashrc',
    ),
    "zsh": (
        "digest completion zsh > ~/.zfunc/_digest",
        "with fpath+=(~/.zfunc) before compinit in ~/.zshrc,",
        'or: eval "$(digest completion zsh)" after compinit in ~/.zshrc',
    ),
    "fish": ("digest completion fish > ~/.config/fish/completions/digest.fish",),
}


def where_text() -> str:
    """The lines `digest completion --help` shows, one shell after another."""
    lines = []
    for shell, (command, *notes) in WHERE.items():
        lines.append(f"  {shell:<5} {command}")
        lines += [f"        {note}" for note in notes]
    return "\n".join(lines)


def script(shell: str) -> str:
    """The completion script for `shell`, to source or to save where `WHERE` says."""
    # argcomplete.shellcode, imported from where it lives (the package does not
    # re-export it for strict typing).
    from argcomplete.shell_integration import shellcode

    if shell not in SHELLS:
        raise ValueError(f"no completion for {shell!r}")
    return shellcode([PROG], shell=shell)


def complete_if_asked(parser: argparse.ArgumentParser) -> None:
    """When a shell's TAB started this process, print the completions and exit;
    otherwise return at once (argcomplete is not even imported)."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    argcomplete.autocomplete(parser)
