"""Errors the suite reports to users as one readable paragraph instead of a traceback."""


class RefarchError(Exception):
    """A user-facing error: what went wrong, where, and how to fix it."""


class HelmNotFound(RefarchError):
    """No helm binary could be located."""


class HelmFailed(RefarchError):
    """A helm invocation exited non-zero."""
