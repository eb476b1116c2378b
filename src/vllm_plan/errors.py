"""The one error type for bad planner input: the CLI turns it into an argparse-style exit 2."""


class PlanInputError(ValueError):
    """An input file or flag is invalid; the message names the offending key or flag."""
