"""Errors that come from the user's data or arguments: printed as one message, exit code 2."""


class UserError(Exception):
    """A problem with the user's data or arguments: what is wrong, where, how to fix it.

    >>> str(UserError("sales.csv: column 'amount' is missing"))
    "sales.csv: column 'amount' is missing"
    """


def read_yaml_mapping(path, what: str) -> dict:
    r"""A YAML file that must hold a mapping, read for the user: a missing file, bad YAML or another
    shape is a :class:`UserError` naming the file and ``what`` it is.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "p.yaml"
    >>> _ = p.write_text("lang: en\n")
    >>> read_yaml_mapping(p, "parameters file")
    {'lang': 'en'}
    >>> _ = p.write_text("- a\n")
    >>> read_yaml_mapping(p, "parameters file")
    Traceback (most recent call last):
    ...
    kbanalysis.errors.UserError: parameters file ...p.yaml: expected a mapping (key: value), not a list
    """
    from pathlib import Path

    import yaml

    p = Path(path)
    if not p.exists():
        raise UserError(f"{what} {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8-sig")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UserError(f"{what} {p} is not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {p}: expected a mapping (key: value), not a {type(data).__name__}")
    return data
