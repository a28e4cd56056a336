"""``--set`` as helm parses it (``strvals``): typed values, ``a\\.b`` keys, ``list[0]=x`` and
``{a,b}`` lists, applied onto an existing map. Messages name keys and positions, never values."""

from __future__ import annotations

import re
from typing import Any

from harness_refarch.chart.keypaths import KeyPath, dotted

SET_ORIGIN = "--set"  # the origin of the --set layer in messages ("--set #2 key")
# helm refuses list indexes above this (strvals.MaxIndex).
_MAX_INDEX = 65536
_INT64 = re.compile(r"[+-]?[0-9]+")


# -- --set (helm's strvals) --------------------------------------------------------------------
class SetSyntaxError(ValueError):
    """A ``--set`` argument helm would reject; the message names keys only, never values."""


class _SetParser:
    """helm's ``strvals`` parser for ``--set`` (typed values), applied onto an existing map.

    ``paths`` receives ``(key path, is_leaf)`` for every key the assignment sets; a path stops
    at the first list index, since the list is then what the layer sets.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.paths: list[tuple[KeyPath, bool]] = []

    # scanner
    def _until(self, stops: str) -> tuple[str, str | None]:
        """Runes up to the first unescaped stop rune (consumed); ``None`` stop at the end."""
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
                continue
            if char in stops:
                return "".join(out), char
            out.append(char)
        return "".join(out), None

    @staticmethod
    def _typed(text: str) -> Any:
        """helm's ``typedVal``: true/false/null (any case), base-10 int64 not starting with 0."""
        lowered = text.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        if lowered == "null":
            return None
        if text == "0":
            return 0
        if text and text[0] != "0" and _INT64.fullmatch(text):
            number = int(text)
            if -(2**63) <= number < 2**63:
                return number
        return text

    def _value_list(self) -> list[Any] | None:
        """``{a,b}`` after ``=``; None (nothing consumed) when the value is not a list."""
        if self.pos >= len(self.text) or self.text[self.pos] != "{":
            return None
        self.pos += 1
        items: list[Any] = []
        while True:
            item, stop = self._until(",}")
            if stop is None:
                raise SetSyntaxError("a list value must end with '}'")
            items.append(self._typed(item))
            if stop == "}":
                if self.pos < len(self.text) and self.text[self.pos] == ",":
                    self.pos += 1
                return items

    def _value(self) -> Any:
        listed = self._value_list()
        if listed is not None:
            return listed
        text, _ = self._until(",")
        return self._typed(text)

    def _index(self, key: str) -> int:
        text, stop = self._until("]")
        if stop is None or not re.fullmatch(r"-?[0-9]+", text):
            raise SetSyntaxError(f"key {key!r} has a list index that is not a number")
        index = int(text)
        if index < 0:
            raise SetSyntaxError(f"key {key!r} has a negative list index")
        if index > _MAX_INDEX:
            raise SetSyntaxError(f"key {key!r} has a list index above helm's limit {_MAX_INDEX}")
        return index

    @staticmethod
    def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
        if len(items) <= index:
            items = items + [None] * (index + 1 - len(items))
        items[index] = value
        return items

    def parse_into(self, data: dict[str, Any]) -> None:
        """Apply every comma-separated assignment of the argument onto ``data``."""
        while self.pos < len(self.text):
            self._key(data, ())

    def _key(self, data: dict[str, Any], prefix: KeyPath) -> None:
        key, stop = self._until("=[,.")
        path = (*prefix, key)
        if stop is None:
            if not key and not prefix:
                return  # a trailing comma
            raise SetSyntaxError(f"key {dotted(path)!r} has no value")
        if not key:
            raise SetSyntaxError(f"an empty key after {dotted(prefix)!r}" if prefix else "an empty key")
        if stop == ",":
            raise SetSyntaxError(f"key {dotted(path)!r} has no value (a comma ends it)")
        if stop == "=":
            self.paths.append((path, True))
            data[key] = self._value()
            return
        if stop == ".":
            inner = data.get(key)
            if not isinstance(inner, dict):
                inner = {}
            self.paths.append((path, False))
            self._key(inner, path)
            data[key] = inner
            return
        # stop == "[": a list, whatever it holds is set as a whole
        index = self._index(dotted(path))
        existing = data.get(key)
        items = list(existing) if isinstance(existing, list) else []
        self.paths.append((path, True))
        data[key] = self._list_item(items, index, path)

    def _list_item(self, items: list[Any], index: int, path: KeyPath) -> list[Any]:
        rest, stop = self._until("[.=")
        if rest:
            raise SetSyntaxError(f"key {dotted(path)!r} has unexpected text after a list index")
        if stop is None:
            raise SetSyntaxError(f"key {dotted(path)!r} has no value")
        if stop == "=":
            if self.pos >= len(self.text):
                return self._set_index(items, index, "")
            return self._set_index(items, index, self._value())
        if stop == "[":
            inner_index = self._index(dotted(path))
            current = items[index] if len(items) > index else None
            nested = list(current) if isinstance(current, list) else []
            return self._set_index(items, index, self._list_item(nested, inner_index, path))
        current = items[index] if len(items) > index else None
        inner = current if isinstance(current, dict) else {}
        sub = _SetParser(self.text)
        sub.pos = self.pos
        sub._key(inner, ())
        self.pos = sub.pos
        return self._set_index(items, index, inner)


def apply_set(data: dict[str, Any], argument: str) -> list[tuple[KeyPath, bool]]:
    parser = _SetParser(argument)
    parser.parse_into(data)
    return parser.paths
