"""The review queue's poll shows a submission whose transaction took its id first but
committed after the page was drawn: the poll re-reads every row up to the last one
shown (`upto`), it does not ask for rows "after the last id seen"."""

import re

import pytest
from django.urls import reverse

from tests import factories
from tests.commit_order import held_open

pytestmark = pytest.mark.django_db(transaction=True)


def row_ids(response) -> list[str]:
    return re.findall(r'<tr class="row" data-id="([^"]+)"', response.content.decode())


def test_the_queue_poll_shows_a_submission_committed_after_a_newer_one(ui, company, workflows):
    def make():
        return factories.SubmissionFactory(company=company, workflow_version=workflows[0])

    with held_open(make) as made:
        second = make()  # a later id, committed first
        (first,) = made
        assert first.pk < second.pk
        page = ui.get(reverse("review:queue_rows"))
        assert row_ids(page) == [second.pk]  # drawn between the two commits
    poll = ui.get(reverse("review:queue_rows"), {"upto": second.pk})
    assert row_ids(poll) == [first.pk, second.pk]
