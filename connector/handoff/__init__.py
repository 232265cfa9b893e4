"""Handing MQLs to sales: owner alerts (a HubSpot task, chat messages), delivered from the store's
alert queue by `sender`; `channels` posts to Slack and Teams incoming webhooks."""
