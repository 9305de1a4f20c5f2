"""The lost-writes checker on hand-made histories (runtime.testing.lost_writes)."""

from __future__ import annotations

from runtime.testing.kv_history import History, Op
from runtime.testing.lost_writes import lost_writes


def write(region: str, hlc: int, prior: tuple[int, str] | None = None, key: str = "k") -> Op:
    prior_hlc, prior_origin = prior if prior else (None, None)
    return Op(
        region, hlc / 1000, "default", key, "set", b"v", hlc, region,
        prior_hlc=prior_hlc, prior_origin=prior_origin,
    )  # fmt: skip


def test_writes_that_saw_each_other_lose_nothing() -> None:
    history = History([write("a", 1), write("b", 2, (1, "a")), write("a", 3, (2, "b"))])
    assert lost_writes(history) == []


def test_a_write_made_without_seeing_another_loses_it() -> None:
    history = History([write("a", 1), write("b", 2)])
    [violation] = lost_writes(history)
    lost, winner = violation.ops
    assert (lost.region, winner.region) == ("a", "b")
    assert "a's acknowledged set('k')" in violation.message
    assert "overwritten by b's set" in violation.message


def test_the_culprit_is_the_write_that_did_not_see_it_not_the_last_one() -> None:
    # c saw b's write, which had not seen a's: a's is lost, to b.
    history = History([write("a", 1), write("b", 2), write("c", 3, (2, "b"))])
    [violation] = lost_writes(history)
    assert [op.region for op in violation.ops] == ["a", "b"]


def test_a_write_replaced_knowingly_is_not_lost_the_replacement_is() -> None:
    # a wrote twice; b, unaware, beat both: a's second write is the one lost.
    history = History([write("a", 1), write("a", 2, (1, "a")), write("b", 3)])
    assert [v.ops[0].hlc for v in lost_writes(history)] == [2]


def test_ties_go_by_region_name_and_keys_are_separate() -> None:
    history = History([write("b", 5), write("a", 5), write("a", 1, key="other")])
    [violation] = lost_writes(history)
    assert violation.ops[0].region == "a"  # same HLC: "b" > "a" wins


def test_a_delete_can_be_lost_too() -> None:
    delete = Op("a", 0.002, "default", "k", "delete", None, 2, "a", prior_hlc=1, prior_origin="a")
    history = History([write("a", 1), delete, write("b", 3, (1, "a"))])
    [violation] = lost_writes(history)
    assert violation.ops[0].kind == "delete"
