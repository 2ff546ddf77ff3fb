"""``python -m emu``: the ``emu`` command."""

from .cli.main import main

main(prog_name="emu")
