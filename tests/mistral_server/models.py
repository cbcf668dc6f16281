"""The emulated models and what each can do: vision, reasoning, and its /v1/models card.

Why one place: validation (images for vision models only, reasoning_effort where accepted),
the default reply (reasoning or plain) and the model cards must agree on every model.
"""
from __future__ import annotations

DEFAULT_MODELS = (
    "mistral-small-latest",
    "mistral-large-latest",
    "mistral-medium-latest",
    "ministral-8b-latest",
    "codestral-latest",
    "mistral-tiny",
    "open-mistral-nemo",
    "pixtral-large-latest",
    "magistral-medium-latest",
    "magistral-small-latest",
)

# Image input is for vision models only (§4.2); §8 marks the pixtral models as vision models
# and the §1.3 card of Mistral Small reports vision.
VISION_MODELS = frozenset({"mistral-small-latest", "mistral-medium-latest", "pixtral-large-latest"})

# §3.1 says only that unsupported models give a 400 and §5 speaks of "reasoning-capable models,
# or Magistral" without naming them: Small and Medium are taken to be those, with Magistral.
REASONING_EFFORT_MODELS = frozenset({"mistral-small-latest", "mistral-medium-latest"})

# The §3.1 enum of the public spec and the SDK (openapi.yaml lists only "high" and "none").
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def has_vision(model: str) -> bool:
    return model in VISION_MODELS or "pixtral" in model


def is_reasoning_model(model: str) -> bool:
    """Magistral always reasons: its content comes as thinking and text chunks (§8.2)."""
    return "magistral" in model


def accepts_reasoning_effort(model: str) -> bool:
    return model in REASONING_EFFORT_MODELS or is_reasoning_model(model)


def wants_reasoning(body: dict) -> bool:
    """A reasoning reply (§5): Magistral, or any reasoning_effort but "none", which asks for plain text."""
    effort = body.get("reasoning_effort")
    if effort is not None:
        return effort != "none"
    return is_reasoning_model(str(body.get("model", "")))


def model_card(model_id: str, created: int) -> dict:
    """A BaseModelCard in the §1.3 schema form."""
    capabilities = dict.fromkeys(
        ("completion_chat", "function_calling", "completion_fim", "fine_tuning", "vision", "ocr",
         "classification", "moderation", "audio", "audio_transcription"), False)
    capabilities.update(completion_chat=True, function_calling=True, completion_fim="codestral" in model_id,
                        vision=has_vision(model_id))
    return {"id": model_id, "object": "model", "created": created, "owned_by": "mistralai",
            "capabilities": capabilities, "name": model_id, "description": f"Emulated {model_id}",
            "max_context_length": 131072, "aliases": [], "deprecation": None,
            "deprecation_replacement_model": None, "default_model_temperature": 0.3, "type": "base"}
