"""A minimal reader for R lazy-load databases (``Rdata.rdx`` + ``Rdata.rdb``).

R packages store their ``data/`` objects this way: ``Rdata.rdx`` is a
gzip-compressed serialized list (``variables``: name -> (offset, length) into
the ``.rdb`` file; ``compressed``), and each object in ``Rdata.rdb`` is a
4-byte big-endian length plus a compressed serialization (zlib; bzip2 or xz
marked by a type byte when ``compressed`` is 2 or 3).

Only what data packages of text need is decoded: XDR serialization
(format 2 or 3) of NULL, symbols, pairlists, character/integer/logical/
double/raw vectors and lists, with attributes. Anything else raises
``ValueError``. This replaces a dependency on the ``rdata`` package (which
pulls in numpy, pandas and xarray) for ~150 lines.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

_NILSXP, _SYMSXP, _LISTSXP, _LANGSXP = 0, 1, 2, 6
_CHARSXP, _LGLSXP, _INTSXP, _REALSXP, _CPLXSXP = 9, 10, 13, 14, 15
_STRSXP, _VECSXP, _EXPRSXP, _RAWSXP = 16, 19, 20, 24
_REFSXP, _NILVALUE, _GLOBALENV, _UNBOUND, _MISSING, _BASENS = 255, 254, 253, 252, 251, 250
_EMPTYENV, _BASEENV = 242, 241
_NA_INT = -(2**31)


@dataclass
class RVector:
    """An R vector or list: its values and attributes (e.g. ``names``)."""

    values: list
    attributes: dict = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.refs = data, 0, []

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated R serialization")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def length(self) -> int:
        n = self.int()
        if n == -1:  # long vector: two 32-bit halves
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def header(self) -> None:
        if self.take(2) != b"X\n":
            raise ValueError("not an XDR R serialization (expected 'X\\n')")
        version = self.int()
        self.int(), self.int()  # writer version, minimal reader version
        if version == 3:
            self.take(self.int())  # native encoding name
        elif version != 2:
            raise ValueError(f"unsupported R serialization version {version}")

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, bool(flags & 0x200), bool(flags & 0x400)
        if kind == _NILVALUE or kind == _NILSXP:
            return None
        if kind in (_GLOBALENV, _UNBOUND, _MISSING, _BASENS, _EMPTYENV, _BASEENV):
            return None
        if kind == _REFSXP:
            index = flags >> 8 or self.int()
            return self.refs[index - 1]
        if kind == _SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == _CHARSXP:
            n = self.int()
            return None if n == -1 else self.take(n).decode("utf-8", "replace")
        if kind in (_LISTSXP, _LANGSXP):
            attributes = self.attributes() if has_attr else {}
            tag = self.item() if has_tag else None
            head = self.item()
            tail = self.item()
            pairs = [(tag, head)] + (tail if isinstance(tail, list) else [])
            del attributes
            return pairs
        if kind in (_LGLSXP, _INTSXP):
            n = self.length()
            raw = struct.unpack(f">{n}i", self.take(4 * n))
            values = [None if v == _NA_INT else (bool(v) if kind == _LGLSXP else v) for v in raw]
        elif kind == _REALSXP:
            n = self.length()
            values = list(struct.unpack(f">{n}d", self.take(8 * n)))
        elif kind == _CPLXSXP:
            n = self.length()
            parts = struct.unpack(f">{2 * n}d", self.take(16 * n))
            values = [complex(parts[i], parts[i + 1]) for i in range(0, 2 * n, 2)]
        elif kind == _RAWSXP:
            values = list(self.take(self.length()))
        elif kind in (_STRSXP, _VECSXP, _EXPRSXP):
            values = [self.item() for _ in range(self.length())]
        else:
            raise ValueError(f"unsupported R object type {kind} in serialization")
        return RVector(values, self.attributes() if has_attr else {})

    def attributes(self) -> dict:
        pairs = self.item() or []
        return {tag: _plain(value) for tag, value in pairs}


def _plain(value):
    return value.values if isinstance(value, RVector) else value


def unserialize(data: bytes):
    """Decode one XDR R serialization into Python values (RVector, list of pairs, str)."""
    reader = _Reader(data)
    reader.header()
    return reader.item()


def _decompress(blob: bytes, compressed: int) -> bytes:
    body = blob[4:]  # 4-byte big-endian uncompressed length first
    if compressed in (2, 3):
        kind, body = body[:1], body[1:]
        if kind == b"2":
            return bz2.decompress(body)
        if kind == b"X":
            return lzma.decompress(body)
        if kind == b"Z":
            return zlib.decompress(body)
        if kind == b"0":
            return body
        raise ValueError(f"unknown lazy-load compression type {kind!r}")
    return zlib.decompress(body)


def read_lazyload_db(rdx: Path, rdb: Path) -> dict[str, object]:
    """Every object of an R lazy-load DB by name, e.g. ``read_lazyload_db(d/"Rdata.rdx", ...)``.

    A character vector comes back as an :class:`RVector` whose ``values`` are
    ``str`` (``None`` for ``NA``).
    """
    index = unserialize(gzip.decompress(Path(rdx).read_bytes()))
    entries = dict(zip(index.attributes["names"], index.values))
    variables = entries["variables"]
    compressed = entries.get("compressed")
    compressed = int(compressed.values[0]) if isinstance(compressed, RVector) else 1
    blob = Path(rdb).read_bytes()
    objects = {}
    for name, where in zip(variables.attributes["names"], variables.values):
        offset, length = (int(v) for v in where.values)
        objects[name] = unserialize(_decompress(blob[offset : offset + length], compressed))
    return objects
