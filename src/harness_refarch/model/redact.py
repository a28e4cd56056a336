"""One masking function for every message, report, golden file and JUnit property.

:func:`mask` finds connection strings with the scanner the checks parse them with
(:func:`harness_refarch.model.uris.locate`), so a password the checks read is the password that is
masked, whatever characters it holds. It masks:

* the password of a connection string's userinfo (``mongodb://user:****@host``), and a lone
  Redis userinfo (``redis://****@host``), which Redis clients send as the password;
* every query parameter whose name suggests a secret (``password``, ``pwd``, ``sslpassword``,
  ``token``, ``access_token``, ``apiKey``, ``secret``, ``credential``, ...);
* ``key=value`` assignments (``--set global.redis.password=...``, ``DB_PASSWORD=...``,
  ``user=a;password=b``) whose key suggests a secret.

``$(VAR)`` references are names, not secrets, and stay visible; so do empty values.
"""

from __future__ import annotations

import re

from harness_refarch.model import uris

MASK = uris.MASK

_KEY = r"[A-Za-z_][\w.\-\[\]]*"
# A value runs to whitespace, or to the next ",key=" / "&key=" / ";key=" (helm --set lists,
# query strings, JDBC property lists), so a secret holding "," or ";" is still masked whole.
_ASSIGNMENT = re.compile(
    r"(?<![\w.\-\[\]])(?P<key>" + _KEY + r")=(?P<value>\"(?:\\.|[^\"\\])*\"?|'[^']*'?|"
    r"(?:\\.|[^\s\\])+?(?=$|\s|[,&;]" + _KEY + r"=))")
_PARAM = re.compile(r"(?P<key>[^&;=?]+)=(?P<value>[^&;]*)")


def _is_literal(value: str) -> bool:
    return bool(value) and value != MASK and not uris.is_var_ref(value.strip("\"'"))


def _uri_replacements(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that hold connection-string secrets."""
    out: list[tuple[int, int]] = []
    for span in uris.locate(text):
        if span.userinfo is not None:
            start, end = span.userinfo
            userinfo = text[start:end]
            user, sep, password = userinfo.partition(":")
            if sep and _is_literal(password):
                out.append((start + len(user) + 1, end))
            elif not sep and (span.inner_scheme or span.scheme).startswith("redis") and _is_literal(user):
                out.append((start, end))
        body_start, body_end = span.body
        question = text.find("?", body_start, body_end)
        if question >= 0:
            for param in _PARAM.finditer(text, question + 1, body_end):
                if uris.secret_name(param.group("key")) and _is_literal(param.group("value")):
                    out.append((param.start("value"), param.end("value")))
    return out


def _apply(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each (non-overlapping) span replaced by the mask, in one pass."""
    pieces, done = [], 0
    for start, end in sorted(spans):
        if start >= done:
            pieces += [text[done:start], MASK]
            done = end
    return "".join([*pieces, text[done:]])


def _mask_assignments(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        key, value = m.group("key"), m.group("value")
        if uris.secret_name(key) and _is_literal(value):
            return f"{key}={MASK}"
        return m.group(0)

    return _ASSIGNMENT.sub(repl, text)


def mask(text: str) -> str:
    """``text`` with every credential this module knows how to find replaced by ``****``."""
    if not text:
        return text
    return _mask_assignments(_apply(text, _uri_replacements(text)))


def _split_set(assignment: str) -> list[str]:
    """Split a helm ``--set`` value at the commas that start a new ``key=``, honouring ``\\,``."""
    parts, start, i = [], 0, 0
    while i < len(assignment):
        if assignment[i] == "\\":
            i += 2
            continue
        if assignment[i] == "," and re.match(_KEY + "=", assignment[i + 1:]):
            parts.append(assignment[start:i])
            start = i + 1
        i += 1
    parts.append(assignment[start:])
    return parts


def mask_set(assignment: str) -> str:
    """One ``--set`` assignment (``a.b=1,c.password=x``) as it may be shown."""
    out = []
    for part in _split_set(assignment):
        key, sep, value = part.partition("=")
        if sep and uris.secret_name(key) and _is_literal(value):
            out.append(f"{key}={MASK}")
        else:
            out.append(f"{key}{sep}{mask(value)}" if sep else mask(part))
    return ",".join(out)
