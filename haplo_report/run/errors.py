"""What a run raises: errors whose messages are for the user."""

from __future__ import annotations

class RunFailed(Exception):
    """The run could not complete; the message is for the user and the previous report stands."""


class NotebookFailed(Exception):
    """A notebook broke the output contract; the message names the notebook and the problem."""
