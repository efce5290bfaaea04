"""Exceptions raised by the crm_funnel loaders.

One base class, split the way dlt splits it: a ``TerminalError`` means the user must fix
something before trying again (bad path, corrupt gzip, unknown target, bad credentials,
bad profile); a ``TransientError`` means the same command may succeed if retried later
(database unreachable, DuckDB file locked by another process).

The message of every error is a single line that says what happened and what to do; the
CLI prints it as ``funnel-load: error: <message>``.
"""


class FunnelError(Exception):
    """Base class of every error the loaders report to the user."""


class TerminalError(FunnelError):
    """The user must fix something (input, profile, credentials) before retrying."""


class TransientError(FunnelError):
    """Retrying later may help (database unreachable, file locked by another process)."""
