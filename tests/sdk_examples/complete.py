import os

from mistralai.client import Mistral
from mistralai.client.models import SystemMessage, UserMessage

client = Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"])

chat_response = client.chat.complete(
    model="mistral-large-latest",
    messages=[
        SystemMessage(content="You are a cheese expert."),
        UserMessage(content="What is the best French cheese?"),
    ],
    temperature=0.2,
    top_p=0.9,
    max_tokens=200,
    random_seed=42,
    stop=["THE END"],
    safe_prompt=True,
)

print(chat_response.choices[0].message.content)
print(chat_response.choices[0].finish_reason, chat_response.usage.prompt_tokens > 0)
print(chat_response.choices[0].message.role, chat_response.choices[0].message.prefix)
