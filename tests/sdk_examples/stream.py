import os

from mistralai.client import Mistral
from mistralai.client.models import UserMessage

client = Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"])

with client.chat.stream(
    model="mistral-large-latest",
    messages=[UserMessage(content="What is the best French cheese?")],
) as stream_response:
    for chunk in stream_response:
        if chunk.data.choices[0].delta.content is not None:
            print(chunk.data.choices[0].delta.content, end="")
print()
