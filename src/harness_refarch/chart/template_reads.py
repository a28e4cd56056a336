"""Which values paths Go templates read, followed through named templates, dicts and variables.

A small abstract interpreter of Helm templates: every action ``{{ ... }}`` is tokenised and its
pipelines evaluated to *references* (``.Values.global.backup``, the argument of a named template,
a ``dict`` literal of references). A reference counts as a read only where a template really
uses it:

* ``exact``: its value is used (``if``, ``eq``, ``hasKey``, ``range`` over its keys, a field of it);
* ``whole``: everything below it reaches the output (``toYaml``, ``printf``, printed as is);
* ``passed``: it flows somewhere this interpreter does not follow (``merge``, ``set``, a template
  whose name is computed): keys below it *may* be read, and only a render can tell.

``include "t" (dict "global" .Values.global)`` reads nothing by itself: the reads of ``t`` on its
argument (``.global.imageRegistry``) are substituted, so only ``global.imageRegistry`` is read.
``range`` gives a wildcard (``global.database.*.installed``). The scan errs on the side of fewer
reads: a key it does not see read is only a candidate, which rendering then decides.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

ANY = "*"  # a path part standing for every key (range, index with a computed key)
EXACT, WHOLE, PASSED = "exact", "whole", "passed"
RANK = {PASSED: 0, EXACT: 1, WHOLE: 2}  # a stronger read wins

Path = tuple[str, ...]


@dataclass(frozen=True)
class Ref:
    """A reference: ``root`` is ``root`` (the chart's top-level context) or ``arg`` (the data a
    named template was given); ``path`` is below it (``("Values", "global")``)."""

    root: str
    path: Path

    def sub(self, *parts: str) -> Ref:
        return Ref(self.root, (*self.path, *parts))


@dataclass(frozen=True)
class DictV:
    items: tuple[tuple[str, Value], ...]

    def get(self, key: str) -> Value:
        return dict(self.items).get(key)


@dataclass(frozen=True)
class ListV:
    """A list literal: its elements."""

    items: tuple[Value, ...]


@dataclass(frozen=True)
class OneOf:
    """One of several values (``default``, ``merge``, a variable assigned again)."""

    items: tuple[Value, ...]


Value = Union[Ref, DictV, ListV, OneOf, None]  # noqa: UP007 - a runtime alias


def _elements(value: Value) -> tuple[Value, ...]:
    """What ranging over ``value`` yields, one value per possible element."""
    if isinstance(value, ListV):
        return value.items
    if isinstance(value, OneOf):
        return tuple(e for item in value.items for e in _elements(item))
    if isinstance(value, (Ref, DictV)):
        return (_field(value, (ANY,)),)
    return ()


@dataclass(frozen=True)
class Read:
    root: str
    path: Path
    mode: str


@dataclass(frozen=True)
class Call:
    name: str
    arg: Value


@dataclass
class Summary:
    """What one block (a file's top-level text or a ``define``) reads and which templates it calls."""

    name: str | None
    reads: set[Read] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)


# -- tokens ----------------------------------------------------------------------------------------
# an action, with "}}" allowed inside its string literals ({{ "{{ x }}" }} prints braces)
_ACTION = re.compile(r"""\{\{(-?)((?:"(?:[^"\\]|\\.)*"|`[^`]*`|[^"`}]|\}(?!\}))*?)(-?)\}\}""", re.S)
_COMMENT = re.compile(r"^\s*/\*.*\*/\s*$", re.S)
_TOKEN = re.compile(r"""
    (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*')
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<decl>:=|=)
  | (?P<open>\()
  | (?P<close>\)(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<pipe>\|)
  | (?P<comma>,)
  | (?P<num>[-+]?[0-9][0-9A-Za-z_.+-]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>\S)
""", re.X)

Token = tuple[str, str]


def _tokens(text: str) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        out.append((kind, m.group(kind)))
    return out


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return re.sub(r"\\(.)", r"\1", text[1:-1])


# -- parsing a pipeline into nested commands ---------------------------------------------------------
# operand: ("str", s) | ("ref", base, fields) | ("paren", pipeline, fields) | ("ident", name) | ("lit", "")
Operand = tuple[object, ...]
Command = list[Operand]
Pipeline = list[Command]


def _parse(tokens: list[Token], pos: int = 0, nested: bool = False) -> tuple[Pipeline, int]:
    """Commands separated by ``|``; a parenthesised pipeline becomes one ``paren`` operand."""
    pipeline: Pipeline = [[]]
    while pos < len(tokens):
        kind, text = tokens[pos]
        pos += 1
        if kind == "close":
            if nested:
                return pipeline, pos
            continue
        if kind == "open":
            inner, pos = _parse(tokens, pos, nested=True)
            close = tokens[pos - 1][1] if tokens[pos - 1][0] == "close" else ")"
            pipeline[-1].append(("paren", inner, tuple(p for p in close[1:].split(".") if p)))
        elif kind == "pipe":
            pipeline.append([])
        elif kind == "str":
            pipeline[-1].append(("str", _unquote(text)))
        elif kind == "var":
            base, _, rest = text.partition(".")
            pipeline[-1].append(("ref", base, tuple(p for p in rest.split(".") if p)))
        elif kind == "field":
            pipeline[-1].append(("ref", ".", tuple(p for p in text.split(".") if p)))
        elif kind == "ident":
            pipeline[-1].append(("ident", text))
        else:
            pipeline[-1].append(("lit", text))
    return pipeline, pos


# -- evaluation -------------------------------------------------------------------------------------
_WHOLE_FUNCS = frozenset({
    "toYaml", "toJson", "toPrettyJson", "toRawJson", "mustToYaml", "mustToJson", "mustToPrettyJson",
    "mustToRawJson", "tpl", "print", "printf", "println", "quote", "squote", "toString", "toStrings",
    "b64enc", "sha256sum", "sha1sum", "adler32sum", "nindent", "indent", "join", "upper", "lower",
    "trim", "trimSuffix", "trimPrefix", "replace", "trunc", "first", "last", "fromYamlArray",
})
# functions whose result holds their arguments: reads happen where the result is used
_BUILD_FUNCS = frozenset({
    "list", "append", "mustAppend", "prepend", "mustPrepend", "concat", "compact", "mustCompact",
    "uniq", "mustUniq", "merge", "mergeOverwrite", "mustMerge", "mustMergeOverwrite", "deepCopy",
    "mustDeepCopy", "without", "mustWithout", "coalesce", "required", "default", "ternary", "dig",
})
# functions that put a value where this scan does not follow it
_PASSED_FUNCS = frozenset({"omit", "pick"})
_KEYS_FUNCS = frozenset({"keys", "len", "values", "sortAlpha"})


class _Block:
    """Evaluates the actions of one block; ``.``/``$`` start as ``root`` (files) or ``arg`` (defines)."""

    def __init__(self, summary: Summary, root: str) -> None:
        self.summary = summary
        self.dollar: Value = Ref(root, ())
        # one entry per open control structure: (kind, dot, variables)
        self.stack: list[tuple[str, Value, dict[str, Value]]] = [("block", Ref(root, ()), {})]

    @property
    def dot(self) -> Value:
        return self.stack[-1][1]

    def var(self, name: str) -> Value:
        for _, _, variables in reversed(self.stack):
            if name in variables:
                return variables[name]
        return self.dollar if name == "$" else None

    def bind(self, name: str, value: Value, declare: bool) -> None:
        if not declare:
            for _, _, variables in reversed(self.stack):
                if name in variables:
                    variables[name] = _join(variables[name], value)
                    return
        self.stack[-1][2][name] = value

    # reads
    def use(self, value: Value, mode: str) -> None:
        if isinstance(value, Ref):
            self.summary.reads.add(Read(value.root, value.path, mode))
        elif isinstance(value, DictV):
            for _, item in value.items:
                self.use(item, mode)
        elif isinstance(value, (ListV, OneOf)):
            for item in value.items:
                self.use(item, mode)

    def operand(self, op: Operand) -> Value:
        kind = op[0]
        if kind == "ref":
            base, fields = str(op[1]), tuple(str(f) for f in _seq(op[2]))
            start = self.dot if base == "." else self.var(base)
            return _field(start, fields)
        if kind == "paren":
            return _field(self.pipeline(op[1]), tuple(str(f) for f in _seq(op[2])))
        return None

    def pipeline(self, pipeline: object) -> Value:
        result: Value = None
        first = True
        for command in _seq(pipeline):
            args: list[Operand] = list(_seq(command))
            if not first:
                args.append(("value", result))
            result = self.command(args)
            first = False
        return result

    def arg(self, op: Operand) -> Value:
        return op[1] if op[0] == "value" else self.operand(op)  # type: ignore[return-value]

    def command(self, ops: list[Operand]) -> Value:
        if not ops:
            return None
        head = ops[0]
        if head[0] != "ident":
            if len(ops) == 1:
                return self.arg(head)
            for op in ops:  # not a function call (a method, say): use what it mentions
                self.use(self.arg(op), EXACT)
            return None
        name = str(head[1])
        rest = ops[1:]
        strings = [str(op[1]) if op[0] == "str" else None for op in rest]
        values = [self.arg(op) for op in rest]
        if name in ("include", "template"):
            if rest and rest[0][0] == "str":
                self.summary.calls.append(Call(str(rest[0][1]), values[1] if len(values) > 1 else None))
            elif rest and _names_template_file(rest[0]):
                pass  # (print $.Template.BasePath "/config.yaml"): a file of the chart, read anyway
            else:  # a computed template name: its reads cannot be followed
                for value in values:
                    self.use(value, PASSED)
            return None
        if name == "dict":
            items = []
            for i in range(0, len(rest) - 1, 2):
                key = strings[i]
                if key is None:
                    self.use(values[i + 1], PASSED)
                else:
                    items.append((key, values[i + 1]))
            return DictV(tuple(items))
        if name in ("index", "get"):
            if not values:
                return None
            target = values[0]
            for key in strings[1:]:
                target = _field(target, (key if key is not None else ANY,))
            return target
        if name == "hasKey" and len(values) == 2:
            self.use(_field(values[0], (strings[1] or ANY,)), EXACT)
            return None
        if name == "pluck" and values:
            out: Value = None
            for value in values[1:]:
                out = _field(value, (strings[0] or ANY,))
                self.use(out, EXACT)
            return out
        if name in _BUILD_FUNCS:
            if name == "ternary" and len(values) == 3:
                self.use(values[2], EXACT)
                values = values[:2]
            if name == "dig":  # dig "a" "b" default dict
                return _field(values[-1], tuple(s or ANY for s in strings[:-2])) if len(values) >= 3 else None
            kept = tuple(v for v in values if v is not None)
            if name == "list":
                return ListV(tuple(values))
            if name in ("append", "mustAppend", "prepend", "mustPrepend", "concat", "compact", "mustCompact",
                        "uniq", "mustUniq", "without", "mustWithout"):
                return ListV(tuple(e for v in kept for e in (_elements(v) if not _is_item(name, v, values) else (v,))))
            return kept[0] if len(kept) == 1 else OneOf(kept) if kept else None
        if name in _KEYS_FUNCS:
            for value in values:
                self.use(_field(value, (ANY,)), EXACT)
            return None
        if name in ("set", "unset"):  # set $d "k" v: $d is changed, not read; v goes where we cannot follow
            if name == "set" and len(values) == 3:
                self.use(values[2], PASSED)
            return values[0] if values else None
        if name == "tpl":  # its context argument only lends the string what to refer to
            values = values[:1]
        mode = WHOLE if name in _WHOLE_FUNCS else PASSED if name in _PASSED_FUNCS else EXACT
        for value in values:
            self.use(value, mode)
        return None

    # actions
    def action(self, text: str) -> None:
        tokens = _tokens(text)
        if not tokens:
            return
        word = tokens[0][1] if tokens[0][0] == "ident" else ""
        if word == "end":
            if len(self.stack) > 1:
                self.stack.pop()
            return
        if word == "else":
            if len(self.stack) > 1:
                kind, _, _ = self.stack.pop()
                outer = self.stack[-1][1]
                if len(tokens) > 1 and tokens[1][0] == "ident" and tokens[1][1] in ("if", "with"):
                    self._open(tokens[1][1], tokens[2:], else_of=kind)
                else:
                    self.stack.append((kind, outer, {}))
            return
        if word in ("if", "with", "range"):
            self._open(word, tokens[1:])
            return
        if word in ("break", "continue", "define", "block"):
            return
        # a plain action: a declaration, or output
        name, declare, rest = _declaration(tokens)
        value = self.pipeline(_parse(rest)[0])
        if name is not None:
            self.bind(name, value, declare)
        else:
            self.use(value, WHOLE)

    def _open(self, word: str, tokens: list[Token], else_of: str = "") -> None:
        variables: dict[str, Value] = {}
        if word == "range":
            names, rest = _range_vars(tokens)
            value = self.pipeline(_parse(rest)[0])
            element = _field(value, (ANY,))
            self.use(element, EXACT)  # the keys it ranges over decide how often the body runs
            if names:
                variables[names[-1]] = element
            self.stack.append(("range", element, variables))
            return
        name, _declare, rest = _declaration(tokens)
        value = self.pipeline(_parse(rest)[0])
        self.use(value, EXACT)
        if name is not None:
            variables[name] = value
        dot = value if word == "with" else self.dot
        self.stack.append((word, dot, variables))


def _names_template_file(op: Operand) -> bool:
    """``(print $.Template.BasePath "/x.yaml")``: a template file of the chart itself, whose
    reads count already because helm renders it on its own."""
    if op[0] != "paren":
        return False
    return any(o[0] == "ref" and tuple(_seq(o[2]))[:2] == ("Template", "BasePath")
               for command in _seq(op[1]) for o in _seq(command))


def _is_item(name: str, value: Value, values: list[Value]) -> bool:
    """``append $list x``: ``x`` is one element (not a list to splice); ``prepend`` likewise."""
    return name in ("append", "mustAppend", "prepend", "mustPrepend") and len(values) == 2 and value is values[1]


def _seq(value: object) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else ()


def _join(a: Value, b: Value) -> Value:
    """A variable assigned again (``$x = ...``): it may hold either value afterwards."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    return OneOf((a, b))


def _field(value: Value, fields: Path) -> Value:
    for part in fields:
        if isinstance(value, Ref):
            value = value.sub(part)
        elif isinstance(value, DictV):
            value = value.get(part) if part != ANY else OneOf(tuple(v for _, v in value.items))
        elif isinstance(value, ListV):  # an element (range, index), nothing else
            value = OneOf(value.items) if part == ANY or part.isdigit() else None
        elif isinstance(value, OneOf):
            value = OneOf(tuple(_field(item, (part,)) for item in value.items))
        else:
            return None
    return value


def _declaration(tokens: list[Token]) -> tuple[str | None, bool, list[Token]]:
    if len(tokens) >= 2 and tokens[0][0] == "var" and tokens[1][0] == "decl" and "." not in tokens[0][1]:
        return tokens[0][1], tokens[1][1] == ":=", tokens[2:]
    return None, False, tokens


def _range_vars(tokens: list[Token]) -> tuple[list[str], list[Token]]:
    for i, (kind, _) in enumerate(tokens[:4]):
        if kind == "decl":
            names = [t for k, t in tokens[:i] if k == "var"]
            return names, tokens[i + 1:]
    return [], tokens


_DEFINE = re.compile(r"^\s*(?:define|block)\s+\"([^\"]+)\"")


def summarise(text: str) -> list[Summary]:
    """The blocks of one template file: its top-level text first, then one per ``define``
    (shared by identical files: a library chart is packaged into every chart using it)."""
    return list(_summarise(text))


@functools.lru_cache(maxsize=4096)
def _summarise(text: str) -> tuple[Summary, ...]:
    top = Summary(None)
    blocks = [top]
    current = _Block(top, "root")
    depth_in_define = 0
    outer = current
    for match in _ACTION.finditer(text):
        body = match.group(2)
        if _COMMENT.match(body):
            continue
        define = _DEFINE.match(body)
        if define and depth_in_define == 0:
            summary = Summary(define.group(1))
            blocks.append(summary)
            current = _Block(summary, "arg")
            depth_in_define = 1
            if body.lstrip().startswith("block"):  # a block is also executed in place with its argument
                arg = current.pipeline(_parse(_tokens(body)[2:])[0])
                outer.summary.calls.append(Call(define.group(1), arg))
            continue
        if depth_in_define:
            word = body.strip().split(None, 1)[0] if body.strip() else ""
            if word in ("if", "with", "range", "define", "block"):
                depth_in_define += 1
            elif word == "end":
                depth_in_define -= 1
                if depth_in_define == 0:
                    current = outer
                    continue
        current.action(body)
    return tuple(blocks)


# -- following calls ----------------------------------------------------------------------------
def _substitute(read: Read, arg: Value) -> Iterator[Read]:
    """A read of a named template on its argument, as a read of the caller's references."""
    if read.root != "arg":
        yield read
        return
    value = arg
    for i, part in enumerate(read.path):
        if isinstance(value, Ref):
            yield Read(value.root, (*value.path, *read.path[i:]), read.mode)
            return
        if isinstance(value, DictV):
            if part == ANY:
                for _, item in value.items:
                    yield from _substitute(Read("arg", read.path[i + 1:], read.mode), item)
                return
            value = value.get(part)
            continue
        if isinstance(value, ListV):  # a list's elements
            if part == ANY or part.isdigit():
                for item in value.items:
                    yield from _substitute(Read("arg", read.path[i + 1:], read.mode), item)
            return
        if isinstance(value, OneOf):
            for item in value.items:
                yield from _substitute(Read("arg", read.path[i:], read.mode), item)
            return
        return
    if isinstance(value, Ref):
        yield Read(value.root, value.path, read.mode)
    elif isinstance(value, (DictV, ListV, OneOf)):
        items = value.items if isinstance(value, (ListV, OneOf)) else tuple(v for _, v in value.items)
        for item in items:
            yield from _substitute(Read("arg", (), read.mode), item)


def _subst_value(value: Value, arg: Value) -> Value:
    """A call's argument expressed in the caller's terms (a nested call on ``.`` inside a define)."""
    if isinstance(value, Ref):
        if value.root != "arg":
            return value
        return _field(arg, value.path) if value.path else arg
    if isinstance(value, DictV):
        return DictV(tuple((k, _subst_value(v, arg)) for k, v in value.items))
    if isinstance(value, ListV):
        return ListV(tuple(_subst_value(v, arg) for v in value.items))
    if isinstance(value, OneOf):
        return OneOf(tuple(_subst_value(v, arg) for v in value.items))
    return None


class Resolver:
    """Expands calls of named templates (global to a chart tree) into the caller's reads."""

    def __init__(self, defines: Mapping[str, list[Summary]]) -> None:
        self.defines = defines
        self._memo: dict[str, frozenset[Read]] = {}
        self._active: set[str] = set()

    def define_reads(self, name: str) -> frozenset[Read]:
        """Reads of the named template, relative to its argument (``arg``) or absolute (``root``)."""
        if name in self._memo:
            return self._memo[name]
        if name in self._active:
            return frozenset()
        self._active.add(name)
        out: set[Read] = set()
        for summary in self.defines.get(name, ()):
            out |= self.expand(summary)
        self._active.discard(name)
        self._memo[name] = frozenset(out)
        return self._memo[name]

    def expand(self, summary: Summary) -> set[Read]:
        out = set(summary.reads)
        for call in summary.calls:
            for read in self.define_reads(call.name):
                out.update(_substitute(read, call.arg))
        return out


def values_reads(reads: Iterable[Read]) -> dict[Path, str]:
    """Values paths (chart-relative) read from the top-level context, with the strongest mode."""
    out: dict[Path, str] = {}
    for read in reads:
        if read.root != "root" or read.path[:1] != ("Values",) or len(read.path) < 2:
            continue  # not values, or the whole .Values handed on: nothing exact
        path = read.path[1:]
        if path not in out or RANK[read.mode] > RANK[out[path]]:
            out[path] = read.mode
    return out
