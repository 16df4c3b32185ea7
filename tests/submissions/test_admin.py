"""The admin's submission pages stay cheap at scale: a bounded number of queries."""

import pytest
from django.urls import reverse

from tests.factories import many_submissions

pytestmark = pytest.mark.django_db


def test_the_submission_list_takes_a_bounded_number_of_queries_at_1000_submissions(
    operator, django_assert_max_num_queries
):
    many_submissions(1000)
    # Each shown workflow (a row's, and a choice of the workflow filter) is named with its
    # company: read once per row or choice, that was over 100 queries.
    with django_assert_max_num_queries(20):
        page = operator.get(reverse("admin:submissions_submission_changelist"))
    assert page.status_code == 200


def test_a_submission_page_takes_a_bounded_number_of_queries_at_scale(
    operator, django_assert_max_num_queries
):
    submissions = many_submissions(1000)
    with django_assert_max_num_queries(20):
        page = operator.get(
            reverse("admin:submissions_submission_change", args=[submissions[500].pk])
        )
    assert page.status_code == 200
