"""A small, stdlib-only writer of bbolt (etcd-io/bbolt) database files.

Only what a reader needs is produced: a fresh database as if written by one
transaction, with no free pages. Layout of the file:

    page 0, 1   meta pages (identical apart from txid; the reader picks txid 1)
    page 2      an empty freelist page
    page 3...   B+tree nodes of every bucket, children before their parents

Every page starts with a 16-byte header ``<id u64, flags u16, count u16, overflow u32>``.
Leaf elements are ``<flags u32, pos u32, ksize u32, vsize u32>`` and branch elements
``<pos u32, ksize u32, pgid u64>``; ``pos`` is counted from the element itself to its key,
and the keys (and values) follow the element array. A node larger than one page spills
into ``overflow`` consecutive pages. A nested bucket is a leaf element with flag 0x01 whose
value is a 16-byte bucket header ``<root pgid u64, sequence u64>``; root 0 means "inline":
the bucket's single leaf page image follows the header inside the value.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

Tree = Mapping[bytes, Union[bytes, "Tree"]]

MAGIC = 0xED0CDAED
VERSION = 2
DEFAULT_PAGE_SIZE = 4096

BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10
BUCKET_LEAF_FLAG = 0x01

PAGE_HEADER = struct.Struct("<QHHI")
LEAF_ELEMENT = struct.Struct("<IIII")
BRANCH_ELEMENT = struct.Struct("<IIQ")
BUCKET_HEADER = struct.Struct("<QQ")
META = struct.Struct("<IIIIQQQQQ")  # without the trailing checksum

FNV64_OFFSET = 0xCBF29CE484222325
FNV64_PRIME = 0x100000001B3


def fnv1a_64(data: bytes) -> int:
    """FNV-1a, 64 bit: the checksum bbolt stores at the end of a meta page."""
    h = FNV64_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


@dataclass
class _Element:
    key: bytes
    value: bytes
    flags: int = 0  # BUCKET_LEAF_FLAG for nested buckets


def _leaf_size(elements: list[_Element]) -> int:
    return PAGE_HEADER.size + sum(LEAF_ELEMENT.size + len(e.key) + len(e.value) for e in elements)


def _branch_size(keys: list[bytes]) -> int:
    return PAGE_HEADER.size + sum(BRANCH_ELEMENT.size + len(k) for k in keys)


def _encode_leaf(page_id: int, elements: list[_Element]) -> bytes:
    """Header, element array, then key+value of each element in order."""
    header = PAGE_HEADER.pack(page_id, LEAF_PAGE, len(elements), 0)
    array = bytearray()
    data = bytearray()
    data_start = len(elements) * LEAF_ELEMENT.size
    for i, e in enumerate(elements):
        pos = data_start + len(data) - i * LEAF_ELEMENT.size
        array += LEAF_ELEMENT.pack(e.flags, pos, len(e.key), len(e.value))
        data += e.key + e.value
    return header + bytes(array) + bytes(data)


def _encode_branch(page_id: int, children: list[tuple[bytes, int]]) -> bytes:
    header = PAGE_HEADER.pack(page_id, BRANCH_PAGE, len(children), 0)
    array = bytearray()
    data = bytearray()
    data_start = len(children) * BRANCH_ELEMENT.size
    for i, (key, child) in enumerate(children):
        pos = data_start + len(data) - i * BRANCH_ELEMENT.size
        array += BRANCH_ELEMENT.pack(pos, len(key), child)
        data += key
    return header + bytes(array) + bytes(data)


def _chunk(items: list, size_of, page_size: int) -> list[list]:
    """Split items into consecutive groups whose node fits one page (if it can)."""
    groups: list[list] = []
    current: list = []
    for item in items:
        if current and size_of(current + [item]) > page_size:
            groups.append(current)
            current = []
        current.append(item)
    groups.append(current)
    return groups


class _Writer:
    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.pages: list[bytes] = []  # images of pages 3.., each a multiple of page_size
        self.next_id = 3

    def _store(self, encode) -> int:
        """Allocate pages for a node; `encode(page_id)` returns its unpadded image."""
        page_id = self.next_id
        image = encode(page_id)
        count = -(-len(image) // self.page_size)
        if count > 1:  # patch the overflow field of the header
            pid, flags, n, _ = PAGE_HEADER.unpack_from(image)
            image = PAGE_HEADER.pack(pid, flags, n, count - 1) + image[PAGE_HEADER.size :]
        self.pages.append(image.ljust(count * self.page_size, b"\0"))
        self.next_id += count
        return page_id

    def write_bucket(self, tree: Tree) -> int:
        """Write a bucket's B+tree and return its root page id."""
        elements = [self._element(key, tree[key]) for key in sorted(tree)]
        level = [
            (group[0].key if group else b"", self._store(lambda pid, g=group: _encode_leaf(pid, g)))
            for group in _chunk(elements, _leaf_size, self.page_size)
        ]
        while len(level) > 1:
            level = [
                (group[0][0], self._store(lambda pid, g=group: _encode_branch(pid, g)))
                for group in _chunk(level, lambda g: _branch_size([k for k, _ in g]), self.page_size)
            ]
        return level[0][1]

    def _element(self, key: bytes, value) -> _Element:
        if not isinstance(key, (bytes, bytearray)) or not key:
            raise TypeError(f"bbolt keys must be non-empty bytes, got {key!r}")
        if isinstance(value, (bytes, bytearray)):
            return _Element(bytes(key), bytes(value))
        if isinstance(value, Mapping):
            return _Element(bytes(key), self._bucket_value(value), BUCKET_LEAF_FLAG)
        raise TypeError(f"value for {key!r} must be bytes or a dict, got {type(value).__name__}")

    def _bucket_value(self, tree: Tree) -> bytes:
        """Small buckets of plain values are stored inline, as bbolt itself does."""
        if all(isinstance(v, (bytes, bytearray)) for v in tree.values()):
            elements = [_Element(bytes(k), bytes(tree[k])) for k in sorted(tree)]
            if _leaf_size(elements) <= self.page_size // 4:
                return BUCKET_HEADER.pack(0, 0) + _encode_leaf(0, elements)
        return BUCKET_HEADER.pack(self.write_bucket(tree), 0)


def _meta_page(page_id: int, page_size: int, root: int, high_water: int, txid: int) -> bytes:
    fields = META.pack(MAGIC, VERSION, page_size, 0, root, 0, 2, high_water, txid)
    meta = fields + struct.pack("<Q", fnv1a_64(fields))
    return (PAGE_HEADER.pack(page_id, META_PAGE, 0, 0) + meta).ljust(page_size, b"\0")


def write_bbolt(path: str | os.PathLike[str], tree: Tree, page_size: int = DEFAULT_PAGE_SIZE) -> None:
    """Write `tree` (bytes key -> bytes value or nested dict = bucket) as a bbolt file.

    The top level holds buckets only, as in bbolt. The file is written to a temporary
    name and renamed, so a reader never sees half a database.
    """
    for key, value in tree.items():
        if not isinstance(value, Mapping):
            raise TypeError(f"top-level entry {key!r} must be a bucket (dict)")
    writer = _Writer(page_size)
    root = writer.write_bucket(tree)
    high_water = writer.next_id
    freelist = PAGE_HEADER.pack(2, FREELIST_PAGE, 0, 0).ljust(page_size, b"\0")
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as f:
        f.write(_meta_page(0, page_size, root, high_water, txid=0))
        f.write(_meta_page(1, page_size, root, high_water, txid=1))
        f.write(freelist)
        for image in writer.pages:
            f.write(image)
    os.replace(tmp, path)
