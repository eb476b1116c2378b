"""/v1/models lists the served model."""

import json
import sys

from helmtest import MODEL, req

ids = [m["id"] for m in json.load(req("/v1/models"))["data"]]
if MODEL not in ids:
    sys.exit(f"/v1/models lists {ids}, not {MODEL}")
print(f"/v1/models serves {MODEL}")
