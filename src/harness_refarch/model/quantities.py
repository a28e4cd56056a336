"""Kubernetes resource quantities and JVM heap sizes as plain numbers.

CPU becomes cores (float), memory and storage become bytes (int), following the suffixes of
k8s.io/apimachinery's resource.Quantity. JVM heaps as Harness writes them (``"2048m"``,
``"1024"``, ``768``, ``"2g"``) become bytes, bare numbers meaning MiB.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
            "P": Decimal(10**15), "E": Decimal(10**18)}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_JVM = re.compile(r"^(?:-Xmx)?([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT])?[bB]?$")


class QuantityError(ValueError):
    """A value that is not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """Parse a Kubernetes quantity (``500m``, ``1.5``, ``4Gi``, ``1e3``) into a Decimal."""
    if isinstance(value, bool) or value is None:
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation as exc:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from exc
    return base * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def cpu_cores(value: object) -> float:
    return float(parse_quantity(value))


def memory_bytes(value: object) -> int:
    return int(parse_quantity(value))


def jvm_heap_bytes(value: object) -> int:
    """Parse a JVM heap setting; a bare number means MiB (Harness's ``MEMORY: '2048'``)."""
    text = str(value).strip()
    match = _JVM.match(text)
    if not match:
        raise QuantityError(f"{value!r} is not a JVM memory size such as '2048m' or '2g'")
    number, unit = Decimal(match.group(1)), (match.group(2) or "m").lower()
    return int(number * {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[unit])


def format_cores(cores: float) -> str:
    return f"{cores:.3g} cores" if cores >= 1 else f"{round(cores * 1000)}m"


def format_bytes(n: float) -> str:
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.4g}{unit}"
    return f"{n:.0f}"
