"""Allow ``python -m newsletter``."""

from newsletter.cli import run

if __name__ == "__main__":
    run()
