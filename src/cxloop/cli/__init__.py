"""The `cxloop` command line: thin commands over the library."""
