"""The model calls: one small interface (base.py), one module per engine, token-id prompts
(prompting.py) and trained encoder judges (encoder.py). Which class serves which `engine:` name is
ray_jobs.spec.CAPABILITIES; prompts and parsing stay in judge_core."""
