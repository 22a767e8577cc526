"""The one exception type for user errors (bad files, keys, values), and the exit code it becomes.

Entry scripts turn it into a message on stderr and exit code 2; internal invariants use asserts.
"""

import sys
from typing import Callable


class UserError(Exception):
    """A problem the user can fix: the message names the file, key or value and what to do."""


EXIT_USER_ERROR = 2


def exit_code(work: Callable[[], object]) -> int:
    """Run an entry script's work: 0 when it succeeds; a UserError is printed as `error: ...`, giving 2."""
    try:
        work()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0
