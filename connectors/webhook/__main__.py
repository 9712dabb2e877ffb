"""`python -m connectors.webhook > connectors/webhook/schema.json` regenerates the
published JSON Schema of the intake body from the pydantic model."""

import json

from connectors.webhook.schema import json_schema

print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
