from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from hwbench.errors import HwbenchError, InvalidArchitectureError
from hwbench.spaces import get_space, list_spaces
from hwbench.spaces.nb201 import (
    OPS,
    SIZE,
    SPACE,
    from_index,
    is_connected,
    parse,
    to_index,
    to_str,
    unique_str,
)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_enumeration_is_complete_and_bijective() -> None:
    strings = SPACE.all_strings
    assert len(strings) == SIZE == 15625
    assert len(set(strings)) == SIZE
    for i in (0, 1, 4, 5, 777, 15624):
        assert SPACE.index(strings[i]) == i
        assert to_index(from_index(i)) == i
    assert strings[0] == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert strings[-1] == "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|"
    # index order: first edge most significant, ops in NAS-Bench-201 order
    assert strings[1] == "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert strings[5**5] == "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert np.array_equal(SPACE.op_matrix[1234], np.array(from_index(1234)))


def test_roundtrip_string() -> None:
    a = parse(BEST)
    assert a == (3, 3, 3, 1, 3, 3)
    assert to_str(a) == BEST
    assert SPACE.arch_str(SPACE.index(BEST)) == BEST


@pytest.mark.parametrize(
    "bad, why",
    [
        ("", "empty"),
        ("junk", "3 nodes"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "3 nodes"),
        ("|conv_5x5~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "unknown op"),
        ("|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "node 0"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "2 input edge"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~9|", "node 2"),
        ("nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "enclosed"),
        ("|nor_conv_3x3|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "op~source"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|x", "enclosed"),
    ],
)
def test_malformed_strings_raise_clear_errors(bad: str, why: str) -> None:
    with pytest.raises(InvalidArchitectureError) as info:
        parse(bad)
    msg = str(info.value)
    assert why in msg
    assert "Expected NAS-Bench-201 format" in msg
    assert isinstance(info.value, HwbenchError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [-1, 15625, 1.5, True, None, (0, 1), (0, 1, 2, 3, 4, 5)])
def test_bad_indices_and_types(bad: object) -> None:
    with pytest.raises(InvalidArchitectureError):
        SPACE.parse(bad)  # type: ignore[arg-type]


def test_registry() -> None:
    assert list_spaces() == ["nb201"]
    assert len(get_space("nb201")) == SIZE
    with pytest.raises(HwbenchError, match="closest: nb201"):
        get_space("nb210")


def test_canonical_form_has_6466_classes() -> None:
    assert len(SPACE.representatives) == 6466
    ids = SPACE.canonical_ids
    assert np.all(ids <= np.arange(SIZE))
    assert np.array_equal(np.unique(ids), SPACE.representatives)
    # skip-connect and sum order: permuting node-3's equivalent inputs keeps the class
    a = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
    b = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~0|+|none~0|none~1|skip_connect~2|".replace(
        "skip_connect~0|nor_conv_1x1~0", "nor_conv_1x1~0|skip_connect~1")
    assert SPACE.canonical(a) == SPACE.canonical(b)
    # a conv that only feeds a zero edge does not change the class
    c = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    d = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert SPACE.canonical(c) == SPACE.canonical(d)


@pytest.mark.reference
def test_canonical_classes_match_nats_bench_class_by_class(reference_dir) -> None:  # type: ignore[no-untyped-def]
    path = reference_dir / "nats_tss" / "nats_tss_test_acc_200ep.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == SIZE
    ours: dict[str, set[str]] = {}
    theirs: dict[str, set[str]] = {}
    for r in rows:
        s = r["ArchitectureString"]
        assert to_str(parse(s)) == s
        ours.setdefault(SPACE.canonical(s), set()).add(s)
        theirs.setdefault(r["UniqueString"], set()).add(s)
    assert len(theirs) == 6466
    assert sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))


def test_connectivity() -> None:
    assert not is_connected(parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"))
    assert not is_connected(parse("|none~0|+|none~0|none~1|+|none~0|skip_connect~1|skip_connect~2|"))
    assert is_connected(parse("|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|"))
    n_conn = sum(is_connected(from_index(i)) for i in range(SIZE))
    # output reachable from input: complement counted by brute force over edge masks
    masks = SPACE.op_matrix != 0
    reach1 = masks[:, 0]
    reach2 = masks[:, 1] | (masks[:, 2] & reach1)
    reach3 = masks[:, 3] | (masks[:, 4] & reach1) | (masks[:, 5] & reach2)
    assert n_conn == int(reach3.sum())
    # a disconnected cell's canonical form never mentions the input node "0"; NAS-Bench-201's form
    # does not merge all of them into one class (e.g. "(#+#)@nor_conv_3x3"), and neither do we
    disc = np.flatnonzero(~reach3)
    forms = {re.sub(r"@\w+", "", SPACE.canonical(int(i))) for i in disc}
    assert all("0" not in f for f in forms) and len(forms) > 1


def test_sampling_mutation_neighbours_are_seeded_and_valid() -> None:
    rng1, rng2 = np.random.default_rng(7), np.random.default_rng(7)
    s1, s2 = SPACE.sample(rng1, 20), SPACE.sample(rng2, 20)
    assert s1 == s2 and all(SPACE.index(s) >= 0 for s in s1)
    assert len(set(SPACE.sample(np.random.default_rng(1), 200))) > 190
    nb = SPACE.neighbours(BEST)
    assert len(nb) == 24 and len(set(nb)) == 24 and BEST not in nb
    base = np.array(parse(BEST))
    assert all(int((np.array(parse(n)) != base).sum()) == 1 for n in nb)
    rng = np.random.default_rng(3)
    muts = [SPACE.mutate(BEST, rng) for _ in range(300)]
    assert set(muts) <= set(nb) and len(set(muts)) == 24


def test_encodings() -> None:
    oh = SPACE.encode([BEST, 0])
    assert oh.shape == (2, 30) and oh.sum(axis=1).tolist() == [6, 6]
    assert oh[0].reshape(6, 5).argmax(axis=1).tolist() == list(parse(BEST))
    assert SPACE.encode(BEST, "ops").tolist() == list(parse(BEST))
    adj = SPACE.encode([BEST], "adjacency")
    assert adj.shape == (1, 64 + 8 * 7)
    a, f = SPACE.encode_graph(BEST)
    # input feeds the edges out of node 0; output reads the three edges into node 3
    assert a[0, 1:7].tolist() == [1, 1, 0, 1, 0, 0]
    assert a[:, 7].tolist() == [0, 0, 0, 0, 1, 1, 1, 0]
    assert f[1:7, 2:].argmax(axis=1).tolist() == list(parse(BEST))
    with pytest.raises(InvalidArchitectureError, match="unknown encoding"):
        SPACE.encode(BEST, "bogus")


def test_unique_str_examples_from_nas_bench_201() -> None:
    assert unique_str(parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")) == (
        "((0)@nor_conv_3x3)@avg_pool_3x3+(0)@nor_conv_3x3+((0)@nor_conv_3x3)@nor_conv_3x3+0"
    )
    assert OPS[0] == "none"
