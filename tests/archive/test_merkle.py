"""RFC 9162 Merkle proofs with SM3: every proof for small trees against the reference definition,
the append frontier against the full recomputation, and tampered proofs refused."""

from __future__ import annotations

import pytest

from archive.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    frontier_root,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    push,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from signing.digest import sm3

LEAVES = [leaf_hash(f"event {i}".encode()) for i in range(70)]


def hashes(ranges: list[tuple[int, int]]) -> list[bytes]:
    return [root_of(LEAVES[a:b]) for a, b in ranges]


def test_hashing_is_rfc9162_with_sm3() -> None:
    assert leaf_hash(b"x") == sm3(b"\x00x") and node_hash(b"a", b"b") == sm3(b"\x01ab")
    assert root_of([]) == EMPTY_ROOT == sm3(b"")
    assert root_of(LEAVES[:3]) == node_hash(node_hash(LEAVES[0], LEAVES[1]), LEAVES[2])


@pytest.mark.parametrize("size", range(1, 40))
def test_every_inclusion_proof_verifies_and_no_other(size: int) -> None:
    root = root_of(LEAVES[:size])
    for index in range(size):
        proof = hashes(inclusion_ranges(index, size))
        assert verify_inclusion(index, size, LEAVES[index], proof, root)
        assert not verify_inclusion(index, size, LEAVES[index + 1], proof, root)
        if proof:
            assert not verify_inclusion(index, size, LEAVES[index], proof[:-1], root)
            bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
            assert not verify_inclusion(index, size, LEAVES[index], bad, root)


@pytest.mark.parametrize("new", range(1, 36))
def test_every_consistency_proof_verifies_and_no_other(new: int) -> None:
    for old in range(1, new + 1):
        proof = hashes(consistency_ranges(old, new))
        r_old, r_new = root_of(LEAVES[:old]), root_of(LEAVES[:new])
        assert verify_consistency(old, new, r_old, r_new, proof), (old, new)
        if old < new:
            assert not verify_consistency(old, new, root_of(LEAVES[1 : old + 1]), r_new, proof)
            assert not verify_consistency(old, new, r_old, root_of(LEAVES[1 : new + 1]), proof)


def test_frontier_appends_match_the_full_tree() -> None:
    frontier: list[tuple[int, bytes]] = []
    stored: dict[tuple[int, int], bytes] = {}
    for n, leaf in enumerate(LEAVES):
        for level, index, h in push(frontier, leaf, n):
            stored[(level, index)] = h
        assert frontier_root(frontier) == root_of(LEAVES[: n + 1])
    for (level, index), h in stored.items():
        assert h == root_of(LEAVES[index << level : (index + 1) << level])
    assert len(stored) == len(LEAVES) - bin(len(LEAVES)).count("1")  # one node per merge
