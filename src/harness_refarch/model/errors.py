"""Errors the suite reports to users as one readable paragraph instead of a traceback."""


class RefarchError(Exception):
    """A user-facing error: what went wrong, where, and how to fix it."""


class HelmNotFound(RefarchError):
    """No helm binary could be located."""


class HelmFailed(RefarchError):
    """A helm invocation failed: why (never cut), how to reproduce it, and what helm printed.

    The reason comes first and is the suite's own words, so a cap on the quoted command or on
    helm's output can only shorten the quote, never hide why the call failed.
    """

    def __init__(self, reason: str, command: str = "", output: str = "", stdout: str = "") -> None:
        self.reason = reason
        self.command = command  # one argument per line, ready to paste
        self.output = output  # helm's own words, already bounded
        self.stdout = stdout  # what helm printed on stdout (helm lint writes its findings there)
        super().__init__(failure_text(reason, command, output))


def failure_text(reason: str, command: str = "", output: str = "") -> str:
    """``reason``, then the command that reproduces it, then helm's output, each indented."""
    parts = [reason]
    if command:
        parts.append("to reproduce:\n" + _indent(command))
    if output:
        parts.append("helm said:\n" + _indent(output))
    return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
