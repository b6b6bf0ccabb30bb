"""`judge train-features --out PATH`: fit the feature baseline judge (scikit-learn, saved with joblib)."""

from __future__ import annotations

from ..config import ROOT_HELP
from .baselines import DEFAULT_TRAIN, train_features


def add_parser(sub) -> None:
    tf = sub.add_parser("train-features", help="fit the scikit-learn feature baseline judge (joblib)")
    tf.add_argument("--out", required=True, help="joblib path")
    tf.add_argument("--sources", nargs="+", help="training sources (default: every shared training source)")
    tf.add_argument("--root", help=ROOT_HELP)
    tf.set_defaults(func=run)


def run(args) -> int:
    info = train_features(args.sources or DEFAULT_TRAIN, args.out, root=args.root)
    print(
        f"{args.out}: {info['train_rows']} training rows, validation accuracy {100 * info['val_accuracy']:.2f}, "
        f"log loss {info['val_log_loss']:.4f}"
    )
    return 0
