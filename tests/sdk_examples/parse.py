import os

from mistralai.client import Mistral
from pydantic import BaseModel


class Author(BaseModel):
    name: str


class Book(BaseModel):
    name: str
    authors: list[Author]


client = Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"])

chat_response = client.chat.parse(
    model="ministral-8b-latest",
    messages=[
        {"role": "system", "content": "Extract the books information."},
        {"role": "user", "content": "I recently read 'To Kill a Mockingbird' by Harper Lee."},
    ],
    response_format=Book,
    max_tokens=256,
    temperature=0,
)
print(chat_response.choices[0].message.parsed)
print(repr(chat_response.choices[0].message.parsed.authors[0].name))
