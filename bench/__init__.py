"""chirp's benchmarks: ``python -m bench SCENARIO``. They print figures and ratios against
ceilings measured in the same run; they are not tests."""
