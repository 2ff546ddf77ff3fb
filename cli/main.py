"""``emu`` command: parse options, call the library, print. No emulation logic lives here;
each subcommand lives in its own module of this package."""

from __future__ import annotations

import os
import sys

import click

import emu

from .bench import bench
from .check import check_cmd
from .demo import demo, experiments
from .golden import golden
from .info import formats, lfsr, quantize
from .train import sweep, train


class EmuGroup(click.Group):
    """The command group; an I/O error that escapes a command (stdout on a full disk, say) is one
    line on stderr and exit status 1, not a traceback."""

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, **kwargs)
        except OSError as err:
            with open(os.devnull, "w") as null:  # nothing more to stdout, not even at exit
                os.dup2(null.fileno(), sys.stdout.fileno())
            sys.stderr.write(f"emu: error: {err.strerror or err}"
                             + (f": {err.filename}" if err.filename else "") + "\n")
            sys.exit(1)


@click.group(cls=EmuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(emu.__version__, prog_name="emu")
def main() -> None:
    """emu: bit-exact emulation of low-precision accelerator arithmetic."""


for _cmd in (formats, quantize, lfsr, golden, check_cmd, bench, train, experiments, demo, sweep):
    main.add_command(_cmd)

if __name__ == "__main__":
    main()
