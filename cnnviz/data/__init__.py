"""Datasets (offline defaults and torchvision's) and the course notes' preprocessing steps."""
from cnnviz.data.datasets import DATASETS, SPLITS, Dataset, DatasetInfo, list_datasets, load_dataset
from cnnviz.data.preprocess import Step, preprocessing_steps

__all__ = ["DATASETS", "SPLITS", "Dataset", "DatasetInfo", "Step", "list_datasets", "load_dataset",
           "preprocessing_steps"]
