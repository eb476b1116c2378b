"""/v1/embeddings returns one vector per input, all of the same dimension."""

import json
import os
import sys

from helmtest import MODEL, req

out = json.load(req("/v1/embeddings", {"model": MODEL, "input": [os.environ["PROMPT"], "second input"]}))
vectors = [d["embedding"] for d in out["data"]]
if len(vectors) != 2 or not all(vectors) or len(vectors[0]) != len(vectors[1]):
    sys.exit(f"/v1/embeddings returned {len(vectors)} vectors of sizes {[len(x) for x in vectors]}")
print(f"/v1/embeddings: 2 vectors of dimension {len(vectors[0])}")
