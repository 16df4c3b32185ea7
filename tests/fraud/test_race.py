"""Two workers check the same receipt at the same moment: exactly one match row."""

import os
import subprocess
import sys
import time
from functools import partial

import pytest
from django.db import connection

from fraud.models import FraudMatch
from fraud.services import fraud_run_checks
from submissions.models import Submission
from submissions.services import Actor, submission_cancel
from tests import factories
from tests.commit_order import in_thread, open_transaction
from tests.fraud.helpers import REPO, make_submission, sroie_available
from tests.worker import database_url


@pytest.mark.skipif(not sroie_available(), reason="sroie-dev not present")
@pytest.mark.django_db(transaction=True)
def test_two_processes_same_receipt_one_match():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL advisory locks")
    company = factories.CompanyFactory()
    first, first_file = make_submission(company)
    second, second_file = make_submission(company)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "steve.settings",
    }
    start = time.time() + 6.0  # both processes are set up and waiting by then
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.fraud.race_worker", sub.pk, file.pk, str(start)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for sub, file in ((first, first_file), (second, second_file))
    ]
    results = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), results
    matches = FraudMatch.objects.filter(submission__in=[first, second])
    assert matches.count() == 1
    match = matches.get()
    # Whichever worker took the company's lock second found the other already checked
    # and carries the match itself; the one checked first stays clean.
    assert {match.submission_id, match.target_submission_id} == {first.pk, second.pk}
    assert match.check_type == "visual"
    carrier = Submission.objects.get(pk=match.submission_id)
    target = Submission.objects.get(pk=match.target_submission_id)
    assert (carrier.fraud_status, target.fraud_status) == ("flagged", "clean")


def _waiting_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_twin_cancelled_while_the_checks_run_is_matched_by_nobody():
    """A twin's cancel in flight while the checks of the same receipt run: they read the
    twin still in review, waited for its row to pair it, and hung a duplicate match on a
    submission cancelled by then (docs/fraud.md: a cancelled one is matched by nobody),
    so the receipt went to review blocked where a cancel a moment earlier left it clean."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    company = factories.CompanyFactory()
    twin, _ = make_submission(company, sha256="f" * 64)
    Submission.objects.filter(pk=twin.pk).update(status="review", fraud_status="clean")
    checked, _ = make_submission(company, sha256="f" * 64)

    def check() -> object:
        return fraud_run_checks(submission_id=checked.pk, fields={}, text="")

    cancel = partial(
        submission_cancel, submission_id=twin.pk, actor=Actor.system(), reason="sent twice"
    )
    with open_transaction(cancel):
        thread, outcome = in_thread(check)
        deadline = time.monotonic() + 10
        while not _waiting_for_a_row_lock() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert thread.is_alive() and _waiting_for_a_row_lock()  # the checks wait for the twin
    thread.join(30)

    assert "error" not in outcome, outcome
    assert Submission.objects.get(pk=twin.pk).status == "cancelled"
    assert outcome["answer"].status == "clean"
    assert not FraudMatch.objects.exists()
    assert Submission.objects.get(pk=checked.pk).fraud_status == "clean"
