"""Request and response shapes of /api/v1, one module per resource: the single source of the OpenAPI
description and of request validation (see console/api/declare.py)."""
