"""Test harness for the vllm-inference chart: rendering, schema validation, invariants."""
