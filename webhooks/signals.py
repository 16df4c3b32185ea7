"""Signals of the webhooks app, so apps that use it learn of outcomes without being
imported by it (the dependency goes one way: submissions uses webhooks)."""

from django.dispatch import Signal

# Sent inside the transaction that records an attempt's outcome (or gives a delivery
# up), with `delivery` (its new state), `outcome` and `attempt` (the attempt's number;
# both None when given up unsent). Once per attempt answered while the delivery waits on
# it: an attempt redelivered in flight too (its delivery stays pending for the next one,
# whatever it answered), not a stale answer after another attempt took over.
delivery_attempted = Signal()
