"""The one exception type for user errors (bad files, keys, values).

Entry scripts turn it into a message on stderr and exit code 2; internal invariants use asserts.
"""


class UserError(Exception):
    """A problem the user can fix: the message names the file, key or value and what to do."""


EXIT_USER_ERROR = 2
