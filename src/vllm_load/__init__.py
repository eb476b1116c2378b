"""vllm-load: a bounded load client for OpenAI-compatible servers (vLLM, vllm-sim), built on the `openai`
async client. It sends completions or chat requests, streaming or not, at a constant rate or a fixed
concurrency, bounded in requests and in time, counts every request as ok, failed (with its error class) or
retried, and reports TTFT, latency and inter-token latency percentiles: a JSON report and one summary line,
`lost requests: N of M`.

Python API: `run_load(LoadSpec(...)) -> Report` (or `await arun_load(spec)`); CLI: `vllm-load`.
"""

from vllm_load.report import Report
from vllm_load.runner import arun_load, run_load
from vllm_load.spec import LoadSpec, SpecError

__all__ = ["LoadSpec", "Report", "SpecError", "arun_load", "run_load"]
