"""Database connection strings found in arbitrary text, read by real parsers.

One scanner (:func:`locate`) finds where each connection string starts and ends, where its
userinfo is and which of its parts are hosts, path and query. The checks parse what it
finds (:func:`parse`: MongoDB through :func:`pymongo.uri_parser.parse_uri`, PostgreSQL, JDBC
and Redis through :func:`urllib.parse.urlsplit`) and :mod:`harness_refarch.model.redact` masks
what it finds, so what a check reads as a password is exactly what a report masks.

Rules of the scanner, chosen so that a password never ends up elsewhere (as a host, a path):

* a connection string starts at a known scheme (``mongodb://``, ``mongodb+srv://``,
  ``redis://``, ``rediss://``, ``postgres://``, ``postgresql://``, ``jdbc:postgresql://``)
  and ends at the next scheme, at the end of the line, or after its query at whitespace or
  a quote; a comma-separated list of URIs (``redis://a:26379,redis://b:26379``) is several;
* the userinfo runs to the *last* ``@`` before that end which is followed by something that
  can start a host, so unencoded ``/ ? ; # @``, spaces and quotes in a password stay in the
  password (libraries that stop the authority at the first ``/`` or ``?`` would show the rest
  of such a password as a path or a host);
* a value that is only a scheme (``mongodb://``, a protocol setting) is not a connection string;
* a scheme directly followed by another (``redis://rediss://host``, produced when a chart
  prefixes its scheme to a hosts entry that has one) is one connection string with a
  :attr:`ConnectionString.problem`, parsed from the inner URI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

SCHEMES = ("mongodb+srv", "mongodb", "rediss", "redis", "jdbc:postgresql", "postgresql", "postgres")
FAMILY = {"mongodb+srv": "mongo", "mongodb": "mongo", "rediss": "redis", "redis": "redis",
          "jdbc:postgresql": "postgres", "postgresql": "postgres", "postgres": "postgres"}
MASK = "****"

_SCHEME = re.compile(r"(?<![\w+.-])(" + "|".join(re.escape(s) for s in SCHEMES) + r")://", re.IGNORECASE)
_VAR_REF = re.compile(r"^\$\([A-Za-z_][A-Za-z0-9_.-]*\)$")
# What may follow the userinfo's "@": a host name, an IP literal or a $(VAR) reference.
_HOST_START = re.compile(r"[A-Za-z0-9_\[$%]")
_USER_END = re.compile(r"[/?#\s]")
# Where the hosts, path and query end (the userinfo is not bound by this).
_BODY_END = re.compile(r"[\s\"'`<>]")
_TLS_ON = {"tls": {"true"}, "ssl": {"true"}, "sslmode": {"require", "verify-ca", "verify-full"}}


def is_var_ref(value: str) -> bool:
    """``$(NAME)``: a Kubernetes env reference, resolved at runtime, never a literal secret."""
    return bool(_VAR_REF.match(value))


@dataclass(frozen=True)
class Span:
    """Where one connection string lies in a text (offsets into that text)."""

    start: int
    end: int
    scheme: str  # lower case, the outer one for a double scheme
    inner_scheme: str  # "" unless a double scheme ("redis://rediss://")
    userinfo: tuple[int, int] | None  # without the "@"
    body: tuple[int, int]  # hosts, path and query


def locate(text: str) -> list[Span]:
    """Every connection string in ``text``, in order; scheme-only values are left out."""
    matches = list(_SCHEME.finditer(text))
    spans: list[Span] = []
    i = 0
    while i < len(matches):
        m = matches[i]
        inner = ""
        after = m.end()
        # A double scheme: the next scheme starts right where this one ends.
        if i + 1 < len(matches) and matches[i + 1].start() == m.end():
            inner = matches[i + 1].group(1).lower()
            after = matches[i + 1].end()
            i += 1
        nxt = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        newline = text.find("\n", after, nxt)
        limit = newline if newline >= 0 else nxt
        segment = text[after:limit]
        userinfo = None
        body_start = after
        lone_is_password = (inner or m.group(1)).lower().startswith("redis")
        colon = segment.find(":")
        delimiter = _USER_END.search(segment)
        first_delimiter = delimiter.start() if delimiter else len(segment)
        at = len(segment)
        while (at := segment.rfind("@", 0, at)) >= 0:
            # Without a ":" it is a user name (except Redis), which cannot hold "/ ? #" or spaces:
            # that "@" is in a path or a query (mongodb://h/db?user=a@b), not after userinfo.
            if not 0 <= colon < at and not lone_is_password and first_delimiter < at:
                continue
            if _HOST_START.match(segment, at + 1):
                userinfo = (after, after + at)
                body_start = after + at + 1
                break
        end_match = _BODY_END.search(text, body_start, limit)
        body_end = end_match.start() if end_match else limit
        if body_end == nxt:
            # "redis://a:26379,redis://b:26379": the comma separates URIs, it is not part of a host list.
            while body_end > body_start and text[body_end - 1] in ", ":
                body_end -= 1
        i += 1
        if userinfo is None and body_end == body_start:
            continue  # only a scheme: a protocol setting, not a connection string
        spans.append(Span(m.start(), body_end, m.group(1).lower(), inner, userinfo, (body_start, body_end)))
    return spans


@dataclass(frozen=True)
class ConnectionString:
    """One parsed connection string and where it was found.

    ``userinfo`` holds the literal ``user:password`` and is excluded from ``repr`` (pytest's
    ``-l`` prints locals); everything meant for people goes through :attr:`text`, which masks it.
    """

    db: str  # mongo, redis, postgres or timescaledb; the scheme's family until a check decides
    scheme: str
    userinfo: str | None = field(repr=False)
    hosts: tuple[str, ...]
    path: str
    query: tuple[tuple[str, str], ...] = field(repr=False)
    location: str = ""  # e.g. "ConfigMap/ng-manager:MONGO_URI"
    consumers: tuple[Any, ...] = field(default=(), repr=False, compare=False)  # (Workload, Container)
    tls_setting: bool = False  # TLS switched on by a sibling key, e.g. TIMESCALEDB_SSL_MODE: require
    problem: str = ""  # why the parser rejected it, or "double scheme redis://rediss://"
    inner_scheme: str = ""
    options: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # driver-normalised (MongoDB)
    key: str = ""  # the ConfigMap key or env var it was read from

    def __repr__(self) -> str:
        return f"ConnectionString({self.db}, {self.text!r}, location={self.location!r})"

    @property
    def username(self) -> str | None:
        return None if self.userinfo is None else self.userinfo.partition(":")[0]

    @property
    def password(self) -> str | None:
        """The literal password; for Redis a lone userinfo (``redis://secret@host``) is one."""
        if self.userinfo is None:
            return None
        user, sep, password = self.userinfo.partition(":")
        if not sep:
            return user if self.scheme.startswith("redis") else None
        return password

    @property
    def text(self) -> str:
        """The connection string for messages: literal passwords and secret parameters masked."""
        user = ""
        if self.userinfo is not None:
            name, sep, password = self.userinfo.partition(":")
            if not sep and self.scheme.startswith("redis"):
                name, password = "", name
                sep = ":" if password else ""
            shown = password if not password or is_var_ref(password) else MASK
            user = f"{name}{sep}{shown}@"
        query = "&".join(f"{k}={mask_param(k, v)}" for k, v in self.query)
        inner = f"{self.inner_scheme}://" if self.inner_scheme else ""
        return f"{self.scheme}://{inner}{user}{','.join(self.hosts)}{self.path}" + (f"?{query}" if query else "")

    @property
    def params(self) -> dict[str, str]:
        """Query parameters by lower-case name (the driver's view for MongoDB: ``ssl`` is ``tls``)."""
        out = {k.lower(): v.lower() for k, v in self.query}
        out.update({k.lower(): v.lower() for k, v in self.options})
        return out

    @property
    def tls(self) -> bool:
        if self.scheme in ("mongodb+srv", "rediss") or self.tls_setting:
            return True
        return any(self.params.get(k) in ok for k, ok in _TLS_ON.items())


_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "apikey", "accesskey", "privatekey")
_REFERENCE_LAST = {"name", "ref", "file", "path", "mode", "enabled", "type", "length", "source", "method"}
_KEY_OF = {"user", "username", "password", "passwd", "secret", "token", "name"}
_SECRET_LAST = {"pwd", "pass", "key", "password", "passwd", "secret", "token", "credential", "credentials"}


def secret_name(name: str) -> bool:
    """Whether a parameter or key name suggests that its value is a secret.

    ``sslpassword``, ``access_token``, ``apiKey``, ``global.redis.password``, ``DB_PWD``: the
    name contains a secret word, or its last word (split at ``._-`` and camelCase) is one.
    """
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]
    if not words:
        return False
    # Settings that name or locate a secret rather than hold one: secretName, passwordKey, tokenFile.
    if words[-1] in _REFERENCE_LAST or (words[-1] == "key" and len(words) > 1 and words[-2] in _KEY_OF):
        return False
    flat = "".join(words)
    return any(w in flat for w in _SECRET_WORDS) or words[-1] in _SECRET_LAST


def mask_param(name: str, value: str) -> str:
    """A query parameter's value as it may be shown."""
    return MASK if value and secret_name(name) and not is_var_ref(value) else value


def _split_query(query: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in re.split(r"[&;]", query):
        if part:
            k, _, v = part.partition("=")
            pairs.append((unquote_plus(k), unquote_plus(v)))
    return tuple(pairs)


def _host_text(host: str, port: int | str | None) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port is not None else host


def _parse_mongo(scheme: str, userinfo: str | None, body: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Hosts and driver-normalised options via pymongo; ``mongodb+srv`` without DNS lookups.

    ``parse_uri`` resolves SRV and TXT records for ``mongodb+srv``; a check must not reach the
    network, so that case is validated with pymongo's own ``split_hosts``/``split_options``
    (the same rules ``parse_uri`` applies before its lookup: one host, no port). pymongo is
    imported on first use: it is the slowest import of the suite. Its errors become ValueError.
    """
    from pymongo.errors import PyMongoError

    try:
        return _parse_mongo_with_pymongo(scheme, userinfo, body)
    except PyMongoError as exc:
        raise ValueError(str(exc)) from None


def _parse_mongo_with_pymongo(scheme: str, userinfo: str | None,
                              body: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    from pymongo.uri_parser import parse_uri, split_hosts, split_options

    if scheme == "mongodb+srv":
        host_part, _, opts = body.partition("?")
        hosts = host_part.partition("/")[0]
        nodes = split_hosts(hosts, default_port=None)
        if len(nodes) != 1:
            raise ValueError("mongodb+srv:// URIs must include one, and only one, hostname")
        if nodes[0][1] is not None:
            raise ValueError("mongodb+srv:// URIs must not include a port number")
        options = split_options(opts, validate=False) if opts else {}
    else:
        auth = ""
        if userinfo is not None:
            user, sep, password = userinfo.partition(":")
            auth = quote(user, safe="") + (":" + quote(password, safe="") if sep else "") + "@"
        parsed = parse_uri(f"mongodb://{auth}{body}", default_port=None, validate=False)
        nodes, options = parsed["nodelist"], parsed["options"]
    return (tuple(_host_text(h, p) for h, p in nodes),
            tuple((str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in options.items()))


def _parse_url(body: str) -> tuple[tuple[str, ...], str]:
    """Hosts and path of a PostgreSQL, JDBC or Redis URL; every host checked by urllib."""
    parts = urlsplit("//" + body)
    hosts = []
    for entry in parts.netloc.split(","):
        if not entry:
            if parts.netloc:
                raise ValueError("empty host (or extra comma) in the host list")
            continue
        one = urlsplit("//" + entry)
        port = one.port  # raises ValueError for a port that is not a number in range
        name = one.hostname or ""
        if entry.startswith("$("):  # a $(VAR) reference to a host list, resolved at runtime
            name = entry
        elif not name:
            raise ValueError("a port without a host name")
        hosts.append(_host_text(name, port) if not entry.startswith("$(") else name)
    return tuple(hosts), parts.path


def _reason(exc: Exception) -> str:
    """The parser's reason without the values it quotes (a malformed port may be a password)."""
    first = str(exc).split(". ")[0].split(": ")[0]
    return re.sub(r"'[^']*'|\"[^\"]*\"", "(value not shown)", first).strip() or type(exc).__name__


def parse(text: str, span: Span, *, location: str = "", key: str = "",
          consumers: tuple[Any, ...] = ()) -> ConnectionString:
    """Parse one located connection string; a parser error becomes :attr:`ConnectionString.problem`."""
    scheme = span.scheme
    effective = span.inner_scheme or scheme
    userinfo = text[span.userinfo[0]:span.userinfo[1]] if span.userinfo else None
    body = text[span.body[0]:span.body[1]]
    rest, _, raw_query = body.partition("?")
    hosts_part, slash, path = rest.partition("/")
    query = _split_query(raw_query)
    problem = f"double scheme {scheme}://{effective}://" if span.inner_scheme else ""
    hosts: tuple[str, ...] = tuple(h for h in hosts_part.split(",") if h)
    options: tuple[tuple[str, str], ...] = ()
    try:
        if FAMILY[effective] == "mongo":
            hosts, options = _parse_mongo(effective, userinfo, body) if hosts_part else ((), ())
        else:
            hosts, _ = _parse_url(body)
    except ValueError as exc:
        problem = problem or f"not a valid {effective}:// connection string ({_reason(exc)})"
    return ConnectionString(
        db=FAMILY[effective], scheme=scheme, userinfo=userinfo, hosts=hosts, path=slash + path, query=query,
        location=location, consumers=consumers, problem=problem, inner_scheme=span.inner_scheme,
        options=options, key=key)


def find(text: str, *, location: str = "", key: str = "",
         consumers: tuple[Any, ...] = ()) -> Iterator[ConnectionString]:
    """Every connection string in ``text`` (a value, a config file, a list of URIs), parsed."""
    for found in _parsed(text):
        yield replace(found, location=location, key=key, consumers=consumers) if location or key or consumers \
            else found


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[ConnectionString, ...]:
    """Parsing is pure: the same value in many containers and pairs is parsed once per run."""
    return tuple(parse(text, span) for span in locate(text))
