"""What operators see inside: Prometheus metrics and structured logs (no Flask here, so every layer can
record; the `/metrics` endpoint and the request hooks live in `console/observability.py`)."""
