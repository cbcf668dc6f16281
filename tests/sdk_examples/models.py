import os

from mistralai.client import Mistral

with Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"]) as client:
    models = client.models.list()
    for card in models.data[:3]:
        print(card.id, card.object, card.capabilities.completion_chat, card.capabilities.vision)
    small = client.models.retrieve(model_id="mistral-small-latest")
    print(small.id, small.max_context_length > 0)
