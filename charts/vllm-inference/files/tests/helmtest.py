"""What every `helm test` pod of the chart shares: the Service URL, the served model name and `req()`.

The chart runs each test as `python3 -c` with this file's text followed by the test's own file, minus the
test's `from helmtest import ...` line (templates/_tests.tpl); the import is there so that each test file is
a module ruff can check on its own. Standard library only: the test image needs nothing but python3.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ["BASE_URL"]
MODEL = os.environ["MODEL"]
# 502/503 while the Service has no ready endpoint yet (a pod still loading, a gateway warming up): retry.
RETRY_SECONDS = 120


def req(path, body=None):
    """POST `body` as JSON (GET without one) to the Service, with the API key when the release has one."""
    headers = {"Content-Type": "application/json"}
    if os.environ.get("VLLM_API_KEY"):
        headers["Authorization"] = "Bearer " + os.environ["VLLM_API_KEY"]
    data = json.dumps(body).encode() if body is not None else None
    deadline = time.time() + RETRY_SECONDS
    while True:
        try:
            request = urllib.request.Request(BASE + path, data=data, headers=headers)
            return urllib.request.urlopen(request, timeout=RETRY_SECONDS)
        except urllib.error.HTTPError as err:
            if err.code not in (502, 503) or time.time() > deadline:
                sys.exit(f"{path}: HTTP {err.code}: {err.read()[:300]!r}")
        except OSError as err:
            if time.time() > deadline:
                sys.exit(f"{path}: {err}")
        time.sleep(3)
