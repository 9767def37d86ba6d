"""Architecture presets: fill only the args the user (or a checkpoint) did not set, like the original archs."""


def set_defaults(args, **defaults) -> None:
    for name, value in defaults.items():
        setattr(args, name, getattr(args, name, value))
