"""Beat sweeps handle their rows one by one: one row that fails never stops the rest."""

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)

ERRORS = "errors"
Row = TypeVar("Row")


def sweep_rows(
    name: str,
    rows: Iterable[Row],
    handle: Callable[[Row], object],
    *,
    failed: Callable[[Row], object] | None = None,
) -> Counter[str]:
    """Call `handle` on each row, counting its outcomes (str of what it returns).

    A row that raises is logged with its traceback and counted under "errors"; its own
    savepoint rolls back what it half did, and the sweep goes on with the next row.
    `failed` then notes the failure in the row, for a sweep that lists such rows last: a
    batch is a fixed number of rows, and a full one that raised every run (a corrupt
    payload, an object gone) was all it ever listed, the rows beyond it never reached.
    """
    counts: Counter[str] = Counter()
    for row in rows:
        try:
            with transaction.atomic():
                outcome = handle(row)
        except Exception:
            logger.exception("%s: row %s failed; the sweep goes on", name, row)
            counts[ERRORS] += 1
            _note_failure(name, row, failed)
            continue
        counts[str(outcome)] += 1
    if counts[ERRORS]:
        logger.warning("%s: %d row(s) failed of %d", name, counts[ERRORS], counts.total())
    return counts


def _note_failure(name: str, row: Row, failed: Callable[[Row], object] | None) -> None:
    if failed is None:
        return
    try:
        with transaction.atomic():
            failed(row)
    except Exception:  # the sweep goes on: the row is listed again in its old place
        logger.exception("%s: row %s failed; its failure was not noted", name, row)
