"""The converters' error type: a one-line message naming what cannot be converted and why."""


class ConversionError(ValueError):
    pass
