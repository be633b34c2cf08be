"""Training: the run object, its curves and results, checkpoints, the run manager and the course notes' experiments."""
from cnnviz.train.checkpoints import (Checkpoint, CheckpointInfo, checkpoint_info, list_checkpoints, load_checkpoint,
                                     save_checkpoint)
from cnnviz.train.config import TrainConfig
from cnnviz.train.device import pick_device
from cnnviz.train.gradients import gradient_norms
from cnnviz.train.manager import RunManager, manager
from cnnviz.train.metrics import CurveReading, History, RunResult, read_curves
from cnnviz.train.run import Progress, TrainingRun

__all__ = ["Checkpoint", "CheckpointInfo", "CurveReading", "History", "Progress", "RunManager", "RunResult",
           "TrainConfig", "TrainingRun", "checkpoint_info", "gradient_norms", "list_checkpoints", "load_checkpoint",
           "manager", "pick_device", "read_curves", "save_checkpoint"]
