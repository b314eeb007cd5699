"""Errors that come from the user's data or arguments: printed as one message, exit code 2."""


class UserError(Exception):
    """A problem with the user's data or arguments: what is wrong, where, how to fix it.

    >>> str(UserError("sales.csv: column 'amount' is missing"))
    "sales.csv: column 'amount' is missing"
    """
