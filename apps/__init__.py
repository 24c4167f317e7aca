"""Device apps: the SDK in apps/sdk and one package per app."""
