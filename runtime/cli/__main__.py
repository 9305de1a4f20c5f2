"""`python -m runtime.cli`: the `edge` command."""

from . import main

main()
