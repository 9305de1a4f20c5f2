"""The SQL history's state numbering and checkers, on crafted histories."""

from __future__ import annotations

from runtime.testing.sql_history import SqlHistory, SqlOp, sql_monotonic_reads, sql_read_your_writes


def op(region: str, state: int | None, made: int | None = None, **kw: object) -> SqlOp:
    return SqlOp(region, 0.0, "default", "SELECT 1", state, made, **kw)  # type: ignore[arg-type]


def test_states_are_numbered_in_the_order_the_primary_takes_them() -> None:
    history = SqlHistory()
    assert [history.observe("db", d) for d in ("a", "a", "b", "c", "c")] == [0, 0, 1, 2, 2]
    assert history.states("db") == ["a", "b", "c"]
    assert history.observe("other", "a") == 0  # each database counts on its own


def test_a_state_seen_twice_resolves_to_the_one_a_region_can_have_reached() -> None:
    history = SqlHistory()
    for digest in ("empty", "one row", "empty", "two rows"):  # an insert, then its delete
        history.observe("db", digest)
    assert history.resolve("db", "empty", floor=-1) == 0
    assert history.resolve("db", "empty", floor=1) == 2  # not back in time if it need not be
    assert history.resolve("db", "empty", floor=3) == 2  # the latest: a real step back
    assert history.resolve("db", "nowhere", floor=0) is None


def test_read_your_writes_holds_from_the_write_itself_on() -> None:
    history = SqlHistory()
    for item in (op("eu", 0), op("eu", 1, made=1), op("eu", 1), op("ap", 0), op("eu", None)):
        history.append(item)
    assert sql_read_your_writes(history) == []
    history.append(op("eu", 0))
    [late] = sql_read_your_writes(history)
    assert late.ops[1].index == 5 and "older than the region's own write" in late.message
    history.append(op("ap", 1, made=2))  # committed state 2 but its copy holds 1
    [_, own] = sql_read_your_writes(history)
    assert own.ops[0] is own.ops[1] and "older than its own write" in own.message


def test_monotonic_reads_and_exact_states() -> None:
    history = SqlHistory()
    for item in (op("ap", 0), op("ap", 2), op("eu", 1), op("ap", None), op("ap", 2)):
        history.append(item)
    assert sql_monotonic_reads(history) == []
    history.append(op("ap", 1))
    history.append(op("eu", None, unknown=True))
    back, unknown = sql_monotonic_reads(history)
    assert back.check == "monotonic-reads" and [o.index for o in back.ops] == [4, 5]
    assert unknown.check == "exact-state" and "never had" in unknown.message
