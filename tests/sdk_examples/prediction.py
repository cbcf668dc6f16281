import os

from mistralai.client import Mistral
from mistralai.client.models import AssistantMessage, Prediction, UserMessage

client = Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"])

code = "class Cheese:\n    name: str\n"
chat_response = client.chat.complete(
    model="codestral-latest",
    messages=[UserMessage(content=f"Add a field 'age' to this class:\n{code}")],
    prediction=Prediction(content=code),
)
print(chat_response.choices[0].message.content)

prefixed = client.chat.complete(
    model="mistral-small-latest",
    messages=[UserMessage(content="Say hello like a pirate."), AssistantMessage(content="Arr", prefix=True)],
)
print(prefixed.choices[0].message.content)
