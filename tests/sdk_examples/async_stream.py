import asyncio
import os

from mistralai.client import Mistral
from mistralai.client.models import UserMessage


async def main():
    async with Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=os.environ["MISTRAL_BASE_URL"]) as client:
        response = await client.chat.stream_async(
            model="mistral-small-latest",
            messages=[UserMessage(content="Who is the best French painter? Answer in JSON.")],
        )
        async for chunk in response:
            if chunk.data.choices[0].delta.content is not None:
                print(chunk.data.choices[0].delta.content, end="")
        print()
        whole = await client.chat.complete_async(
            model="mistral-small-latest", messages=[UserMessage(content="And the best sculptor?")])
        print(whole.choices[0].message.content)


asyncio.run(main())
