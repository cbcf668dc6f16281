import json
import os

from mistralai.client import Mistral
from mistralai.client.models import Function, Tool, ToolMessage, UserMessage

client = Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"])
model = "mistral-large-latest"


def retrieve_payment_status(transaction_id: str) -> str:
    return json.dumps({"status": {"T1001": "Paid"}.get(transaction_id, "Unknown")})


tools = [
    Tool(
        function=Function(
            name="retrieve_payment_status",
            description="Get payment status of a transaction",
            parameters={
                "type": "object",
                "properties": {"transaction_id": {"type": "string", "description": "The transaction id."}},
                "required": ["transaction_id"],
            },
        )
    )
]
messages = [UserMessage(content="What's the status of my transaction T1001?")]

response = client.chat.complete(model=model, messages=messages, tools=tools, tool_choice="any",
                                parallel_tool_calls=False)
messages.append(response.choices[0].message)
tool_call = response.choices[0].message.tool_calls[0]
print(tool_call.type, tool_call.function.name, tool_call.function.arguments)

result = retrieve_payment_status(**json.loads(tool_call.function.arguments))
messages.append(ToolMessage(name=tool_call.function.name, content=result, tool_call_id=tool_call.id))

response = client.chat.complete(model=model, messages=messages, tools=tools)
print(response.choices[0].message.content)
