"""The names of vector-set and dump layouts (a module of its own, with no imports, so the command
line's help loads without numpy)."""

SET_LAYOUTS = ("ports", "packed")  # how a set is written: a file per port, or one packed file
LAYOUTS = (*SET_LAYOUTS, "csv")    # how a dump may be read
