"""Rendering: an issue model becomes HTML and text.

Owns: the view models templates receive (never storage rows), including which
stories the email shows and the link to the rest (`view`); which variant of an
issue a reader's choice of countries and language gets (`choice`); the Jinja2
environment (autoescape on), the email with its CSS inlined by premailer once
per issue and variant, the web version and the text part (`issue`); the
editor's note, Markdown made safe HTML and plain text (`note`); the reader
labels per language and country names from CLDR (`messages`); display width,
sentence cuts and line wrapping that respect CJK text (`typography`).

Never touches: the network, the database, the clock, or files other than the
templates it reads. Writing the archive is `digest.web.archive`.
"""
