"""`make generate`: every chart file derived from the catalogue (src/vllm_model/catalog/) and values.yaml."""
