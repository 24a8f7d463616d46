"""Entry point: `python -m services.summarizer`."""

from __future__ import annotations


def main() -> None:
    # Imported here so the package imports (tests, eval) without the Kafka runtime.
    from services.summarizer.spec import SPEC
    from shared.messaging.app import run_service

    run_service(SPEC)


if __name__ == "__main__":
    main()
