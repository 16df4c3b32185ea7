"""Task messages that outlived what they name: each ends in a clear state, not an error."""

import logging

import pytest

from jobs.tasks import process_session

pytestmark = pytest.mark.django_db


def test_a_processing_message_for_a_session_that_no_longer_exists_is_dropped_with_a_warning(
    caplog,
):
    """Its company deleted meanwhile (or a message from another database): it raised
    DoesNotExist, an error traceback for every copy of the message and nothing to do."""
    with caplog.at_level(logging.WARNING, logger="jobs.pipeline"):
        result = process_session.apply(args=["ses_gone"])
    assert result.successful()
    assert "ses_gone" in caplog.text and "no longer exists" in caplog.text
