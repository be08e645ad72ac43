"""Benchmarks: `vlm-robot bench pipeline | encoder | voice | sim` and the measurement scripts behind README numbers.

    .venv/bin/python -m vlm_robot.benchmarks.open_talk_eval
    .venv/bin/python -m vlm_robot.benchmarks.reid_separation
"""
