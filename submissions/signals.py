"""Hooks for the apps that build on submissions (which never imports them).

The first two are sent inside the transition's transaction, so a receiver's changes
commit or roll back with the status change itself; `submissions_overdue` before one.
"""

from django.dispatch import Signal

# Sent with `submission_id` before the submission's row is locked: a receiver locks the
# rows it will change in `submission_changed` now, so every path takes its locks in one
# order (a workflow session before its submission) and two of them never deadlock.
submission_locking = Signal()

# Sent with `submission`, `from_status`, `to_status` after the change and its event.
submission_changed = Signal()

# Sent before submissions are read or cancelled, outside the change's transaction: with
# `submission_id`, or with `company_id` and `environment` for all of theirs, or with
# neither for every company's; `limit` bounds how many. A receiver
# makes now, each in a transaction of its own, the changes time has decided and a sweep
# has not made yet (jobs: a workflow session past its TTL expires, cancelling its
# submission), so the read or the cancel meets what the sweep would have left, and a
# refused cancel does not roll the expiry back.
submissions_overdue = Signal()
