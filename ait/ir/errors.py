"""Errors a user can act on. Every message names the op or tensor involved."""


class AitError(Exception):
    """Base class for errors raised by ait."""


class ShapeError(AitError, ValueError):
    """A tensor's shape does not fit the op it is passed to."""


class DimTypeError(ShapeError, TypeError):
    """A dimension that is not an int (2.5, "224", True): an AitError, and the TypeError it
    always was."""
