"""The per-process visual index stays within FRAUD_INDEX_MEMORY_MB: least recently used
companies are evicted, and an evicted company is reloaded (correctly) on its next search."""

import numpy as np
import pytest

from fraud import visual
from fraud.models import PageFingerprint
from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db

VARIANT = PageFingerprint.Variant.PRINT_V2


def store_pages(count: int, rng: np.random.Generator) -> tuple[str, bytes, int]:
    """`count` random page hashes of a new company; returns it, one hash and that row's id."""
    submission = SubmissionFactory()
    hashes = rng.integers(0, 256, size=(count, 32), dtype=np.uint8)
    rows = PageFingerprint.objects.bulk_create(
        PageFingerprint(
            company_id=submission.company_id,
            submission=submission,
            file_id="f",
            page=n,
            variant=VARIANT,
            pdq=hashes[n].tobytes(),
        )
        for n in range(count)
    )
    return submission.company_id, hashes[-1].tobytes(), rows[-1].pk


def test_least_recently_used_company_is_evicted_under_the_budget_and_reloaded(settings):
    settings.FRAUD_INDEX_MEMORY_MB = 1
    visual.reset()
    rng = np.random.default_rng(7)
    big, big_hash, big_row = store_pages(20_000, rng)  # ~1.6 MiB of index: over 1 MiB
    small, small_hash, small_row = store_pages(10, rng)

    assert visual.search(big, "production", VARIANT, big_hash, 0) == [(big_row, 0)]
    assert visual.cached_companies() == {big}  # over budget alone, but in use: kept
    assert visual.search(small, "production", VARIANT, small_hash, 0) == [(small_row, 0)]
    assert visual.cached_companies() == {small}  # the least recently used went
    assert visual.memory_bytes() <= settings.FRAUD_INDEX_MEMORY_MB * 2**20

    assert visual.search(big, "production", VARIANT, big_hash, 0) == [
        (big_row, 0)
    ]  # reloaded on demand
    assert visual.cached_companies() == {big}


def test_companies_within_the_budget_stay_cached(settings):
    settings.FRAUD_INDEX_MEMORY_MB = 64
    visual.reset()
    rng = np.random.default_rng(8)
    first, first_hash, _ = store_pages(10, rng)
    second, second_hash, _ = store_pages(10, rng)
    visual.search(first, "production", VARIANT, first_hash, 0)
    visual.search(second, "production", VARIANT, second_hash, 0)
    assert visual.cached_companies() == {first, second}
