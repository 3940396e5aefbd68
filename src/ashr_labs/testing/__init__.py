"""Testing Platform: datasets, runs, builders, ``EvalRunner`` and the comparators."""
