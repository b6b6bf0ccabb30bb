"""Batch judging on Ray Data: stages (engine actor pool, parse), cells (plan, run, finish),
cell_metrics (a finished cell's metrics.json), sweeps (a grid of cells from one YAML) and ensembles."""

from .cells import orders_for, run_cell, run_cells
from .sweep import SweepConfig, load_sweep, run_sweep

__all__ = ["SweepConfig", "load_sweep", "orders_for", "run_cell", "run_cells", "run_sweep"]
