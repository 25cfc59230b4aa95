"""The mongo plugin's settings (``SYNTHTS_MONGO_*``), declared through ``register_settings``."""

from __future__ import annotations

from pydantic import Field, SecretStr

from synthts_core.settings import PluginSettings


class MongoSettings(PluginSettings):
    mongo_username: str | None = Field(None, description="MongoDB user (if not in the URI).")
    mongo_password: SecretStr | None = Field(None, description="MongoDB password.")
    mongo_auth_source: str = Field("admin", min_length=1, description="Database the MongoDB "
                                   "user is defined in (an authSource in the URI wins).")
    mongo_timeout_ms: int = Field(3000, description="MongoDB server selection timeout.")
