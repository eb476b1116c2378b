"""The committed rendered examples (examples/rendered/) match what the presets render now."""

from chart_harness.examples import differences, expected


def test_committed_examples_match_the_presets_rendered_now() -> None:
    want = expected()
    assert want, "no presets in values/"
    problems = differences(want)
    assert not problems, "examples/rendered/ is stale, run `make examples`:\n" + "\n".join(problems)
