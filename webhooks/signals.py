"""Signals of the webhooks app, so apps that use it learn of outcomes without being
imported by it (the dependency goes one way: submissions uses webhooks)."""

from django.dispatch import Signal

# Sent inside the transaction that records an attempt's outcome (or gives a delivery
# up), with `delivery` (its new state) and `outcome` (None when given up unsent).
delivery_attempted = Signal()
