"""`python -m services.emoji`: run the emoji service against Kafka."""

from __future__ import annotations


def main() -> None:
    """Run the service until SIGTERM."""
    # Imported here so the package imports (tests, eval) without the Kafka runtime.
    from services.emoji.spec import SPEC
    from shared.messaging.app import run_service

    run_service(SPEC)


if __name__ == "__main__":
    main()
