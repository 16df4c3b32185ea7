"""Signals of the webhooks app, so apps that use it learn of outcomes without being
imported by it (the dependency goes one way: submissions uses webhooks)."""

from django.dispatch import Signal

# Sent inside the transaction that records an attempt's outcome (or gives a delivery
# up), with `delivery` (its new state), `outcome` and `attempt` (the attempt's number;
# both None when given up unsent). Once per attempt whose answer is taken: the current
# attempt's, one redelivered while in flight (its delivery stays pending for the next
# attempt, whatever it answered) and a late 2xx (the receiver has the event); not a late
# failure after another attempt took over or the delivery ended.
delivery_attempted = Signal()

# Sent inside the transaction that changed when a downstream-sync target's posts are
# next attempted with no attempt answered: its Retry-After hold set or ended early (by a
# 2xx or a redelivery), posts of it redelivered, or a post pushed back behind the
# failing target's attempt in flight. With `company_id` and `url` (the target) and
# `delivery_ids`: the posts redelivered or pushed back, or None when the hold changed,
# which moves every pending post of the target.
sync_schedule_changed = Signal()
