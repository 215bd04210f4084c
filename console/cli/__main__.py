"""`python -m console.cli …` is `parley …` (tests and benchmarks start processes this way)."""

from console.cli import main

main()
