"""The ``emu`` command line: thin click commands over the emu library."""
