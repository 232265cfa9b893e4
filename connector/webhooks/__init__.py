"""The inbound edge: HubSpot's signed webhook deliveries are verified (`signature`), parsed
(`events`) and enqueued (`receiver`). Nothing here calls HubSpot or scores a contact."""
