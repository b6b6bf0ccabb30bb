"""Everything of judgeray that touches Ray, torch, vLLM, peft or DeepSpeed; imports point down only:

    cli                                  the `judge` command
    batch, annotate, compare, finetune, serve, report    one package per verb (report: the pages)
    engines, spec, store, config         the shared layer: model calls, judge specs, results, configs
    judge_core                           pure logic (data, prompts, parsing, verdicts, metrics)

From Python, a sweep is a dict (a sweep YAML's content):

    import ray_jobs
    status = ray_jobs.sweep({"name": "try", "benchmarks": ["llmbar/natural"],
                             "judges": [{"name": "longer", "engine": "baseline", "model": "longer"}]})
"""


def sweep(config: dict, log=print) -> dict:
    """Run a sweep config given as a dict: {cell: its store.CellStatus (.ok, .state, .reason)}; results
    and the report under <output_dir>/<name> (Ray starts here unless RAY_ADDRESS or ray_init names one to join)."""
    from .batch import SweepConfig, run_sweep  # every `import ray_jobs.<module>` (Ray workers too) runs this file

    return run_sweep(SweepConfig.model_validate(config), log)
