"""Helm's output to the canonical manifest, one document at a time, with a memo of documents.

The renders of one run share most of their documents: a "keys that do nothing" probe differs
from its pair's render in the few objects the removed key reaches, a determinism repeat in its
generated values. Parsing a whole render (the YAML constructor, shape checks, masking) costs the
same Python work each time; here each document is parsed once per process and its stored form
(:func:`~harness_refarch.helm.store.document`) is kept, keyed by its exact text and the digest key.

Helm writes one object per document, each after a ``---`` line, and splits templates into
documents at such lines itself; YAML ends any node at a ``---`` line too. So the text is cut
there and each piece parsed alone. Anything but plain objects (a ``List``, a document that is not
an object, YAML that does not parse, a piece holding more than one document) takes the whole-text
path, which gives exactly the messages it always gave. Either way the result is byte for byte
what ``canonical(parse_manifest(text))`` gives (tests compare the two on real renders).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import yaml

from harness_refarch.helm.store import canonical, document_tail, encode, encode_joined, from_document, masked
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import (
    PROCESS_KEY,
    SAFE_LOADER,
    Manifest,
    ValuePath,
    parse_manifest,
    redact_secret,
)
from harness_refarch.model.shapes import normalise

_SEPARATOR = re.compile(r"^(?=---[ \t]*$)", re.MULTILINE)  # before each bare document-start line
MEMO_CHARS = 64 << 20  # document text kept in the memo per process, at most


@dataclass(frozen=True)
class _Object:
    """One document's object as the store keeps it."""

    kind: str
    name: str
    text: str  # its JSON, as :func:`~harness_refarch.helm.store.encode` writes it
    secret: dict[str, str] | None  # a Secret's value digests
    secret_name: str  # the name they are kept under: as written, before the shape check
    found: tuple[tuple[ValuePath, str], ...]  # masked values: path and keyed digest
    problems: tuple[Finding, ...]  # shape findings (the field was dropped)


class _NotPlain(Exception):
    """A piece the whole-text parse must handle (its messages name the document's place)."""


class _Memo:
    """Least recently used documents, bounded by their text's size; shared by render threads."""

    def __init__(self, chars: int = MEMO_CHARS) -> None:
        self.chars = chars
        self._held = 0
        self._items: OrderedDict[tuple[bytes, str], _Object | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, str]) -> tuple[bool, _Object | None]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key]
            return False, None

    def put(self, key: tuple[bytes, str], value: _Object | None) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._held += len(key[1])
            while self._held > self.chars and self._items:
                (_, text), _ = self._items.popitem(last=False)
                self._held -= len(text)


_MEMO = _Memo()


def canonical_render(text: str, namespace: str, source: str | None = None, key: bytes = PROCESS_KEY) -> Manifest:
    """``canonical(parse_manifest(text, namespace, source, key), key)``, reusing every document
    this process parsed before."""
    try:
        objects = [obj for piece in _SEPARATOR.split(text) if (obj := _document(piece, key)) is not None]
    except _NotPlain:
        return canonical(parse_manifest(text, namespace=namespace, source=source, digest_key=key), key)
    secrets: dict[tuple[str, str], dict[str, str]] = {}
    changed: dict[tuple[str, str], tuple[tuple[ValuePath, str], ...]] = {}
    problems: list[Finding] = []
    for obj in objects:
        if obj.secret is not None:
            secrets[("Secret", obj.secret_name)] = obj.secret
        if obj.found:
            changed[(obj.kind, obj.name)] = obj.found
        problems += obj.problems
    stored = encode_joined(namespace, (obj.text for obj in objects), document_tail(problems, secrets, {}, changed))
    made = from_document(json.loads(stored), source or "the rendered chart")
    made.stored_text = (key, stored)
    return made


def _document(piece: str, key: bytes) -> _Object | None:
    """The object of one piece of helm's output (None: the piece holds none), from the memo."""
    hit, obj = _MEMO.get((key, piece))
    if hit:
        return obj
    obj = _parse(piece, key)
    if obj is None or obj.secret is None:  # generated Secret values differ in every render: not kept
        _MEMO.put((key, piece), obj)
    return obj


def _parse(piece: str, key: bytes) -> _Object | None:
    try:
        docs = [d for d in yaml.load_all(piece, Loader=SAFE_LOADER) if d is not None]
    except yaml.YAMLError:
        raise _NotPlain from None
    if not docs:
        return None
    doc = docs[0]
    if len(docs) > 1 or not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) or not doc["kind"] \
            or (doc["kind"].endswith("List") and "items" in doc):
        raise _NotPlain
    secret = redact_secret(doc, key)
    meta = doc.get("metadata")
    name = str(meta.get("name", "")) if isinstance(meta, dict) else ""
    problems = tuple(normalise(doc, f"{doc['kind']}/{name}"))
    body, found = masked(doc, key)
    meta = body.get("metadata") or {}
    return _Object(str(body["kind"]), str(meta.get("name", "")), encode(body), secret, name, tuple(found),
                   problems)
