"""Correction-memory replay for bench/extraction.py --memory.

A data set is replayed in file order as one company's stream of receipts. Each receipt
is read by the field model (fitted on the *other* set), then given what the memory
recalls for its shop keys (submissions/memory.py, the same code the pipeline runs).
A reviewer then corrects every wrong merchant name and address to the ground truth,
which the memory remembers exactly as submissions.services._remember does; a recalled
value the reviewer keeps counts as right once more (as an approval does).

A receipt is "of a shop already seen" when an earlier receipt in the replay has the same
ground-truth company name and address (a chain's branches are different shops): the
reviewer's view of a repeat, independent of whether the memory's keys recognised it.
Receipts of shops not seen before are scored too: there the memory can only do harm
(a chain's other branch, a wrong key), so that figure shows false recalls.

The reviewer approves every receipt after correcting it (one by one, not in bulk), so a
value read right is remembered on approval as production does; the replay is also run
with corrections alone, the issue's minimum, to show what approvals add.

Two numbers are fitted, each on one set and reported on the other, both ways; the
shipped values are the ones fitted on both sets:
- how much of a remembered address must be printed on the new receipt (``min_support``,
  submissions.memory.ADDRESS_SUPPORT): the value with the most correct addresses over
  the whole replay, repeats and first receipts alike; ties go to the stricter value;
- how much of a remembered name must be printed as one run (``name_printed_min``,
  submissions.memory.NAME_PRINTED): fitted the same way with the threshold as a filter
  (a name printed less is not recalled; the most correct names, ties to the stricter),
  then replayed as production uses it, as a cap that sends such a name to review (a
  name corrected to a legal name the receipt does not print is still worth giving).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from jobs.extraction.ranker import FieldModel
from jobs.extraction.receipt import choose_fields
from submissions.memory import (
    REMEMBERED_FIELDS,
    Remembered,
    choose,
    name_printed,
    same_value,
    shop_keys,
)

TRUTH = {"merchantName": "company", "merchantAddress": "address"}
TARGETS = {"merchantName": 0.97, "merchantAddress": 0.95}
SUPPORT_GRID = (0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
NAME_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
REVIEW_AT = 0.8  # the default review threshold: a value under it is reviewed
CONFIDENCE_BUCKETS = (0.0, 0.7, 0.8, 0.9)


@dataclass
class _Row:
    value: str
    right: int = 1
    wrong: int = 0


@dataclass
class _Read:
    """One receipt as the memory sees it: its text, what the model read, the truth."""

    text: str
    read: dict[str, str | None]
    truth: dict[str, str]
    shop: str


@dataclass
class Replay:
    repeat: int = 0
    first: int = 0
    plain: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REMEMBERED_FIELDS, 0))
    remembered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REMEMBERED_FIELDS, 0))
    recalled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REMEMBERED_FIELDS, 0))
    first_plain: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REMEMBERED_FIELDS, 0))
    first_memory: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(REMEMBERED_FIELDS, 0)
    )
    # confidence bucket -> [recalled values right, recalled values]
    buckets: dict[float, list[int]] = field(
        default_factory=lambda: {b: [0, 0] for b in CONFIDENCE_BUCKETS}
    )
    # names recalled past the review gate: [right, recalled]
    names_unreviewed: list[int] = field(default_factory=lambda: [0, 0])

    def correct(self, name: str) -> int:
        return self.remembered[name] + self.first_memory[name]


def read_all(receipts: list, model: FieldModel) -> list[_Read]:
    out = []
    for receipt in receipts:
        fields = choose_fields(receipt.rules, receipt.options, receipt.lines, model)
        truth = {name: str(receipt.truth.get(key, "")) for name, key in TRUTH.items()}
        out.append(
            _Read(
                text="\n".join(line.text for line in receipt.lines),
                read={n: str(fields[n].value) if n in fields else None for n in REMEMBERED_FIELDS},
                truth=truth,
                shop="".join(c for v in truth.values() for c in v.upper() if c.isalnum()),
            )
        )
    return out


@dataclass(frozen=True)
class Policy:
    min_support: float
    name_printed_min: float
    name_as_filter: bool = False  # fitting only: drop, rather than cap, an unprinted name


def replay(
    reads: list[_Read], is_correct: Callable, policy: Policy, approvals: bool = True
) -> Replay:
    store: dict[tuple[str, str], _Row] = {}
    seen: set[str] = set()
    result = Replay()
    for receipt in reads:
        read = receipt.read
        keys = shop_keys(receipt.text, read["merchantAddress"], read["merchantName"])
        rows = [Remembered(k, f, r.value, r.right, r.wrong) for (k, f), r in store.items()]
        is_repeat = receipt.shop in seen
        seen.add(receipt.shop)
        result.repeat += is_repeat
        result.first += not is_repeat
        for name in REMEMBERED_FIELDS:
            truth = receipt.truth[name]
            recall = _recall(rows, name, keys, receipt.text, policy)
            value = recall.value if recall else read[name]
            right = is_correct(name, value, truth)
            read_right = is_correct(name, read[name], truth)
            if is_repeat:
                result.plain[name] += read_right
                result.remembered[name] += right
                result.recalled[name] += recall is not None
            else:
                result.first_plain[name] += read_right
                result.first_memory[name] += right
            if recall is not None:
                bucket = max(b for b in CONFIDENCE_BUCKETS if recall.confidence >= b)
                result.buckets[bucket][0] += right
                result.buckets[bucket][1] += 1
                if name == "merchantName" and recall.confidence >= REVIEW_AT:
                    result.names_unreviewed[0] += right
                    result.names_unreviewed[1] += 1
            _review(store, keys, name, value, truth, right, recall is not None, approvals)
    return result


def _recall(rows: list[Remembered], name: str, keys: list[str], text: str, policy: Policy):
    recall = choose(
        rows,
        name,
        keys,
        text,
        min_support=policy.min_support,
        name_printed_min=policy.name_printed_min,
    )
    if (
        policy.name_as_filter
        and recall is not None
        and name == "merchantName"
        and name_printed(recall.value, text) < policy.name_printed_min
    ):
        return None
    return recall


def _review(
    store: dict[tuple[str, str], _Row],
    keys: list[str],
    name: str,
    value: str | None,
    truth: str,
    right: bool,
    recalled: bool,
    approvals: bool,
) -> None:
    """The reviewer corrects a wrong value to the truth, or approves a right one, and the
    memory learns as submissions.services does: a correction is remembered (_remember);
    an approved value the memory gave is right once more (_confirm_memories); with
    ``approvals``, an approved value read right is remembered like a correction."""
    if not right:
        if truth:
            _teach(store, keys, name, truth)
    elif recalled:
        for key in keys:
            row = store.get((key, name))
            if row is not None and same_value(row.value, value):
                row.right += 1
    elif approvals and value:
        _teach(store, keys, name, value)


def _teach(store: dict[tuple[str, str], _Row], keys: list[str], name: str, value: str) -> None:
    for key in keys:
        row = store.get((key, name))
        if row is None:
            store[(key, name)] = _Row(value)
        elif same_value(row.value, value):
            row.value, row.right = value, row.right + 1
        else:
            row.value, row.right, row.wrong = value, 1, row.wrong + 1


def fit(runs: list[list[_Read]], is_correct: Callable, approvals: bool) -> Policy:
    """The address support, then the name threshold (as a filter), each the value with
    the most correct values of its field over whole replays; ties to the stricter."""
    support = _best(
        runs,
        is_correct,
        approvals,
        "merchantAddress",
        [Policy(s, 0.0) for s in SUPPORT_GRID],  # names play no part in addresses
    ).min_support
    name = _best(
        runs,
        is_correct,
        approvals,
        "merchantName",
        [Policy(support, n, name_as_filter=True) for n in NAME_GRID],
    ).name_printed_min
    return Policy(support, name)


def _best(
    runs: list[list[_Read]], is_correct: Callable, approvals: bool, name: str, grid: list[Policy]
) -> Policy:
    scored = [
        (sum(replay(r, is_correct, p, approvals).correct(name) for r in runs), p) for p in grid
    ]
    best = max(count for count, _ in scored)
    return scored[max(i for i, (count, _) in enumerate(scored) if count == best)][1]


def report(sets: dict[str, list], models: dict[str, FieldModel], is_correct: Callable) -> None:
    """Fit the memory's thresholds on each set, replay the other with them, both ways;
    as production learns (corrections and single approvals) and from corrections alone."""
    reads = {name: read_all(receipts, models[name]) for name, receipts in sets.items()}
    for approvals in (True, False):
        learns = "corrections + approvals" if approvals else "corrections only"
        for name, own in reads.items():
            others = [rs for other, rs in reads.items() if other != name]
            policy = fit(others or [own], is_correct, approvals)
            fitted = "the other set" if others else "this set (in-sample)"
            result = replay(own, is_correct, policy, approvals)
            _print(f"{name}, {learns}", result, policy, fitted)
    pooled = fit(list(reads.values()), is_correct, approvals=True)
    print(
        f"\nfitted on {' + '.join(reads)} (the shipped values): address support "
        f"{pooled.min_support:.2f}, name printed {pooled.name_printed_min:.2f}"
    )


def _print(label: str, result: Replay, policy: Policy, fitted: str) -> None:
    n, first = max(1, result.repeat), max(1, result.first)
    print(
        f"\n== correction memory replay: {label} (field model fitted on the other set), "
        f"{result.repeat + result.first} receipts, {result.repeat} repeats; "
        f"address support >= {policy.min_support:.2f}, name printed >= "
        f"{policy.name_printed_min:.2f} (fitted on {fitted})"
    )
    print(f"{'field':18} {'read':>8} {'+memory':>8} {'target':>8}  recalled  first receipts")
    for name, target in TARGETS.items():
        print(
            f"{name:18} {result.plain[name] / n:8.1%} {result.remembered[name] / n:8.1%}"
            f" {f'>= {target:.0%}':>8}  {result.recalled[name]:>3}/{result.repeat:<4}"
            f"  {result.first_plain[name] / first:.1%} -> {result.first_memory[name] / first:.1%}"
            f" ({result.first})"
        )
    right, recalled = result.names_unreviewed
    print(
        f"  names recalled at >= {REVIEW_AT:.2f} (past the review gate): {right}/{recalled} right"
    )
    print("  recalled values: memory confidence bucket -> observed accuracy")
    for low, (good, count) in result.buckets.items():
        high = next((b for b in CONFIDENCE_BUCKETS if b > low), 1.0)
        shown = f"{good / count:.1%}" if count else "-"
        print(
            f"    [{low:.2f}, {high:.2f}{']' if high == 1.0 else ')'}  {shown:>7}  ({good}/{count})"
        )
