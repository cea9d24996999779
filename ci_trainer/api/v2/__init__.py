"""The Cognigy.AI REST API v2.0 client (docs/cognigy-v2.md).

from ci_trainer.api.v2 import CognigyV2Client

with CognigyV2Client("https://api-trial.cognigy.ai", api_key, redactor=redactor) as api:
    task = api.train_intents(flow_id, locale_id)
    task = api.read_task(task.id)
"""

from ci_trainer.api.v2.budget import RequestBudget
from ci_trainer.api.v2.client import API_PREFIX, CognigyV2Client, split_base_url, v2_policy
from ci_trainer.api.v2.wire import TASK_STATUSES, Page, Score, Task

__all__ = [
    "API_PREFIX",
    "TASK_STATUSES",
    "CognigyV2Client",
    "Page",
    "RequestBudget",
    "Score",
    "Task",
    "split_base_url",
    "v2_policy",
]
