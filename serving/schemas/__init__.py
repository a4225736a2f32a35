"""Request and response models, split: `requests` (clients send), `responses` (they get)."""
