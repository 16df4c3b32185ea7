"""A delivery whose transaction took its ids first but committed last is still sent:
the outbox is read by state (`pending` and due), never "after the last id seen"."""

import pytest

from tests.commit_order import held_open
from tests.webhooks.helpers import emit
from webhooks.delivery import claim_due
from webhooks.models import WebhookDelivery
from webhooks.tasks import deliver_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_delivery_committed_after_a_newer_one_is_still_claimed(company, endpoint, monkeypatch):
    def broker_down(delivery_id: str) -> None:
        raise ConnectionError("broker down")  # so only beat's claim can send them

    monkeypatch.setattr(deliver_webhook, "delay", broker_down)
    with held_open(lambda: emit(company)) as made:
        (second,) = emit(company)  # a later id, committed first
        ((first,),) = made
        assert first.pk < second.pk and first.event_id < second.event_id
        assert claim_due() == [second.pk]  # beat's pass between the two commits
    assert claim_due() == [first.pk]  # the next pass: not skipped for its smaller id
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {first.pk, second.pk}
