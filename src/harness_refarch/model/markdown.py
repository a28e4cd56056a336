"""Markdown escaping for text that comes from a chart or a values file.

The Markdown outputs (``--refarch-report x.md``, ``harness-refarch diff --format markdown``) end
up as pull-request comments, where chart content must stay text: no raw HTML, no links or images
whose text hides their target (``[text](url)``, ``![](tracker)``), no code spans and no broken
tables. ``&``, ``<`` and ``>`` become entities (no HTML, no ``<url>`` autolinks); backslash,
brackets, backticks and pipes are backslash-escaped; line breaks become ``<br>`` (the one piece
of HTML we write ourselves). A bare URL may still be shown as a link by GitHub, with its own
address as its text. Values are masked first: no output may carry a credential.
"""

from __future__ import annotations

import re

from harness_refarch.model.redact import mask

_SYNTAX = re.compile(r"([\\`\[\]|])")


def escape(value: object) -> str:
    """``value`` as inert Markdown inline text, safe inside a table cell or a heading."""
    text = mask(str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SYNTAX.sub(r"\\\1", text)
    return "<br>".join(" ".join(line.split()) for line in text.splitlines()) or " "
