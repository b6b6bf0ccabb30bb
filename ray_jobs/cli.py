"""The `judge` command: each verb's package adds its parser and the function it runs (`add_parser`);
this module builds the parser, runs the verb in a console session and turns user errors into one line.

    judge data list
    judge score --benchmark autoj --predictions preds.jsonl --template autoj --json
    judge sweep configs/sweeps/quickstart-cpu.yaml limit=10

No verb module imports Ray, torch or vLLM when it is imported (`judge --help` and `judge data` stay
light; a test checks `judge score` imports neither): a verb imports them when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import ValidationError

from . import console, core_commands
from .annotate import command as annotate
from .batch import command as batch
from .compare import command as compare
from .engines import command as engines
from .finetune import command as finetune
from .report import command as report
from .serve import command as serve

VERBS = (core_commands, batch, compare, annotate, finetune, serve, report, engines)  # the order of `judge --help`


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="judge", description="judgeray: LLM-as-a-judge at scale, measured exactly.", parents=[_verbose(False)]
    )
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verbs in VERBS:
        verbs.add_parser(sub)
    for verb in sub.choices.values():  # `judge sweep --verbose ...` as well as `judge --verbose sweep ...`
        verb._add_container_actions(_verbose(argparse.SUPPRESS))
    return p


def _verbose(default) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="print every framework log line (Ray, vLLM, DeepSpeed, transformers) here instead of "
        "in the log file under the results folder (also: JUDGE_VERBOSE=1)",
    )
    return parent


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with console.session(verbose=args.verbose):  # restores the terminal before an error is printed
            return args.func(args)
    except BrokenPipeError:  # `judge data show x | head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces stdout until exit
        return 0
    except (ValueError, KeyError, FileNotFoundError) as e:  # user errors: one clear line, no traceback
        print(f"judge: error: {_message(e)}", file=sys.stderr)
        return 2


def _message(e: Exception) -> str:
    if isinstance(e, ValidationError):  # pydantic's reasons, without its multi-line frame
        return "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
    return e.args[0] if isinstance(e, KeyError) and e.args else str(e)


if __name__ == "__main__":
    sys.exit(main())
