"""The training service's REST contract: OpenAPI document, HTTP policy, auth, typed client.

    from ci_trainer.api import TrainingClient, resolve_base_url

    with TrainingClient(resolve_base_url(tenant, base_url), client_id, client_secret,
                        redactor=redactor, stop=stop) as client:
        status = client.training_status(model_id, training_id)

`ci_trainer.api.contract.validate_response(operation_id, status, body)` checks any body
against openapi.yaml (the emulator's tests use it too).
"""

from ci_trainer.api.auth import REQUIRED_SCOPES, ClientCredentials, refresh_margin
from ci_trainer.api.base_url import BaseUrlError, resolve_base_url
from ci_trainer.api.client import EXTENSIONS, PREDICT_MAX_TEXTS, TrainingClient
from ci_trainer.api.http import RetryBudget, RetryMode, RetryPolicy, parse_retry_after
from ci_trainer.loopback import is_loopback

__all__ = [
    "EXTENSIONS",
    "PREDICT_MAX_TEXTS",
    "REQUIRED_SCOPES",
    "BaseUrlError",
    "ClientCredentials",
    "RetryBudget",
    "RetryMode",
    "RetryPolicy",
    "TrainingClient",
    "is_loopback",
    "parse_retry_after",
    "refresh_margin",
    "resolve_base_url",
]
