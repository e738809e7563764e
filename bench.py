"""Entry point: `python bench.py --help`."""

from harness.cli.main import main

if __name__ == "__main__":
    main()
