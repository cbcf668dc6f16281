import os

from mistralai.client import Mistral
from mistralai.client.models import UserMessage
from mistralai.client.utils import BackoffStrategy, RetryConfig

client = Mistral(
    api_key=os.environ["MISTRAL_API_KEY"],
    server_url=os.environ["MISTRAL_BASE_URL"],
    timeout_ms=30_000,
    retry_config=RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 10_000), False),
)
response = client.chat.complete(
    model="mistral-small-latest",
    messages=[UserMessage(content="Bonjour !")],
    timeout_ms=5_000,
    http_headers={"X-Request-Origin": "notebook"},
    retries=RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 10_000), False),
)
print(response.choices[0].message.content)
print(response.model_dump()["choices"][0]["message"]["content"])
