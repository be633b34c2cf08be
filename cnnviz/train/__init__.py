"""Training: the run object, its curves and results, checkpoints and the course notes' experiments (runs reach
the app as jobs of :mod:`cnnviz.jobs`)."""
from cnnviz.train.checkpoints import (Checkpoint, CheckpointInfo, checkpoint_info, list_checkpoints, load_checkpoint,
                                     save_checkpoint)
from cnnviz.train.config import TrainConfig
from cnnviz.train.device import pick_device
from cnnviz.train.gradients import gradient_norms
from cnnviz.train.metrics import CurveReading, History, RunResult, read_curves
from cnnviz.train.run import Progress, TrainingRun

__all__ = ["Checkpoint", "CheckpointInfo", "CurveReading", "History", "Progress", "RunResult",
           "TrainConfig", "TrainingRun", "checkpoint_info", "gradient_norms", "list_checkpoints", "load_checkpoint",
           "pick_device", "read_curves", "save_checkpoint"]
