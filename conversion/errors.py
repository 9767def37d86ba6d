"""The single error type of the converters (one line naming the problem)."""


class ConversionError(ValueError):
    pass
