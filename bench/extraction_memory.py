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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobs.extraction.ranker import FieldModel
from jobs.extraction.receipt import choose_fields
from submissions.memory import REMEMBERED_FIELDS, Remembered, choose, keys_for, shop_keys

TRUTH = {"merchantName": "company", "merchantAddress": "address"}


@dataclass
class _Row:
    value: str
    right: int = 1
    wrong: int = 0


def replay(receipts: list, label: str, model: FieldModel, is_correct: Callable) -> dict:
    store: dict[tuple[str, str], _Row] = {}
    seen: set[str] = set()
    repeat = 0
    plain = dict.fromkeys(REMEMBERED_FIELDS, 0)
    remembered = dict.fromkeys(REMEMBERED_FIELDS, 0)
    recalled = dict.fromkeys(REMEMBERED_FIELDS, 0)
    for receipt in receipts:
        fields = choose_fields(receipt.rules, receipt.options, receipt.lines, model)
        text = "\n".join(line.text for line in receipt.lines)
        read = {name: fields[name].value if name in fields else None for name in REMEMBERED_FIELDS}
        keys = shop_keys(text, read["merchantAddress"], read["merchantName"])  # type: ignore[arg-type]
        rows = [Remembered(k, f, r.value, r.right, r.wrong) for (k, f), r in store.items()]
        shop = "".join(
            c
            for key in TRUTH.values()
            for c in str(receipt.truth.get(key, "")).upper()
            if c.isalnum()
        )
        is_repeat = shop in seen
        seen.add(shop)
        repeat += is_repeat
        for name in REMEMBERED_FIELDS:
            truth = receipt.truth.get(TRUTH[name], "")
            recall = choose(rows, name, keys)
            value = recall.value if recall else read[name]
            right = is_correct(name, value, truth)
            if is_repeat:
                plain[name] += is_correct(name, read[name], truth)
                remembered[name] += right
                recalled[name] += recall is not None
            for key in keys_for(name, keys):  # the reviewer corrects or keeps the value
                row = store.get((key, name))
                if row is None:
                    if not right:
                        store[(key, name)] = _Row(str(truth))
                elif right and row.value == value:
                    row.right += 1
                elif not right:
                    row.value, row.right, row.wrong = str(truth), 1, row.wrong + 1
    n = max(1, repeat)
    print(f"\n== correction memory replay: {label}, {len(receipts)} receipts, {repeat} repeats")
    print(f"{'field':18} {'read':>8} {'+memory':>8} {'target':>8}  recalled")
    for name, target in (("merchantName", 0.97), ("merchantAddress", 0.95)):
        print(
            f"{name:18} {plain[name] / n:8.1%} {remembered[name] / n:8.1%} {f'>= {target:.0%}':>8}"
            f"  {recalled[name]}/{repeat}"
        )
    return {"repeat": repeat, "plain": plain, "remembered": remembered}
