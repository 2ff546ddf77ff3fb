"""``emu`` command: parse options, call the library, print. No emulation logic lives here;
each subcommand lives in its own module of this package."""

from __future__ import annotations

import click

import emu

from .bench import bench
from .check import check_cmd
from .demo import demo, experiments
from .golden import golden
from .info import formats, lfsr, quantize
from .train import sweep, train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(emu.__version__, prog_name="emu")
def main() -> None:
    """emu: bit-exact emulation of low-precision accelerator arithmetic."""


for _cmd in (formats, quantize, lfsr, golden, check_cmd, bench, train, experiments, demo, sweep):
    main.add_command(_cmd)

if __name__ == "__main__":
    main()
