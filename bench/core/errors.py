"""Errors a user can act on. The CLI prints them as one line and exits with code 2."""


class BenchError(Exception):
    """Bad usage or bad input: unknown name, missing data, bad value. Carries a message saying what to do."""


class NotFittedError(BenchError, RuntimeError):
    """A detector was asked to score before it was fitted."""


class DataError(BenchError):
    """A data folder is missing, laid out wrongly, or holds a file that cannot be read."""
