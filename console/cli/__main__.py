"""`python -m console.cli`: the `parley` command without an installed entry point (tests, containers)."""

from console.cli import main

main()
