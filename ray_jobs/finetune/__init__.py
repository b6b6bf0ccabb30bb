"""Fine-tuning judges with Ray Train: recipe (driver and worker, top to bottom), config, tokenize
(training rows), model (load, PEFT, save), backend (DDP or ZeRO), checkpoint, eval."""

from .config import FinetuneConfig, load_config

__all__ = ["FinetuneConfig", "load_config"]
