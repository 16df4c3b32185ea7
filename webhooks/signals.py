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
