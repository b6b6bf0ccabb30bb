"""Everything of judgeray that touches Ray, torch, vLLM, peft or DeepSpeed; imports point down only:

    cli                                  the `judge` command
    batch, compare, finetune, serve, report    one package per verb (report: the pages)
    engines, spec, store, config         the shared layer: model calls, judge specs, results, configs
    judge_core                           pure logic (data, prompts, parsing, verdicts, metrics)
"""
