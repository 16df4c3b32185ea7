"""Hooks for the apps that build on submissions (which never imports them).

Both are sent inside the transition's transaction, so a receiver's changes commit or
roll back with the status change itself.
"""

from django.dispatch import Signal

# Sent with `submission_id` before the submission's row is locked: a receiver locks the
# rows it will change in `submission_changed` now, so every path takes its locks in one
# order (a workflow session before its submission) and two of them never deadlock.
submission_locking = Signal()

# Sent with `submission`, `from_status`, `to_status` after the change and its event.
submission_changed = Signal()
