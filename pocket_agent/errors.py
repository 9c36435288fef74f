"""The one family of expected errors.

Anything a user can cause (a wrong board name, an unplugged board, a corrupt
file) raises PocketError with a message and, where there is one, a hint of what
to do. The command line turns it into two lines on stderr and an exit code;
anything else is a bug and stays a traceback.
"""


class PocketError(Exception):
    exit_code = 2

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self):
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"
