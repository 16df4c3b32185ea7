"""Two workers check the same receipt at the same moment: exactly one match row."""

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from fraud.models import FraudMatch
from submissions.models import Submission
from tests import factories
from tests.fraud.helpers import REPO, make_submission, sroie_available


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "localhost"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


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
        "DATABASE_URL": _database_url(),
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
