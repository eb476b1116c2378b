"""Test support for publishing the chart: packaging and pushing through hack/package.sh, a local OCI registry
(hack/registry.sh), a throwaway signing key, the chart's released versions in git history, the Artifact Hub
metadata check and the guide's command blocks."""
