"""The names of vector-set and dump layouts and radixes (a module of its own, with no imports, so
the command line's help loads without numpy)."""

SET_LAYOUTS = ("ports", "packed")  # how a set is written: a file per port, or one packed file
LAYOUTS = (*SET_LAYOUTS, "csv")    # how a dump may be read
# how words are written (docs/semantics.md §10.4): $readmemh hex digits or $readmemb binary
# digits, and the file name extension of each (an @address is hexadecimal in both)
RADIXES = ("hex", "bin")
EXTENSIONS = {"hex": ".hex", "bin": ".bin"}
