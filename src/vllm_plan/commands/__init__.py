"""One module per `vllm-plan` subcommand, each exporting a `COMMAND` (vllm_plan.command.Command)."""
