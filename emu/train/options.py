"""Training options as plain dicts (what `emu train`, its --config files and sweep files hold):
one TOML reader and one mapping to TrainConfig for all of them."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # a declared dependency on 3.10
    import tomli as tomllib

from .data import Dataset, load_split
from .linear import TrainConfig

TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
DATA_OPTIONS = ("data", "train_size", "test_size")  # the data options (load_split's arguments)


def load_data(opts: dict) -> tuple[Dataset, Dataset | None]:
    """The training and test sets of an option dict's data options."""
    return load_split(*(opts[k] for k in DATA_OPTIONS))


def train_config(opts: dict) -> TrainConfig:
    """The TrainConfig of an option dict (extra keys such as data are ignored)."""
    return TrainConfig(**{k: opts[k] for k in TRAIN_FIELDS})


def read_toml(path: Path | str) -> dict:
    """A TOML file as a dict; errors (ValueError) name the file."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as err:
        raise ValueError(f"{path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: {err}") from None
