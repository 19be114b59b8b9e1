"""The Merkle tree of RFC 9162 (Certificate Transparency 2.0, §2.1) with SM3 as the hash.

    leaf:  SM3(0x00 ‖ entry)        node: SM3(0x01 ‖ left ‖ right)

Pure functions over a "subtree hash" lookup, so that the same code serves the live log (hashes
stored per complete subtree), an archive package (hashes carried in the proof) and the tests
(hashes computed from a list). Proofs are gathered in two passes: first the coordinates of the
subtrees a proof needs, then their hashes in one fetch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from signing.digest import sm3

Range = tuple[int, int]  # [start, end) of leaf indexes


def leaf_hash(entry: bytes) -> bytes:
    return sm3(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sm3(b"\x01" + left + right)


EMPTY_ROOT = sm3(b"")


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def aligned(r: Range) -> bool:
    """Whether a range is one complete, aligned subtree (what the log stores)."""
    start, end = r
    size = end - start
    return size > 0 and size & (size - 1) == 0 and start % size == 0


def decompose(r: Range) -> list[Range]:
    """The complete aligned subtrees whose hashes give MTH(D[start:end]) (RFC 9162's own split)."""
    start, end = r
    if aligned(r) or end - start == 1:
        return [r]
    k = _split(end - start)
    return decompose((start, start + k)) + decompose((start + k, end))


def subtree_hash(r: Range, known: Callable[[Range], bytes]) -> bytes:
    """MTH(D[start:end]) from the hashes of complete aligned subtrees."""
    start, end = r
    if aligned(r) or end - start == 1:
        return known(r)
    k = _split(end - start)
    return node_hash(subtree_hash((start, start + k), known), subtree_hash((start + k, end), known))


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes make PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf side first."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    out: list[Range] = []

    def path(m: int, start: int, end: int) -> None:
        n = end - start
        if n == 1:
            return
        k = _split(n)
        if m < k:
            path(m, start, start + k)
            out.append((start + k, end))
        else:
            path(m - k, start + k, end)
            out.append((start, start + k))

    path(index, 0, size)
    return out


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The subtrees whose hashes make PROOF(old, D[0:new]) (RFC 9162 §2.1.4.1)."""
    if not 0 < old <= new:
        raise ValueError("sizes out of order")
    out: list[Range] = []

    def subproof(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                out.append((start, end))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, start + k, complete)
            out.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            out.append((start, start + k))

    if old < new:
        subproof(old, 0, new, True)
    return out


def needed(ranges: Iterable[Range]) -> set[Range]:
    """Every complete aligned subtree (or single leaf) the given ranges are made of."""
    return {piece for r in ranges for piece in decompose(r)}


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (the reference definition, for tests and small packages)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# ---------------------------------------------------------------- the right edge, for appends
def push(frontier: list[tuple[int, bytes]], leaf: bytes, size: int) -> list[tuple[int, int, bytes]]:
    """Append leaf number ``size`` (0-based) to the frontier (the complete subtrees of the tree's
    binary decomposition, largest first); return the subtrees it completed as (level, index, hash)."""
    frontier.append((0, leaf))
    made: list[tuple[int, int, bytes]] = []
    n = size + 1
    while len(frontier) >= 2 and frontier[-1][0] == frontier[-2][0]:
        level, right = frontier.pop()
        _, left = frontier.pop()
        h = node_hash(left, right)
        frontier.append((level + 1, h))
        made.append((level + 1, (n >> (level + 1)) - 1, h))
    return made


def frontier_root(frontier: Sequence[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    r = frontier[-1][1]
    for _, h in reversed(frontier[:-1]):
        r = node_hash(h, r)
    return r


def pack_frontier(frontier: Sequence[tuple[int, bytes]]) -> bytes:
    return b"".join(bytes([level]) + h for level, h in frontier)


def unpack_frontier(data: bytes | None) -> list[tuple[int, bytes]]:
    data = data or b""
    return [(data[i], data[i + 1 : i + 33]) for i in range(0, len(data), 33)]
