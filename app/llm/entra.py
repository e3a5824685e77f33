"""Keyless Azure OpenAI: bearer tokens from Microsoft Entra ID for the service's identity.

`DefaultAzureCredential` finds the managed identity on Container Apps and App Service
(`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, `AZURE_CLIENT_ID` for a user-assigned one), workload
identity on AKS, or a developer's `az login`; `AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential`
pins it to the managed identity. azure-identity caches each token and fetches a new one before it
expires; a token never reaches a log line (failures name the exception class only).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.identity.aio import DefaultAzureCredential

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


class TokenUnavailable(Exception):
    """No Entra ID token for the model: the identity endpoint failed or refused."""


@dataclass(frozen=True, slots=True)
class EntraTokens:
    credential: "DefaultAzureCredential"
    provider: Callable[[], Awaitable[str]]

    async def token(self) -> str:
        """The bearer token for Azure OpenAI; TokenUnavailable when none can be had."""
        try:
            return await self.provider()
        except Exception as exc:
            # azure-core's ClientAuthenticationError and CredentialUnavailableError, or a
            # transport error: their messages can quote the endpoint's answer, so the cause stays
            # chained for the class names and nothing else is kept.
            raise TokenUnavailable("no Entra ID token for the model") from exc

    async def aclose(self) -> None:
        await self.credential.close()


def entra_tokens(client_id: str | None) -> EntraTokens:
    """A token source for the process; made in a thread, used on the event loop."""
    from azure.core.pipeline.transport import AsyncioRequestsTransport
    from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

    # The token endpoint is called once an hour or so: requests in a worker thread serve it, and
    # no aiohttp (azure-core's default async transport) is needed.
    identity = {"managed_identity_client_id": client_id} if client_id else {}
    credential = DefaultAzureCredential(transport=AsyncioRequestsTransport(), **identity)
    return EntraTokens(credential, get_bearer_token_provider(credential, COGNITIVE_SERVICES_SCOPE))
