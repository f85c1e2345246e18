"""Training stages: one module per stage, each defining `STAGE = Stage(...)` over a trl trainer."""

from ..registry import Registry
from .base import Stage, StageConfig, TrainContext

REGISTRY: Registry[Stage] = Registry(__name__, "STAGE", "stage")

__all__ = ["REGISTRY", "Stage", "StageConfig", "TrainContext"]
