import json
import os

from mistralai.client import Mistral
from mistralai.client.models import JSONSchema, ResponseFormat, UserMessage

client = Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"])

book_schema = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "authors": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "authors"],
    "additionalProperties": False,
}
chat_response = client.chat.complete(
    model="ministral-8b-latest",
    messages=[UserMessage(content="Extract the book: I read To Kill a Mockingbird by Harper Lee.")],
    response_format=ResponseFormat(
        type="json_schema",
        json_schema=JSONSchema(name="book", schema_definition=book_schema, strict=True),
    ),
)
print(json.loads(chat_response.choices[0].message.content))

json_mode = client.chat.complete(
    model="ministral-8b-latest",
    messages=[UserMessage(content="The book as JSON, please.")],
    response_format={"type": "json_object"},
)
print(json.loads(json_mode.choices[0].message.content))
